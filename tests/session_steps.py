"""Stepping a SessionRunner in the tests, frame by frame without rendering."""
from __future__ import annotations

from collections.abc import Callable

#: the frame interval the session tests step at (s)
DT = 1.0 / 30.0


def step_until(runner, t: float, cond: Callable[[], bool], limit_s: float = 30.0) -> float:
    """Step ``runner`` from ``t`` (no rendering) until ``cond()`` holds, at most ``limit_s``
    seconds; the time reached (fails when ``cond()`` never held)."""
    end = t + limit_s
    while t < end and not cond():
        runner.step(t, DT, render=False)
        t += DT
    assert cond()
    return t
