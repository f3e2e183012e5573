"""The outcome measure battery: what each measure asks, its scales, and how it is scored.

Measures (docs/outcomes.md names the source of each):

* ``pain``: average and worst phantom limb pain over the past week, 0-10 NRS;
* ``episodes``: phantom pain episodes per day and a typical episode's minutes;
* ``sensation``: non-painful phantom sensation and residual-limb pain, 0-10;
* ``interference``: pain interference with sleep, mood and daily activity, 0-10 (and their
  mean);
* ``pcs``: Pain Catastrophizing Scale (Sullivan 1995), 13 items 0-4, total 0-52 and the
  rumination / magnification / helplessness subscales of CLINICAL.md (scored by
  :func:`vrgmi.measures.questionnaires.score_pcs`). Its wording is licensed: no item text
  ships; the form shows the item number and subscale until the clinic loads its licensed
  texts (:func:`load_item_texts`);
* ``psfs``: patient-specific functional scale (Stratford 1995): up to 5 activities the
  patient names, each rated 0-10; scored as the mean rating;
* ``medication``: up to 10 structured rows (name, dose, how often) plus free text; scored
  as the number of medicines;
* ``prosthesis``: hours a day the prosthesis is worn.

Every item text here is written for vrgmi. :func:`score` validates hostile input (types,
ranges, lengths) and raises a one-line :class:`OutcomeError`. No Panda3D, no database.
"""
from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.measures.questionnaires import NRS_LOINC, PCS_ITEM_COUNT, PCS_SUBSCALES, score_pcs

MAX_ACTIVITIES = 5
MAX_MEDICATIONS = 10
MAX_NAME = 80            # characters of an activity or medicine name
MAX_FIELD = 40           # characters of a dose or a frequency
MAX_FREE_TEXT = 1000     # characters of the medication's free text
MAX_ITEM_TEXT = 500      # characters of a loaded item text
PAIN_ANCHORS = ("no pain", "worst pain imaginable")


class OutcomeError(VrgmiError, ValueError):
    """An outcome answer, measure name or item-text file is wrong (one line)."""


@dataclass(frozen=True)
class Item:
    """One rated question: its text, scale (``lo``..``hi`` in steps of ``step``) and anchors."""

    id: str
    text: str
    lo: float = 0
    hi: float = 10
    step: float = 1
    anchors: tuple[str, str] = PAIN_ANCHORS
    unit: str = ""

    def describe(self) -> dict[str, Any]:
        """JSON-ready (the companion's form)."""
        return {"id": self.id, "text": self.text, "lo": self.lo, "hi": self.hi,
                "step": self.step, "anchors": list(self.anchors), "unit": self.unit}


@dataclass(frozen=True)
class Measure:
    """One measure of the battery. ``kind``: ``items`` (rated items), ``activities`` (the
    PSFS) or ``medication``. ``scores``: the score names :func:`score` gives, the headline
    first; ``loinc``: score name -> LOINC code where one exists (the rest are coded in the
    project's code system)."""

    id: str
    title: str
    kind: str
    source: str
    items: tuple[Item, ...] = ()
    scores: tuple[str, ...] = ()
    loinc: Mapping[str, str] | None = None
    prompt: str = ""
    licensed_text: bool = False
    higher_is_better: bool = False

    def describe(self) -> dict[str, Any]:
        """JSON-ready (the companion's form)."""
        return {"id": self.id, "title": self.title, "kind": self.kind, "prompt": self.prompt,
                "items": [i.describe() for i in self.items], "scores": list(self.scores),
                "source": self.source, "licensed_text": self.licensed_text,
                "higher_is_better": self.higher_is_better,
                "max_rows": MAX_ACTIVITIES if self.kind == "activities" else MAX_MEDICATIONS}


def _pcs_subscale(k: int) -> str:
    return next(name for name, items in PCS_SUBSCALES.items() if k in items)


