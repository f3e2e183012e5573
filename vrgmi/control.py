"""How the outside (the companion, the desktop keys, the headset menu) steers a running engine.

Commands are put on a :class:`CommandQueue` from any thread and applied by the session on the
frame thread at the next frame boundary (an emergency stop therefore takes effect within one
frame). The session publishes an :class:`EngineStatus` snapshot on a :class:`StatusBoard`
every frame, plus the patient's view as an encoded image a few times a second; readers on
other threads take copies and never touch the engine. No Panda3D here.
"""
from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from vrgmi.errors import VrgmiError

#: command name -> the argument names it takes
COMMANDS: dict[str, tuple[str, ...]] = {
    "start": ("scene", "patient", "override", "follow_up"),  # a session (for a patient id);
                                    # override: past the program's sessions per day;
                                    # follow_up: a visit's time point (docs/outcomes.md)
    "pause": (),
    "resume": (),
    "stop": (),                     # end the session calmly (post questionnaires still run)
    "emergency_stop": (),           # fade to the calm view now; nothing else runs
    "patient_stop": ("source",),    # the patient stops: calm view, a skippable post NRS
    "pain_check": (),               # ask the pain NRS now; the block waits for the answer
    "switch_scene": ("scene",),
    "set_param": ("name", "value"),  # a difficulty value of the running scene
    "set_patient": ("side", "level", "height_m"),
    "skin_tone": ("tone",),
    "limb_shape": ("build", "muscle", "sex", "age_years", "hand_size", "foot_size"),  # any
    "recenter": ("source",),        # "forward" is where the patient faces now
    "calibrate": (),                # T-pose-free seated calibration of the torso frame
    "gate_override": ("phase", "advance", "reason"),
    "step_back": ("phase", "reason"),  # move the patient back one phase (recorded)
    "shape_phantom": ("posture", "telescoping", "weight", "reason"),  # the phantom as felt
    "capture_posture": (),          # the intact limb's hand / foot posture as the shape's
}


class CommandError(VrgmiError, ValueError):
    """A command is unknown or has the wrong arguments."""


@dataclass(frozen=True)
class Command:
    """One request to the engine. ``by`` names who sent it (for the audit log)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    by: str = "therapist"
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    wall: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        allowed = COMMANDS.get(self.name)
        if allowed is None:
            raise CommandError(f"command: unknown command {self.name!r}")
        extra = set(self.args) - set(allowed)
        if extra:
            raise CommandError(f"command {self.name}: unexpected argument(s) "
                               f"{', '.join(sorted(extra))} (takes {', '.join(allowed) or 'none'})")


class CommandQueue:
    """Thread-safe: ``put`` from any thread, ``drain`` on the frame thread."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[Command] = queue.SimpleQueue()

    def put(self, command: Command) -> None:
        """Queue ``command`` for the next frame boundary."""
        self._q.put(command)

    def drain(self) -> list[Command]:
        """Every queued command, oldest first (never blocks)."""
        out = []
        while True:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                return out


@dataclass
class EngineStatus:
    """What the companion shows live. Plain data, JSON-ready via :meth:`as_dict`."""

    t: float = 0.0                     # display time of the last frame (s)
    frame: int = 0
    state: str = "idle"                # idle | running | paused | stopped | emergency_stopped
    session: str = ""
    patient: str = ""
    side: str = ""
    level: str = ""
    phase: str = ""
    scene: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    schema: list[dict[str, Any]] = field(default_factory=list)
    frame_ms_p99: float = 0.0
    dropped_frames: int = 0
    tracking: dict[str, bool] = field(default_factory=dict)   # head/left/right/hand/residual
    recent_trials: list[dict[str, Any]] = field(default_factory=list)
    #: mirror tasks: share of this block's time the phantom was in the central view, and
    #: whether it is now (docs/mirror-tasks.md); None outside them
    watch_share: float | None = None
    watching: bool | None = None
    message: str = ""                  # what the patient is being asked to do now
    turn_suspected: bool = False       # the patient may have turned: Recenter? (body-model.md)
    #: what the therapist must see (pain flare, SSQ, dose): {"kind", "text", "t"} each
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: the phantom's shape and the study condition's code (docs/phantom-shaping.md)
    phantom: dict[str, Any] = field(default_factory=dict)
    #: LSL: on / off / unavailable, its outlets, the phantom's drive stream (docs/research.md)
    research: dict[str, Any] = field(default_factory=dict)
    #: the limbs' shape now (``[limb_shape]`` key -> value): the companion's sliders show it
    limb_shape: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A deep copy as plain dicts and lists."""
        return asdict(self)


class StatusBoard:
    """The latest status and live image, swapped under a lock; readers wait for changes."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._status = EngineStatus()
        self._image: bytes = b""
        self._image_seq = 0
        self._seq = 0

    def publish(self, status: EngineStatus) -> None:
        """Frame thread: replace the status (the caller hands over ownership)."""
        with self._lock:
            self._status = status
            self._seq += 1
            self._lock.notify_all()

    def publish_image(self, encoded: bytes) -> None:
        """Frame thread (or an encoder thread): the patient's view, JPEG or PNG bytes."""
        with self._lock:
            self._image = encoded
            self._image_seq += 1
            self._lock.notify_all()

    def status(self) -> tuple[int, dict[str, Any]]:
        """(sequence number, a copy of the status)."""
        with self._lock:
            return self._seq, self._status.as_dict()

    def image(self) -> tuple[int, bytes]:
        """(sequence number, the latest encoded view; b"" before the first)."""
        with self._lock:
            return self._image_seq, self._image

    def wait(self, after_seq: int, timeout: float) -> bool:
        """Block until the status sequence passes ``after_seq`` or ``timeout`` s; True if it did."""
        with self._lock:
            return self._lock.wait_for(lambda: self._seq > after_seq, timeout)
