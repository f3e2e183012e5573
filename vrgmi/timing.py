"""Per-stage frame timing kept in a fixed ring buffer (read by bench and the companion)."""
from __future__ import annotations

import time

import numpy as np


class StageTimer:
    """Records how long each named stage of a frame took, for the last ``capacity`` frames.

    Usage per frame: ``begin_frame()``, then ``mark(i)`` after stage i; ``end_frame()``.
    Nothing allocates after construction.
    """

    def __init__(self, stages: tuple[str, ...], capacity: int = 4096) -> None:
        self.stages = stages
        self.capacity = capacity
        self.ms = np.zeros((capacity, len(stages) + 1))  # last column: whole frame
        self.count = 0
        self._row = 0
        self._t0 = 0
        self._last = 0

    def begin_frame(self) -> None:
        self._t0 = self._last = time.perf_counter_ns()
        self._row = self.count % self.capacity

    def mark(self, stage: int) -> None:
        now = time.perf_counter_ns()
        self.ms[self._row, stage] = (now - self._last) * 1e-6
        self._last = now

    def end_frame(self) -> None:
        self.ms[self._row, -1] = (time.perf_counter_ns() - self._t0) * 1e-6
        self.count += 1

    def recent(self) -> np.ndarray:
        """(n, stages + 1) milliseconds of the frames still in the buffer (oldest first)."""
        n = min(self.count, self.capacity)
        if self.count <= self.capacity:
            return self.ms[:n].copy()
        start = self.count % self.capacity
        return np.concatenate([self.ms[start:], self.ms[:start]])

    def summary(self) -> dict[str, dict[str, float]]:
        """Median, p99 and max per stage (and 'frame') in milliseconds."""
        data = self.recent()
        out = {}
        for i, name in enumerate(self.stages + ("frame",)):
            col = data[:, i] if len(data) else np.zeros(1)
            out[name] = {"median": float(np.median(col)), "p99": float(np.percentile(col, 99)),
                         "max": float(col.max())}
        return out
