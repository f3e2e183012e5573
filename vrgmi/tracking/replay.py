"""Replay files (the format of docs/replay-format.md): load, validate, save, and play back.

A file is OpenXR stage space; a :class:`Replay` in memory is engine space (converted once, at
load, with :mod:`vrgmi.spatial`). :class:`ReplaySource` plays a Replay into TrackingFrames.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.spatial import engine_to_stage_pose, stage_to_engine_pose
from vrgmi.tracking.frame import (
    HAND_JOINT_COUNT, SIDES, TRACKER_INDEX, TRACKER_ROLES, PoseSource, TrackingFrame,
)


class ReplayFormatError(VrgmiError, ValueError):
    """A replay file (or Replay) is malformed; str() is one line naming the file and key."""


class ReplayWriteError(VrgmiError, OSError):
    """A replay file could not be written (one line naming the file and the reason)."""


REQUIRED_KEYS = ("t", "head", "left_grip", "right_grip", "left_valid", "right_valid")


def _format_keys() -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict[str, str]]:
    """Every key -> (kind, trailing shape), kinds time | pose | flag | unit (a 0..1 value);
    and each optional pose key -> the flag key saying when it is valid."""
    specs: dict[str, tuple[str, tuple[int, ...]]] = {"t": ("time", ()), "head": ("pose", (7,))}
    flag_of: dict[str, str] = {}
    for s in SIDES:
        specs.update({
            f"{s}_grip": ("pose", (7,)), f"{s}_valid": ("flag", ()), f"{s}_aim": ("pose", (7,)),
            f"{s}_trigger": ("unit", ()), f"{s}_squeeze": ("unit", ()),
            f"{s}_hand_joints": ("pose", (HAND_JOINT_COUNT, 7)),
            f"{s}_hand_valid": ("flag", ()),
        })
        flag_of[f"{s}_hand_joints"] = f"{s}_hand_valid"
    for r in TRACKER_ROLES:
        specs.update({f"tracker_{r}": ("pose", (7,)), f"tracker_{r}_valid": ("flag", ())})
        flag_of[f"tracker_{r}"] = f"tracker_{r}_valid"
    return specs, flag_of


_SPECS, _FLAG_OF = _format_keys()


def _shape_text(trailing: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(map(str, trailing)) + ")" if trailing else "(N,)"


def check_arrays(arrays: Mapping[str, np.ndarray], name: str) -> int:
    """Validate replay arrays (file keys -> arrays); return N or raise ReplayFormatError.

    ``name`` (the file) starts every message. NaN inside a pose is allowed (a glitch the
    filters handle); everything else the format forbids is an error.
    """
    def bad(key: str, what: str) -> ReplayFormatError:
        return ReplayFormatError(f"{name}: key {key!r} {what}")

    for key in sorted(arrays):
        if key not in _SPECS:
            raise bad(key, "is not part of the replay format (see docs/replay-format.md)")
    for key in REQUIRED_KEYS:
        if key not in arrays:
            raise ReplayFormatError(f"{name}: required key {key!r} is missing")
    for pose, flag in _FLAG_OF.items():
        if pose in arrays and flag not in arrays:
            raise bad(pose, f"needs its validity flags {flag!r}")
        if flag in arrays and pose not in arrays:
            raise bad(flag, f"is a validity flag with no pose {pose!r}")
    n = 0
    for key in ("t",) + tuple(k for k in sorted(arrays) if k != "t"):
        a = arrays[key]
        kind, trailing = _SPECS[key]
        if not isinstance(a, np.ndarray):
            raise bad(key, f"must be a NumPy array, got {type(a).__name__}")
        if a.ndim != 1 + len(trailing) or a.shape[1:] != trailing:
            raise bad(key, f"must have shape {_shape_text(trailing)}, got {a.shape}")
        if kind == "flag":
            if a.dtype != np.bool_:
                raise bad(key, f"must be a bool array, got {a.dtype}")
        elif a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):   # either byte order
            raise bad(key, f"must be a float32 or float64 array, got {a.dtype}")
        if key == "t":
            n = a.shape[0]
            if n == 0:
                raise bad(key, "is empty (a replay needs at least one sample)")
            if not np.all(np.isfinite(a)):
                raise bad(key, "holds a NaN or infinite time")
            if n > 1 and not np.all(np.diff(a) > 0.0):
                k = int(np.argmin(np.diff(a) > 0.0)) + 1
                raise bad(key, f"must be strictly increasing, but t[{k}] = {float(a[k])!r} "
                               f"follows t[{k - 1}] = {float(a[k - 1])!r}")
            continue
        if a.shape[0] != n:
            raise bad(key, f"has {a.shape[0]} samples, but 't' has {n}")
        if kind == "unit" and not np.all((a >= 0.0) & (a <= 1.0)):
            k = int(np.argmin((a >= 0.0) & (a <= 1.0)))
            raise bad(key, f"must hold values in 0..1, got {float(a[k])!r} at sample {k}")
    return n


@dataclass
class Replay:
    """A recorded session in ENGINE space; fields are the file's keys (docs/replay-format.md).

    Optional channels are None when absent ("not tracked"). ``trackers`` maps a role of
    ``TRACKER_ROLES`` to its (N, 7) poses, ``tracker_valid`` the same role to its (N,) flags.
    """

    t: np.ndarray
    head: np.ndarray
    left_grip: np.ndarray
    right_grip: np.ndarray
    left_valid: np.ndarray
    right_valid: np.ndarray
    left_aim: np.ndarray | None = None
    right_aim: np.ndarray | None = None
    left_trigger: np.ndarray | None = None
    right_trigger: np.ndarray | None = None
    left_squeeze: np.ndarray | None = None
    right_squeeze: np.ndarray | None = None
    left_hand_joints: np.ndarray | None = None
    right_hand_joints: np.ndarray | None = None
    left_hand_valid: np.ndarray | None = None
    right_hand_valid: np.ndarray | None = None
    trackers: dict[str, np.ndarray] = field(default_factory=dict)
    tracker_valid: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_arrays(self.arrays(), "Replay")

    def arrays(self) -> dict[str, np.ndarray]:
        """The present channels as file keys -> arrays (engine space, not copied)."""
        out = {k: v for k, v in vars(self).items()
               if k not in ("trackers", "tracker_valid") and v is not None}
        for role, pose in self.trackers.items():
            out[f"tracker_{role}"] = pose
        for role, valid in self.tracker_valid.items():
            out[f"tracker_{role}_valid"] = valid
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Replay":
        """Build from file keys -> arrays (already engine space)."""
        plain = {k: v for k, v in arrays.items() if not k.startswith("tracker_")}
        trackers = {k[8:]: v for k, v in arrays.items()
                    if k.startswith("tracker_") and not k.endswith("_valid")}
        valid = {k[8:-6]: v for k, v in arrays.items()
                 if k.startswith("tracker_") and k.endswith("_valid")}
        return cls(**plain, trackers=trackers, tracker_valid=valid)

    @property
    def duration(self) -> float:
        """Seconds covered: N sample intervals (the last sample lasts one mean interval)."""
        n = len(self.t)
        return 0.0 if n < 2 else float(self.t[-1] - self.t[0]) * n / (n - 1)


def _is_pose(key: str) -> bool:
    return _SPECS[key][0] == "pose"


def _read_members(path: Path, name: str) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise ReplayFormatError(f"{name}: file not found") from None
    except OSError as exc:
        raise ReplayFormatError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if magic[:2] != b"PK" or not zipfile.is_zipfile(path):
        raise ReplayFormatError(f"{name}: is not a .npz replay (not a zip archive)")
    arrays: dict[str, np.ndarray] = {}
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ReplayFormatError(f"{name}: is not a readable .npz archive ({_one_line(exc)})") \
            from None
    with npz:
        for key in npz.files:
            try:
                arrays[key] = npz[key]
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise ReplayFormatError(f"{name}: key {key!r} holds pickled Python objects, "
                                            "which a replay may not contain") from None
                raise ReplayFormatError(f"{name}: key {key!r} cannot be read "
                                        f"({_one_line(exc)})") from None
            except Exception as exc:  # corrupt member: zlib.error, BadZipFile, EOFError ...
                raise ReplayFormatError(f"{name}: key {key!r} cannot be read "
                                        f"({type(exc).__name__}: {_one_line(exc)})") from None
    return arrays


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def load_replay(path: str | os.PathLike) -> Replay:
    """Read and validate a replay file; poses are converted to engine space."""
    name = os.fspath(path)
    arrays = _read_members(Path(path), name)
    check_arrays(arrays, name)
    return Replay.from_arrays({
        k: stage_to_engine_pose(a) if _is_pose(k) else
        (a.astype(np.float64, copy=False) if a.dtype.kind == "f" else a)
        for k, a in arrays.items()})


def save_replay(path: str | os.PathLike, replay: Replay) -> Path:
    """Write ``replay`` to ``path`` in stage space, compressed, atomically (a temp file in the
    same folder, then ``os.replace``): a crash leaves the old file or none, never half one."""
    path = Path(path)
    arrays = replay.arrays()
    check_arrays(arrays, os.fspath(path))
    stage = {k: engine_to_stage_pose(a) if _is_pose(k) else a for k, a in arrays.items()}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ReplayWriteError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **stage)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ReplayWriteError(f"{path}: cannot be written ({exc.strerror or exc})") \
                from None
        raise
    return path


class ReplaySource(PoseSource):
    """Plays a Replay: each poll gives the sample at or just before the replay time.

    Replay time is ``display_time - time_origin`` seconds after the first sample;
    ``time_origin`` defaults to the first poll's display_time (playback starts when polling
    starts). A sample counts from 1 us before its time stamp, so a clock that steps exactly
    at the sample rate never gets the previous sample through rounding. A cursor makes
    monotonic polling O(1); seeking backwards or far ahead uses a binary search. Past the
    end, poll keeps the last sample and returns False, unless ``loop``. The frame's ``t``
    is the display_time; the head counts as tracked (a NaN head is a glitch for the
    filters). Nothing is allocated per poll.
    """

    name = "replay"

    def __init__(self, replay: Replay | str | os.PathLike, *, loop: bool = False,
                 time_origin: float | None = None) -> None:
        self.replay = replay if isinstance(replay, Replay) else load_replay(replay)
        r = self.replay
        self.loop = loop
        self._origin = time_origin
        self._t = r.t - r.t[0]
        self._duration = r.duration
        self._i = 0
        self._grip = (r.left_grip, r.right_grip)
        self._valid = (r.left_valid, r.right_valid)
        self._aim = (r.left_aim, r.right_aim)
        self._trigger = (r.left_trigger, r.right_trigger)
        self._squeeze = (r.left_squeeze, r.right_squeeze)
        self._hand = (r.left_hand_joints, r.right_hand_joints)
        self._hand_valid = (r.left_hand_valid, r.right_hand_valid)
        self._trackers = tuple((TRACKER_INDEX[role], pose, r.tracker_valid[role])
                               for role, pose in r.trackers.items())

    @property
    def duration(self) -> float:
        return self._duration

    def _index(self, tau: float) -> int:
        t, i = self._t, self._i
        n = len(t)
        if tau < t[i] or (i + 2 < n and tau >= t[i + 2]):
            i = max(int(np.searchsorted(t, tau, side="right")) - 1, 0)
        elif i + 1 < n and tau >= t[i + 1]:
            i += 1
        self._i = i
        return i

    def _elapsed(self, display_time: float) -> float:
        """Replay time of ``display_time`` (binds the origin on first use), with 1 us of
        slack: a clock stepping exactly at the sample rate, offset by a large origin, must
        not land a rounding error before the sample it means."""
        if self._origin is None:
            self._origin = display_time
        return display_time - self._origin + 1e-6

    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        tau = self._elapsed(display_time)
        running = True
        if self.loop and self._duration > 0.0:
            tau %= self._duration
        elif tau >= self._duration:
            running = False
        self._fill(self._index(tau), display_time, frame)
        return running

    def _fill(self, i: int, display_time: float, frame: TrackingFrame) -> None:
        frame.t = display_time
        frame.head[...] = self.replay.head[i]
        frame.head_valid = True
        for s in (0, 1):
            frame.grip[s] = self._grip[s][i]
            frame.grip_valid[s] = self._valid[s][i]
            aim = self._aim[s]
            if aim is None:
                frame.aim_valid[s] = False
            else:
                frame.aim[s] = aim[i]
                frame.aim_valid[s] = self._valid[s][i]
            trig, sq = self._trigger[s], self._squeeze[s]
            frame.trigger[s] = 0.0 if trig is None else trig[i]
            frame.squeeze[s] = 0.0 if sq is None else sq[i]
            hand = self._hand[s]
            if hand is None:
                frame.hand_valid[s] = False
            else:
                frame.hand_joints[s] = hand[i]
                frame.hand_valid[s] = self._hand_valid[s][i]
        frame.tracker_valid[...] = False
        for k, pose, valid in self._trackers:
            frame.tracker[k] = pose[i]
            frame.tracker_valid[k] = valid[i]
