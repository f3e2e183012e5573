"""When the battery is asked: the time points of a patient's outcome record, and which visits
are due, overdue or missed on a given day (no database, no Panda3D).

Time points, in order: ``baseline`` (before the first phase), ``phase_imagery`` and
``phase_mirror`` (at each phase change), ``end`` (end of treatment) and the follow-ups
``fu_1m``, ``fu_3m``, ``fu_6m`` (``outcomes.followup_months`` after the end of treatment).
A visit not yet done is *upcoming* until ``due_before_days`` before its date, then *due*,
*overdue* from ``overdue_after_days`` after it, and *missed* (the patient counts as dropped
out at that time point) from ``dropout_after_days`` after it. The end of treatment is the
day the therapist records the end visit (or sets it); until then its date is projected as the
mirror phase's start plus ``end_after_mirror_days``, and a patient inactive for
``dropout_after_days`` has missed it.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from vrgmi.outcomes.battery import OutcomeError
from vrgmi.scenes.base import PHASES
from vrgmi.settings import OutcomesSettings

BASELINE = "baseline"
END = "end"
PHASE_PREFIX = "phase_"
MAX_FOLLOWUP_MONTHS = 24
_FOLLOWUP = re.compile(r"fu_([1-9][0-9]?)m")


def followup(months: int) -> str:
    """The time point of the follow-up ``months`` after the end of treatment."""
    return f"fu_{months}m"


def parse_months(text: Any) -> tuple[int, ...]:
    """``"1,3,6"`` (or a list of whole numbers) as sorted distinct months 1..24."""
    parts = text.split(",") if isinstance(text, str) else text
    if not isinstance(parts, (list, tuple)) or not parts or len(parts) > 6:
        raise OutcomeError(f"outcomes: follow-up months {str(text)[:40]!r} must be 1-6 whole "
                           f"numbers 1..{MAX_FOLLOWUP_MONTHS}")
    out = set()
    for part in parts:
        try:
            n = int(part.strip()) if isinstance(part, str) else part
        except ValueError:
            n = None
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_FOLLOWUP_MONTHS:
            raise OutcomeError(f"outcomes: follow-up month {str(part)[:12]!r} must be a whole "
                               f"number 1..{MAX_FOLLOWUP_MONTHS}")
        out.add(n)
    return tuple(sorted(out))


def timepoints(months: tuple[int, ...]) -> list[str]:
    """Every time point in order for follow-ups at ``months``."""
    return ([BASELINE] + [PHASE_PREFIX + p for p in PHASES[1:]] + [END]
            + [followup(m) for m in months])


def check_timepoint(tp: Any) -> str:
    """``tp`` if it names a time point (any follow-up month 1..24), else an OutcomeError."""
    fixed = [BASELINE, END] + [PHASE_PREFIX + p for p in PHASES[1:]]
    m = _FOLLOWUP.fullmatch(tp) if isinstance(tp, str) else None
    if tp in fixed or (m and 1 <= int(m.group(1)) <= MAX_FOLLOWUP_MONTHS):
        return tp
    raise OutcomeError(f"outcomes: unknown time point {str(tp)[:24]!r}; time points are "
                       f"{', '.join(fixed)}, fu_<months>m")


def order_key(tp: str) -> tuple[int, int]:
    """Sorts time points in clinical order."""
    m = _FOLLOWUP.fullmatch(tp)
    if m:
        return (3, int(m.group(1)))
    if tp.startswith(PHASE_PREFIX):
        return (1, PHASES.index(tp[len(PHASE_PREFIX):]))
    return (0, 0) if tp == BASELINE else (2, 0)


def label(tp: str) -> str:
    """The time point in words."""
    m = _FOLLOWUP.fullmatch(tp)
    if m:
        n = int(m.group(1))
        return f"follow-up {n} month{'s' if n > 1 else ''}"
    if tp.startswith(PHASE_PREFIX):
        return f"start of {tp[len(PHASE_PREFIX):]}"
    return {"baseline": "baseline", "end": "end of treatment"}.get(tp, tp)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months (the 31st becomes the month's last day)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Rules:
    """The ``[outcomes]`` settings a schedule and an analysis use."""

    followup_months: tuple[int, ...] = (1, 3, 6)
    due_before_days: int = 7
    overdue_after_days: int = 14
    dropout_after_days: int = 60
    end_after_mirror_days: int = 14
    responder_moderate: float = 0.30
    responder_substantial: float = 0.50

    @classmethod
    def from_settings(cls, section: OutcomesSettings | None = None) -> Rules:
        """The rules of an ``[outcomes]`` section (default: the settings' defaults)."""
        s = section or OutcomesSettings()
        return cls(parse_months(s.followup_months), s.due_before_days, s.overdue_after_days,
                   s.dropout_after_days, s.end_after_mirror_days, s.responder_moderate,
                   s.responder_substantial)


@dataclass(frozen=True)
class Visit:
    """One time point of a patient: its date (None: asked as soon as it suits: the baseline,
    a phase change already passed), its status (``done``, ``upcoming``, ``due``, ``overdue``
    or ``missed``) and when it was done."""

    timepoint: str
    date: date | None
    status: str
    done_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"timepoint": self.timepoint, "label": label(self.timepoint),
                "date": self.date.isoformat() if self.date else None, "status": self.status,
                "done_on": self.done_on.isoformat() if self.done_on else None}


def _status(when: date | None, today: date, rules: Rules) -> str:
    if when is None:
        return "due"
    if today < when - timedelta(days=rules.due_before_days):
        return "upcoming"
    if today <= when + timedelta(days=rules.overdue_after_days):
        return "due"
    if today <= when + timedelta(days=rules.dropout_after_days):
        return "overdue"
    return "missed"


def visits(done: dict[str, date], today: date, rules: Rules, *, phase: str | None = None,
           phase_started: date | None = None, treatment_ended: date | None = None,
           months: tuple[int, ...] | None = None,
           last_active: date | None = None) -> list[Visit]:
    """A patient's visits on ``today``. ``done``: time point -> the day it was answered;
    ``phase`` / ``phase_started``: the program in force; ``treatment_ended``: the end of
    treatment (None: not yet); ``months``: the plan's follow-ups (default the rules');
    ``last_active``: the patient's latest session or answer."""
    months = rules.followup_months if months is None else months
    reached = PHASES.index(phase) if phase in PHASES else 0
    out: list[Visit] = []

    def add(tp: str, when: date | None, status: str | None = None) -> None:
        if tp in done:
            out.append(Visit(tp, when, "done", done[tp]))
        else:
            out.append(Visit(tp, when, status or _status(when, today, rules)))

    add(BASELINE, None)
    for i, p in enumerate(PHASES[1:], start=1):
        if reached >= i:
            add(PHASE_PREFIX + p, phase_started if reached == i else None)
    end = treatment_ended or done.get(END)
    if end is not None:
        add(END, end)
        for m in months:
            add(followup(m), add_months(end, m))
        return out
    if phase == PHASES[-1] and phase_started is not None:
        add(END, phase_started + timedelta(days=rules.end_after_mirror_days))
    elif last_active is not None and (today - last_active).days > rules.dropout_after_days \
            and BASELINE in done:
        add(END, None, "missed")
    return out
