"""Everything a session measures leaves the frame loop as an :class:`Event`.

Scenes, the session runner and the questionnaires emit events through an :class:`EventBus`;
sinks store them off the frame thread. Until the records database (``vrgmi.records``) is the
sink, a session writes its events to a JSON Lines file (:class:`JsonlEventLog`), one object a
line, flushed and fsync'ed as each one lands, so a crash loses at most the event in flight.

Event kinds and their ``data`` (every value JSON-serialisable; times in seconds):

=====================  ==================================================================
kind                   data
=====================  ==================================================================
``session_started``    ``patient``, ``phase``, ``program`` (dict), ``side``, ``level``
``scene_started``      ``phase``, ``params`` (the difficulty values in force)
``trial``              ``index``, ``block``, and the scene's measured values (see each scene)
``block_finished``     ``block`` and the block's analysis figures
``questionnaire``      ``instrument`` (``nrs`` | ``ssq`` | ``kviq``), ``moment``
                       (``pre`` | ``post`` | ``trial``), ``answers`` (list), ``scores`` (dict)
``param_changed``      ``name``, ``old``, ``new``, ``by`` (``therapist`` | ``staircase`` ...)
``scene_finished``     ``summary`` (dict), ``reason`` (``completed`` | ``stopped`` | ``skipped``)
``session_paused``     ``reason``;  ``session_resumed``: ``{}``
``session_finished``   ``reason`` (``completed`` | ``stopped`` | ``emergency_stop`` |
                       ``runtime_lost`` | ``error``), ``minutes``
``gate_decision``      ``phase``, ``advance`` (bool), ``criteria`` (dict), ``override`` (bool)
=====================  ==================================================================
"""
from __future__ import annotations

import json
import math
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vrgmi.errors import VrgmiError

EVENT_KINDS = ("session_started", "scene_started", "trial", "block_finished", "questionnaire",
               "param_changed", "scene_finished", "session_paused", "session_resumed",
               "session_finished", "gate_decision", "recenter", "body_turned",
               "body_turn_suspected", "body_turn_cleared",
               # safety (docs/program.md): the patient's stop, pain checks and flares, SSQ
               # alerts, the dose warning, a phase stepped back
               "patient_stop", "pain_check", "pain_flare", "ssq_alert", "dose_warning",
               "phase_step_back",
               # the levels carried over to the next session (vrgmi/progress.py)
               "progression",
               # a brush stroke of the touch task (vrgmi/scenes/touch.py, docs/embodiment.md)
               "stroke",
               # the phantom's shape and its schedule, the study condition's code
               # (vrgmi/phantom_setup.py, docs/phantom-shaping.md, docs/study-conditions.md)
               "phantom_shaped", "shaping_decision", "study_condition")


@dataclass(frozen=True)
class Event:
    """One thing a session measured or did, at display-clock time ``t``."""

    kind: str
    t: float
    data: dict[str, Any]
    scene: str = ""
    session: str = ""
    wall: float = field(default_factory=time.time)   # Unix time it was emitted

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"event: unknown kind {self.kind!r}")

    def to_json(self) -> str:
        """One JSON line (NaN and infinities written as null)."""
        return json.dumps(_finite(asdict(self)), separators=(",", ":"), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):     # NumPy scalars
        return _finite(value.item())
    return value


class EventSink(Protocol):
    """Where events go. ``put`` is called on the frame thread and must not block."""

    def put(self, event: Event) -> None: ...

    def close(self) -> None: ...


class EventBus:
    """Fans each event out to every sink and keeps the session's events in memory."""

    def __init__(self, session: str = "", sinks: list[EventSink] | None = None) -> None:
        self.session = session
        self.sinks: list[EventSink] = list(sinks or [])
        self.history: list[Event] = []

    def emit(self, kind: str, t: float, data: dict[str, Any], scene: str = "") -> Event:
        """Create, remember and dispatch one event."""
        event = Event(kind, float(t), dict(data), scene, self.session)
        self.history.append(event)
        for sink in self.sinks:
            sink.put(event)
        return event

    def of_kind(self, kind: str, scene: str | None = None) -> list[Event]:
        """The events of ``kind`` so far (optionally of one scene)."""
        return [e for e in self.history
                if e.kind == kind and (scene is None or e.scene == scene)]

    def close(self) -> None:
        """Flush and close every sink."""
        for sink in self.sinks:
            sink.close()


class JsonlEventLog:
    """Appends events to a JSON Lines file from a writer thread (fsync per event)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise VrgmiError(f"events: cannot write {self.path}: {exc.strerror}") from None
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="vrgmi-events", daemon=True)
        self._thread.start()
        self.error: str | None = None

    def put(self, event: Event) -> None:
        """Queue ``event`` for writing (never blocks the frame)."""
        self._queue.put(event)

    def _write(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._file.write(event.to_json() + "\n")
                self._file.flush()
                os.fsync(self._file.fileno())
            except (OSError, ValueError) as exc:   # disk full, unserialisable: keep going
                self.error = f"events: could not write to {self.path}: {exc}"

    def close(self) -> None:
        """Write what is queued, then close the file. Safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
            self._file.close()


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a JSON Lines log as dicts; a torn last line (a crash) is skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