_INTERFERE = ("not at all", "completely")
MEASURES: dict[str, Measure] = {m.id: m for m in (
    Measure("pain", "Phantom limb pain", "items",
            "0-10 numeric rating scale (CLINICAL.md; LOINC 72514-3)",
            (Item("average", "Over the past week, how strong was your phantom limb pain on "
                             "average?"),
             Item("worst", "Over the past week, how strong was your phantom limb pain at its "
                           "worst?")),
            ("average", "worst"), {"average": NRS_LOINC, "worst": NRS_LOINC}),
    Measure("episodes", "Phantom pain episodes", "items",
            "episode frequency and duration (CLINICAL.md)",
            (Item("per_day", "On a typical day in the past week, how many separate bouts of "
                             "phantom pain did you have?", 0, 100, 1, ("none", "100 or more"),
                  "per day"),
             Item("duration_min", "How many minutes does a typical bout last? (0 if you had "
                                  "none)", 0, 1440, 1, ("", ""), "min")),
            ("per_day", "duration_min")),
    Measure("sensation", "Phantom sensation and residual-limb pain", "items",
            "0-10 numeric rating scales",
            (Item("phantom_sensation", "Over the past week, how strongly did you feel the "
                                       "missing limb as still there (leaving pain aside)?",
                  anchors=("not at all", "as vividly as a real limb")),
             Item("residual_pain", "Over the past week, how strong was pain in the remaining "
                                   "part of the limb on average?")),
            ("residual_pain", "phantom_sensation")),
    Measure("interference", "Pain interference", "items",
            "0-10 ratings of interference (as in the Brief Pain Inventory's interference items; "
            "own wording)",
            (Item("sleep", "In the past week, how much did pain get in the way of your sleep?",
                  anchors=_INTERFERE),
             Item("mood", "In the past week, how much did pain get in the way of your mood?",
                  anchors=_INTERFERE),
             Item("activity", "In the past week, how much did pain get in the way of your "
                              "daily activities?", anchors=_INTERFERE)),
            ("mean", "sleep", "mood", "activity")),
    Measure("pcs", "Pain Catastrophizing Scale", "items",
            "Sullivan, Bishop & Pivik 1995 (Psychol Assess 7:524); 13 items 0-4; subscales as "
            "in CLINICAL.md",
            tuple(Item(str(k), f"Statement {k} of the clinic's PCS form ({_pcs_subscale(k)})",
                       0, 4, 1, ("not at all", "all the time"))
                  for k in range(1, PCS_ITEM_COUNT + 1)),
            ("total", "rumination", "magnification", "helplessness"),
            prompt="How much does each statement apply when you are in pain?",
            licensed_text=True),
    Measure("psfs", "Patient-specific functional scale", "activities",
            "Stratford et al. 1995 (Physiother Can 47:258); mean of up to 5 activity ratings",
            (Item("rating", "How well can you do this activity now?",
                  anchors=("unable to do it", "as well as before the problem")),),
            ("mean",), prompt="Name up to 5 activities that are hard for you, or that you "
                              "cannot do, because of your limb; rate each one.",
            higher_is_better=True),
    Measure("medication", "Pain medication", "medication",
            "structured list (name, dose, how often) and free text",
            (), ("count",), prompt="Medicines taken for pain: one row each; anything else in "
                                   "the notes."),
    Measure("prosthesis", "Prosthesis wear", "items", "hours per day",
            (Item("hours", "On a typical day in the past week, how many hours did you wear "
                           "your prosthesis?", 0, 24, 0.5, ("not at all", "all day"), "h"),),
            ("hours",), higher_is_better=True),
)}


def measure(measure_id: Any) -> Measure:
    """The measure named ``measure_id``, or a one-line :class:`OutcomeError`."""
    if not isinstance(measure_id, str) or measure_id not in MEASURES:
        raise OutcomeError(f"outcomes: unknown measure {str(measure_id)[:32]!r}; measures are "
                           f"{', '.join(MEASURES)}")
    return MEASURES[measure_id]


def check_measures(ids: Any) -> list[str]:
    """A battery: a non-empty list of distinct measure names, in :data:`MEASURES` order."""
    if not isinstance(ids, list) or not ids or len(ids) > len(MEASURES):
        raise OutcomeError(f"outcomes: a battery is a list of 1-{len(MEASURES)} measures")
    chosen = {measure(i).id for i in ids}
    return [m for m in MEASURES if m in chosen]


