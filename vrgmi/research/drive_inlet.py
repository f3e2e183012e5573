"""The LSL inlet behind :class:`~vrgmi.research.drive.PhantomDrive`: finds the stream named
in ``lsl.drive_stream`` and keeps its latest sample, all on a thread of its own (resolving
and connecting block; the frame only copies the latest sample)."""
from __future__ import annotations

import logging
import math
import threading
import time
from types import ModuleType

import numpy as np

log = logging.getLogger("vrgmi.lsl")

#: seconds the reader waits for a chunk before it looks at its stop flag again
PULL_WAIT_S = 0.02


class LslDriveSource:
    """The latest sample of the LSL stream ``name`` (any channel format but strings)."""

    def __init__(self, pylsl: ModuleType, name: str, channels: int) -> None:
        self.name = name
        self._pylsl = pylsl
        self._latest = np.zeros(channels)
        self._received = -math.inf          # time.monotonic() of the latest sample
        self._short = False                 # the stream has fewer channels than mapped
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: the stream's channel count once connected (0 before)
        self.channel_count = 0
        self._thread = threading.Thread(target=self._run, name="vrgmi-lsl-drive", daemon=True)
        self._thread.start()

    def read(self, out: np.ndarray) -> float:
        """Copy the latest sample into ``out``; its age in seconds (inf: none, or too few
        channels)."""
        with self._lock:
            if self._short:
                return math.inf
            out[:] = self._latest[:len(out)]
            received = self._received
        return time.monotonic() - received

    def _run(self) -> None:
        try:
            self._read()
        except Exception as exc:  # noqa: BLE001  the phantom mirrors; said once
            log.error("vrgmi: lsl: drive stream %r: %s: %s; the phantom only mirrors",
                      self.name, type(exc).__name__, exc)

    def _read(self) -> None:
        pylsl = self._pylsl
        resolver = pylsl.ContinuousResolver(prop="name", value=self.name)
        inlet = None
        while not self._stop.is_set():
            if inlet is None:
                found = resolver.results()
                if not found:
                    self._stop.wait(0.1)
                    continue
                inlet = pylsl.StreamInlet(found[0], max_buflen=1, recover=True)
                self.channel_count = n = found[0].channel_count()
                if n < len(self._latest):
                    log.error("vrgmi: lsl: drive stream %r has %d channels; the settings "
                              "map channel %d: the phantom only mirrors", self.name, n,
                              len(self._latest) - 1)
                    with self._lock:
                        self._short = True
                    return
            try:
                chunk, _stamps = inlet.pull_chunk(timeout=PULL_WAIT_S, max_samples=64)
            except Exception as exc:  # noqa: BLE001  a lost stream: look for it again
                log.warning("vrgmi: lsl: drive stream %r: %s", self.name, exc)
                inlet = None
                continue
            if chunk:
                last = chunk[-1]
                with self._lock:
                    self._latest[:] = last[:len(self._latest)]
                    self._received = time.monotonic()

    def close(self) -> None:
        """Stop reading (the thread ends within a pull's wait)."""
        self._stop.set()
        self._thread.join(timeout=1.0)
