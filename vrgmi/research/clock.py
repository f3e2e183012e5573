"""The display clock mapped onto the LSL clock (docs/research.md, "Clocks").

Every event of a session carries its display time ``t`` (the frame's display time,
:class:`vrgmi.scenes.base.SceneFrame`) on the loop's clock; LSL stamps samples with
``local_clock()``, the machine's monotonic clock. Both tick at the same rate, so the map is
one offset: ``lsl = t + offset``. At the start of each frame the runner hands over ``t`` and
the LSL clock's reading. On the desktop and in paced headless runs ``t`` is the loop's clock
read as the frame starts, so each reading is late by the microseconds between the two
clock reads (more when the thread was preempted), never early: the smallest
``lsl_now - t`` over the last :data:`WINDOW` frames is the offset, and the tests bound its
error below 2 ms. In the headset ``t`` is the runtime's predicted display time, ahead of
the frame's start by the runtime's lead (about one to two frame periods); the same
estimate then puts a marker at its frame's start, that lead before the photons, a constant
of the runtime a lab measures once with a photodiode (docs/research.md).
"""
from __future__ import annotations

import math

import numpy as np

#: frames the offset is estimated over (about a second at headset rates)
WINDOW = 90


class ClockMap:
    """``lsl = display + offset``, the offset the smallest ``lsl_now - t`` seen recently."""

    def __init__(self, window: int = WINDOW) -> None:
        self._seen = np.full(window, math.inf)
        self._n = 0
        #: the current offset (s); NaN before the first frame
        self.offset = math.nan

    def observe(self, display_t: float, lsl_now: float) -> None:
        """One frame's display time and the LSL clock read as the frame starts."""
        self._seen[self._n % len(self._seen)] = lsl_now - display_t
        self._n += 1
        self.offset = float(self._seen.min())

    @property
    def spread(self) -> float:
        """How far the window's readings lie above the offset at most (s): the scheduling
        delay the minimum filters out; 0 before two frames."""
        seen = self._seen[np.isfinite(self._seen)]
        return float(seen.max() - seen.min()) if len(seen) > 1 else 0.0

    def to_lsl(self, display_t: float) -> float:
        """The LSL time of display time ``display_t`` (NaN before the first frame)."""
        return display_t + self.offset
