"""What one session event means on a timeline: the shared reading behind the LSL markers
(:mod:`.markers`) and the BIDS events (:mod:`vrgmi.export.bids_events`).

A ``trial`` event is emitted when the trial ends; its stimulus onset and response lie
earlier, in its data: ``onset_t`` / ``response_t`` (laterality; explicit imagery's onset,
the demonstration's first frame, and ``go_t``, its go tone: display times), else the
onset is the end less ``time_s`` (mirror tasks, phantom motor execution). Each trial has a
condition (what was shown or asked) and a condition code: 1, 2, ... in the order the
conditions first occur in the session, so the markers and the BIDS file agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def condition(scene: str, data: dict[str, Any]) -> str:
    """A trial's condition as one short label, e.g. ``hand/left/dorsal/90`` (laterality),
    ``reach`` (a mirror task), ``grip/0.6`` (phantom motor execution)."""
    if "side" in data and "rotation_deg" in data:
        rot = _num(data.get("rotation_deg"))
        return "/".join(str(x) for x in (data.get("limb"), data.get("side"), data.get("view"),
                                         "" if rot is None else f"{rot:g}"))
    for key in ("condition", "movement", "task"):
        if data.get(key) not in (None, ""):
            return str(data[key])
    return scene or "trial"


@dataclass(frozen=True)
class TrialTimes:
    """A trial's moments on the display clock (s); None where the trial has none."""

    onset: float | None
    response: float | None
    end: float
    go: float | None = None           # explicit imagery: the go tone (imagining starts)


def trial_times(t_end: float, data: dict[str, Any]) -> TrialTimes:
    """The stimulus onset, response and end of a ``trial`` event emitted at ``t_end``."""
    onset = _num(data.get("onset_t"))
    if onset is None and (took := _num(data.get("time_s"))) is not None:
        onset = t_end - took
    return TrialTimes(onset, _num(data.get("response_t")), float(t_end), _num(data.get("go_t")))


class ConditionCodes:
    """Condition label -> code 1, 2, ... in order of first appearance."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def code(self, label: str) -> int:
        """The label's code (a new one the first time it is seen)."""
        return self.codes.setdefault(label, len(self.codes) + 1)