def _rating(value: Any, item: Item, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OutcomeError(f"outcomes: {where} must be a number {item.lo:g}..{item.hi:g}")
    if not item.lo <= value <= item.hi:
        raise OutcomeError(f"outcomes: {where} = {value:g} is outside {item.lo:g}..{item.hi:g}")
    steps = (value - item.lo) / item.step
    if abs(steps - round(steps)) > 1e-9:
        raise OutcomeError(f"outcomes: {where} = {value:g} must be in steps of {item.step:g}")
    return int(value) if item.step == int(item.step) else float(value)


def _text(value: Any, limit: int, where: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise OutcomeError(f"outcomes: {where} must be text of at most {limit} characters")
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    if required and not text:
        raise OutcomeError(f"outcomes: {where} must not be empty")
    return text


def _rows(value: Any, limit: int, where: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise OutcomeError(f"outcomes: {where} must be a list of at most {limit} rows")
    if not all(isinstance(r, dict) for r in value):
        raise OutcomeError(f"outcomes: each row of {where} must be an object")
    return value


def _items(m: Measure, answers: Any) -> tuple[dict[str, Any], dict[str, float]]:
    if not isinstance(answers, dict) or set(answers) != {i.id for i in m.items}:
        raise OutcomeError(f"outcomes: {m.id} needs an answer for each of "
                           f"{', '.join(i.id for i in m.items)}")
    clean = {i.id: _rating(answers[i.id], i, f"{m.id} {i.id}") for i in m.items}
    if m.id == "pcs":
        return clean, dict(score_pcs([clean[str(k)] for k in range(1, PCS_ITEM_COUNT + 1)]))
    scores: dict[str, float] = dict(clean)
    if m.id == "interference":
        scores["mean"] = round(sum(clean.values()) / len(clean), 4)
    return clean, scores


def _activities(m: Measure, answers: Any) -> tuple[dict[str, Any], dict[str, float]]:
    rows = _rows(answers.get("activities") if isinstance(answers, dict) else None,
                 MAX_ACTIVITIES, "psfs activities")
    if not rows:
        raise OutcomeError("outcomes: psfs needs at least one activity")
    clean = [{"name": _text(r.get("name"), MAX_NAME, f"psfs activity {k + 1} name"),
              "rating": _rating(r.get("rating"), m.items[0], f"psfs activity {k + 1} rating")}
             for k, r in enumerate(rows)]
    if len({a["name"].casefold() for a in clean}) != len(clean):
        raise OutcomeError("outcomes: psfs activities must have different names")
    return {"activities": clean}, {"mean": round(sum(a["rating"] for a in clean) / len(clean), 4)}


def _medication(answers: Any) -> tuple[dict[str, Any], dict[str, float]]:
    if not isinstance(answers, dict):
        raise OutcomeError("outcomes: medication answers are {rows, text}")
    rows = _rows(answers.get("rows", []), MAX_MEDICATIONS, "medication rows")
    clean = [{"name": _text(r.get("name"), MAX_NAME, f"medication row {k + 1} name"),
              "dose": _text(r.get("dose"), MAX_FIELD, f"medication row {k + 1} dose", False),
              "frequency": _text(r.get("frequency"), MAX_FIELD,
                                 f"medication row {k + 1} frequency", False)}
             for k, r in enumerate(rows)]
    text = _text(answers.get("text"), MAX_FREE_TEXT, "medication notes", False)
    return {"rows": clean, "text": text}, {"count": len(clean)}


def score(measure_id: Any, answers: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """Validate ``answers`` to one measure and score them: (the answers as stored, scores).

    Answers: ``items`` measures take ``{item id: number}``; ``psfs`` takes
    ``{"activities": [{"name", "rating"}]}``; ``medication`` takes ``{"rows": [{"name",
    "dose", "frequency"}], "text"}``. Anything else is a one-line :class:`OutcomeError`."""
    m = measure(measure_id)
    if m.kind == "activities":
        return _activities(m, answers)
    if m.kind == "medication":
        return _medication(answers)
    return _items(m, answers)


# --- the clinic's licensed texts ----------------------------------------------------------
def load_item_texts(path: str | Path) -> dict[str, dict[str, str]]:
    """Item texts from a TOML or JSON file: ``{measure: {item id: text, "prompt": text}}``
    (e.g. ``[pcs]`` with ``1 = "..."`` .. ``13 = "..."``). Unknown measures or items, and
    texts that are not short text, are one-line errors."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
        data = tomllib.loads(raw) if p.suffix.lower() == ".toml" else json.loads(raw)
    except FileNotFoundError:
        raise OutcomeError(f"outcomes: item texts file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutcomeError(f"outcomes: cannot read {p} ({exc})") from None
    except (ValueError, RecursionError):
        raise OutcomeError(f"outcomes: {p} is not valid {p.suffix.lstrip('.').upper() or 'JSON'}"
                           ) from None
    if not isinstance(data, dict):
        raise OutcomeError(f"outcomes: {p} must map measures to their item texts")
    out: dict[str, dict[str, str]] = {}
    for mid, texts in data.items():
        m = measure(mid)
        if not isinstance(texts, dict):
            raise OutcomeError(f"outcomes: [{mid}] in {p} must map item ids to texts")
        allowed = {i.id for i in m.items} | {"prompt"}
        for key, text in texts.items():
            if key not in allowed:
                raise OutcomeError(f"outcomes: {mid} has no item {str(key)[:32]!r} ({p})")
            out.setdefault(mid, {})[key] = _text(text, MAX_ITEM_TEXT, f"{mid} item {key} text")
    return out


def battery(texts: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Measure]:
    """Every measure, with the clinic's ``texts`` (:func:`load_item_texts`) in place of the
    built-in ones where given."""
    out = {}
    for mid, m in MEASURES.items():
        own = (texts or {}).get(mid, {})
        items = tuple(replace(i, text=own.get(i.id, i.text)) for i in m.items)
        out[mid] = replace(m, items=items, prompt=own.get("prompt", m.prompt))
    return out


def battery_from_settings(settings: Any) -> dict[str, Measure]:
    """The battery with ``outcomes.item_texts_file`` applied (built-in texts when empty)."""
    path = getattr(getattr(settings, "outcomes", None), "item_texts_file", "")
    return battery(load_item_texts(path) if path else None)


def battery_or_builtin(settings: Any) -> tuple[dict[str, Measure], str]:
    """:func:`battery_from_settings`, or the built-in texts when the clinic's file cannot be
    used: (the battery, the file's one-line error or ``""``)."""
    try:
        return battery_from_settings(settings), ""
    except OutcomeError as exc:
        return battery(), str(exc)
