"""A follow-up visit in the headset (docs/outcomes.md): the battery's 0-10 ratings asked with
the thumbstick, then, when the program says so (``follow_up_laterality``), one laterality
block to see what recognition retained; no training.

* :func:`suits_headset`: the measures asked in the headset: every item a whole-number 0-10
  rating and no licensed wording (pain, sensation, interference). PCS, PSFS, medication,
  episodes and prosthesis wear stay on the companion's form;
* :func:`plan_follow_up`: a patient's visit (the time point given, else the most urgent one
  due or overdue) with the patient's battery and the clinic's item texts;
* :class:`VisitRecorder`: the session's event sink that, when the session closes, stores its
  complete ratings as the visit's outcome answers (the companion form's store), answered by
  ``headset:<session>``; the visit is then done.

No Panda3D.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.events import Event
from vrgmi.outcomes.battery import MEASURES, Measure, OutcomeError
from vrgmi.outcomes.schedule import Rules, check_timepoint
from vrgmi.program import Program, SceneStep

log = logging.getLogger("vrgmi.outcomes")

#: the session kind of a visit in the headset (``session_started``'s ``kind``)
FOLLOW_UP = "follow-up"
#: the scene that asks one rating (vrgmi/scenes/outcome_rating.py)
RATING_SCENE = "outcome_rating"
#: the ``instrument`` of its ``questionnaire`` events
INSTRUMENT = "outcome"
#: answers asked in the headset are stored ``by`` this, then ``:<session>``
HEADSET_BY = "headset"


def suits_headset(m: Measure) -> bool:
    """Whether ``m`` is asked in the headset: rated items only, each a whole number 0-10,
    wording not licensed."""
    return (m.kind == "items" and not m.licensed_text and bool(m.items)
            and all((i.lo, i.hi, i.step) == (0, 10, 1) for i in m.items))


#: the measures a headset may ask, in battery order
HEADSET_MEASURES = tuple(mid for mid, m in MEASURES.items() if suits_headset(m))


@dataclass(frozen=True)
class FollowUp:
    """One visit in the headset: whose, which time point, the ratings it asks (with the
    clinic's texts), its laterality block (None: none) and the measures of the patient's
    battery left to the companion's form."""

    patient: str
    timepoint: str
    measures: tuple[Measure, ...]
    laterality: SceneStep | None
    on_companion: tuple[str, ...] = ()

    def rating_params(self) -> list[dict[str, Any]]:
        """One rating scene's arguments per item, in battery order."""
        return [{"measure": m.id, "item": i.id, "visit": self.timepoint, "question": i.text,
                 "anchors": tuple(i.anchors)} for m in self.measures for i in m.items]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``session_started`` event)."""
        return {"kind": FOLLOW_UP, "visit": self.timepoint,
                "measures": [m.id for m in self.measures],
                "laterality": self.laterality is not None,
                "on_companion": list(self.on_companion)}


def plan_follow_up(db: Any, program: Program, timepoint: Any = None,
                   measures: Mapping[str, Measure] | None = None, rules: Rules = Rules(),
                   today: date | None = None) -> FollowUp:
    """The follow-up visit of ``program``'s patient: at ``timepoint`` (checked), else the
    most urgent visit due or overdue; the headset's share of the patient's battery
    (``measures``: the battery with the clinic's texts, default built-in). One-line
    :class:`OutcomeError` when no visit is due or nothing would be asked."""
    from vrgmi.outcomes.store import due_visits, patient_outcomes

    pid = program.patient
    page = patient_outcomes(db, pid, today, rules)
    if timepoint is None:
        due = due_visits([{"id": pid, "visits": page["visits"]}])
        if not due:
            raise OutcomeError(f"outcomes: {pid} has no visit due or overdue; name the visit "
                               "(e.g. --follow-up fu_3m)")
        tp = due[0]["timepoint"]
    else:
        tp = check_timepoint(timepoint)
    battery = measures or MEASURES
    chosen = [battery[m] for m in page["plan"]["measures"] if m in battery]
    asked = tuple(m for m in chosen if suits_headset(m))
    lat = program.retention_step()
    if not asked and lat is None:
        raise OutcomeError(f"outcomes: nothing of {pid}'s battery is asked in the headset and "
                           "the program runs no laterality block at a follow-up; use the "
                           "companion's form")
    return FollowUp(pid, tp, asked, lat, tuple(m.id for m in chosen if not suits_headset(m)))


def headset_answers(events: Iterable[Event]) -> dict[str, dict[str, int]]:
    """The ratings among a session's events, per measure, only the measures with every item
    answered (an item answered twice: the later answer)."""
    given: dict[str, dict[str, int]] = {}
    for e in events:
        d = e.data
        if e.kind == "questionnaire" and d.get("instrument") == INSTRUMENT \
                and d.get("measure") in MEASURES and d.get("answers"):
            given.setdefault(d["measure"], {})[str(d.get("item"))] = d["answers"][0]
    return {mid: items for mid, items in given.items()
            if set(items) == {i.id for i in MEASURES[mid].items}}


class VisitRecorder:
    """An event sink (:class:`vrgmi.events.EventSink`) of a follow-up session: keeps its
    ratings and, when the session closes, stores the complete measures as the visit's
    answers (:func:`vrgmi.outcomes.store.record_visit`). A failure is one log line; the
    session's own records are kept either way. ``stored``: the rows written."""

    def __init__(self, db: Any, visit: FollowUp, rules: Rules = Rules()) -> None:
        self.db, self.visit, self.rules = db, visit, rules
        self.events: list[Event] = []
        self.session = ""
        self.stored: list[dict[str, Any]] = []

    def put(self, event: Event) -> None:
        """Keep the session's id and its ratings (on the frame thread: no I/O)."""
        if event.kind == "session_started":
            self.session = event.session
        elif event.kind == "questionnaire" and event.data.get("instrument") == INSTRUMENT:
            self.events.append(event)

    def close(self) -> None:
        """Store the visit's answers (once)."""
        from vrgmi.outcomes.store import record_visit

        answers, self.events = headset_answers(self.events), []
        if not answers:
            return
        try:
            self.stored = record_visit(self.db, self.visit.patient, self.visit.timepoint,
                                       answers, f"{HEADSET_BY}:{self.session}",
                                       rules=self.rules)
        except VrgmiError as exc:
            log.warning("vrgmi: the follow-up's answers were not stored: %s", exc)
