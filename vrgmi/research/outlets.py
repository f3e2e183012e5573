"""vrgmi's LSL outlets (docs/research.md, "Streams"): ``vrgmi-markers`` (string markers) and
``vrgmi-limbs`` (both limbs' solved joints and the head, every frame).

Each outlet lives as long as the process, so a lab's recorder sees one stream across a
clinic day's sessions, and sends from a thread of its own: the frame only copies into a
preallocated ring (limbs) or queues a reference (markers); liblsl's push and its sample
conversion never run on the frame thread.
"""
from __future__ import annotations

import atexit
import logging
import queue
import socket
import threading
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

log = logging.getLogger("vrgmi.lsl")

MARKER_STREAM = "vrgmi-markers"
LIMB_STREAM = "vrgmi-limbs"
#: frames the limb ring holds; a sender this far behind drops frames (counted)
RING = 64

_shared: dict[tuple, object] = {}


def _source_id(name: str) -> str:
    """Stable per machine, so a recorder picks the stream up again after a restart."""
    return f"{name}@{socket.gethostname()}"


class MarkerOutlet:
    """``vrgmi-markers``: one string channel, irregular rate."""

    def __init__(self, pylsl: ModuleType) -> None:
        info = pylsl.StreamInfo(MARKER_STREAM, "Markers", 1, pylsl.IRREGULAR_RATE,
                                pylsl.cf_string, _source_id(MARKER_STREAM))
        desc = info.desc()
        desc.append_child_value("format", "one JSON object per marker (docs/research.md)")
        desc.append_child_value("clock", "display time mapped onto the LSL clock")
        self.outlet = pylsl.StreamOutlet(info)
        self.sent = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="vrgmi-lsl-markers",
                                        daemon=True)
        self._thread.start()

    def put(self, make: Callable[[], Sequence[tuple[float, str]]], offset: float) -> None:
        """Queue markers: ``make()`` (run on the sender thread) gives ``(display time, text)``
        pairs, stamped ``display time + offset``."""
        self._queue.put((make, offset))

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything queued so far is pushed; False on timeout."""
        done = threading.Event()
        self._queue.put((done.set, None))
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            make, offset = self._queue.get()
            try:
                pairs = make()
                if offset is None:
                    continue
                for t, text in pairs:
                    self.outlet.push_sample([text], t + offset)
                    self.sent += 1
            except Exception as exc:  # noqa: BLE001  one bad event must not stop the stream
                log.warning("vrgmi: lsl: a marker was not sent: %s", exc)


class LimbOutlet:
    """``vrgmi-limbs``: float32 channels, x y z of every intact then every phantom joint,
    then the head pose (px py pz qx qy qz qw); engine space, metres."""

    def __init__(self, pylsl: ModuleType, joints: Sequence[str], rate_hz: float) -> None:
        labels = [f"{limb}_{j}_{a}" for limb in ("intact", "phantom") for j in joints
                  for a in "xyz"] + [f"head_{a}" for a in ("px", "py", "pz", "qx", "qy", "qz",
                                                            "qw")]
        info = pylsl.StreamInfo(LIMB_STREAM, "MoCap", len(labels), float(rate_hz),
                                pylsl.cf_float32,
                                _source_id(f"{LIMB_STREAM}-{len(joints)}"))
        desc = info.desc()
        desc.append_child_value("space", "engine: +x right, +y forward, +z up (metres)")
        chans = desc.append_child("channels")
        for label in labels:
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "" if label[-2:-1] == "q" else "metres")
        self.outlet = pylsl.StreamOutlet(info)
        self.channels = len(labels)
        self._rows = np.zeros((RING, self.channels), dtype=np.float32)
        self._stamps = np.zeros(RING)
        self._written = 0
        self.sent = 0
        self.dropped = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="vrgmi-lsl-limbs", daemon=True)
        self._thread.start()

    def put(self, intact: np.ndarray, phantom: np.ndarray, head: np.ndarray,
            stamp: float) -> None:
        """Copy one frame into the ring and wake the sender (the frame's whole cost)."""
        n = self._written
        row = self._rows[n % RING]
        k = intact.size
        row[:k] = intact.ravel()
        row[k:2 * k] = phantom.ravel()
        row[2 * k:] = head
        self._stamps[n % RING] = stamp
        self._written = n + 1
        self._queue.put(n)

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every frame put so far is pushed; False on timeout."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            n = self._queue.get()
            if isinstance(n, threading.Event):
                n.set()
                continue
            if self._written - n > RING - 1:      # overwritten while we were behind
                self.dropped += 1
                continue
            try:
                self.outlet.push_sample(self._rows[n % RING], float(self._stamps[n % RING]))
                self.sent += 1
            except Exception as exc:  # noqa: BLE001  a frame lost, never the stream
                self.dropped += 1
                if self.dropped == 1:
                    log.warning("vrgmi: lsl: a limb frame was not sent: %s", exc)


def marker_outlet(pylsl: ModuleType) -> MarkerOutlet:
    """The process's marker outlet (made on first use)."""
    key = (MARKER_STREAM,)
    if key not in _shared:
        _shared[key] = MarkerOutlet(pylsl)
    return _shared[key]


def limb_outlet(pylsl: ModuleType, joints: Sequence[str], rate_hz: float) -> LimbOutlet:
    """The process's limb outlet for this joint layout (made on first use)."""
    key = (LIMB_STREAM, tuple(joints))
    if key not in _shared:
        _shared[key] = LimbOutlet(pylsl, joints, rate_hz)
    return _shared[key]


@atexit.register
def _flush_all() -> None:
    """At exit, send what is queued (a second at most per outlet)."""
    for outlet in _shared.values():
        outlet.flush(1.0)
