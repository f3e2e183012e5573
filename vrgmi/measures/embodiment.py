"""The embodiment questionnaire: items, their subscales, scoring, and the clinic's own texts.

Asked in the headset after a mirror block (:mod:`vrgmi.scenes.embodiment`), in the style of
the published avatar-embodiment questionnaires (Gonzalez-Franco and Peck 2018; Peck and
Gonzalez-Franco 2021; Roth and Latoschik 2020): statements rated on a 7-point agreement
scale from -3 (strongly disagree) to +3 (strongly agree), grouped into the subscales
``ownership``, ``agency``, ``location`` and ``appearance``. vrgmi's own items
(:data:`BUILTIN_ITEMS`) are written for this project (no published item text is copied);
a clinic may load the texts it holds a licence for from a JSON file
(:func:`load_items`, docs/embodiment.md).

Scoring: a reverse-keyed item counts as ``-answer``; each subscale is the mean of its items
(-3..+3), and ``embodiment`` is the mean of the subscale scores, so every subscale weighs
the same whatever its item count. Every bad answer or file is a one-line error.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.i18n import N_

SUBSCALES = ("ownership", "agency", "location", "appearance")
SCALE_MIN, SCALE_MAX = -3, 3
ANCHORS = (N_("strongly disagree"), N_("strongly agree"))
#: the most items and the longest item text a clinic's file may have
MAX_ITEMS, MAX_TEXT = 40, 240


class EmbodimentError(VrgmiError, ValueError):
    """An embodiment item file or answer is not valid (one line)."""


@dataclass(frozen=True)
class Item:
    """One statement: its id (stable across languages and files), subscale, text (English
    for vrgmi's own items, which are translated where shown; the clinic's text as given)
    and whether agreeing means *less* embodiment (reverse-keyed)."""

    id: str
    subscale: str
    text: str
    reverse: bool = False


@dataclass(frozen=True)
class ItemSet:
    """The items asked, where they came from (``vrgmi`` or the file's name) and whether
    their texts go through the translation catalog (vrgmi's own only)."""

    items: tuple[Item, ...]
    source: str = "vrgmi"
    anchors: tuple[str, str] = ANCHORS
    translate: bool = True

    def subscale_items(self, subscale: str) -> list[int]:
        """Indices of the items of ``subscale``."""
        return [i for i, item in enumerate(self.items) if item.subscale == subscale]


BUILTIN_ITEMS = ItemSet((
    Item("own1", "ownership", N_("It felt as if the virtual limb was part of my body.")),
    Item("own2", "ownership", N_("It felt as if the virtual limb was my own missing limb.")),
    Item("own3", "ownership", N_("The virtual limb felt like an object that did not belong "
                                 "to me."), reverse=True),
    Item("agy1", "agency", N_("The virtual limb moved the way I wanted it to move.")),
    Item("agy2", "agency", N_("It felt as if I was the one moving the virtual limb.")),
    Item("agy3", "agency", N_("The virtual limb seemed to move by itself."), reverse=True),
    Item("loc1", "location", N_("I felt my missing limb where I saw the virtual limb.")),
    Item("loc2", "location", N_("My missing limb felt as if it were somewhere other than the "
                                "virtual limb."), reverse=True),
    Item("loc3", "location", N_("The virtual limb seemed to grow from my residual limb.")),
    Item("app1", "appearance", N_("The virtual limb looked like my own limb used to look.")),
    Item("app2", "appearance", N_("The size and shape of the virtual limb felt right for my "
                                  "body.")),
))


def _whole(value: Any, label: str) -> int:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value != int(value)):
        raise EmbodimentError(f"{label} = {value!r} must be a whole number "
                              f"{SCALE_MIN}..{SCALE_MAX}")
    if not SCALE_MIN <= value <= SCALE_MAX:
        raise EmbodimentError(f"{label} = {value!r} is outside {SCALE_MIN}..{SCALE_MAX}")
    return int(value)


def score(items: ItemSet, answers: Sequence[Any]) -> dict[str, float | None]:
    """Subscale means (-3..+3; None for a subscale without items) and ``embodiment``, the
    mean of the subscales scored, from one answer per item."""
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
        raise EmbodimentError("embodiment: answers must be a list of numbers")
    if len(answers) != len(items.items):
        raise EmbodimentError(f"embodiment: {len(answers)} answers given, "
                              f"{len(items.items)} needed")
    keyed = [-a if item.reverse else a for item, a in zip(
        items.items, (_whole(a, f"embodiment item {i + 1}") for i, a in enumerate(answers)))]
    out: dict[str, float | None] = {}
    for sub in SUBSCALES:
        idx = items.subscale_items(sub)
        out[sub] = round(sum(keyed[i] for i in idx) / len(idx), 4) if idx else None
    scored = [v for v in out.values() if v is not None]
    out["embodiment"] = round(sum(scored) / len(scored), 4)
    return out


def _text(value: Any, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EmbodimentError(f"{where} must be non-empty text")
    text = " ".join(value.split())
    if len(text) > limit:
        raise EmbodimentError(f"{where} is {len(text)} characters long (at most {limit})")
    return text


def parse_items(data: Any, source: str) -> ItemSet:
    """An :class:`ItemSet` from a clinic file's parsed JSON (see :func:`load_items`)."""
    name = f"embodiment items {source}"
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise EmbodimentError(f"{name}: expected an object with a list \"items\"")
    unknown = set(data) - {"items", "anchors", "language", "title"}
    if unknown:
        raise EmbodimentError(f"{name}: unknown key {sorted(unknown)[0]!r} (keys: items, "
                              "anchors, language, title)")
    rows = data["items"]
    if not 1 <= len(rows) <= MAX_ITEMS:
        raise EmbodimentError(f"{name}: {len(rows)} items (1..{MAX_ITEMS} allowed)")
    items, seen = [], set()
    for k, row in enumerate(rows, 1):
        where = f"{name}: item {k}"
        if not isinstance(row, dict):
            raise EmbodimentError(f"{where} must be an object with id, subscale and text")
        extra = set(row) - {"id", "subscale", "text", "reverse"}
        if extra:
            raise EmbodimentError(f"{where} has an unknown key {sorted(extra)[0]!r}")
        item_id = _text(row.get("id"), f"{where}: id", 32)
        if item_id in seen:
            raise EmbodimentError(f"{where}: id {item_id!r} is used twice")
        seen.add(item_id)
        if row.get("subscale") not in SUBSCALES:
            raise EmbodimentError(f"{where}: subscale {row.get('subscale')!r} is not one of "
                                  f"{', '.join(SUBSCALES)}")
        reverse = row.get("reverse", False)
        if not isinstance(reverse, bool):
            raise EmbodimentError(f"{where}: reverse must be true or false")
        items.append(Item(item_id, row["subscale"], _text(row.get("text"), f"{where}: text"),
                          reverse))
    anchors = data.get("anchors", list(ANCHORS))
    if not isinstance(anchors, list) or len(anchors) != 2:
        raise EmbodimentError(f"{name}: anchors must be a list of two texts (the -3 and +3 "
                              "ends)")
    return ItemSet(tuple(items), source, (_text(anchors[0], f"{name}: anchor 1", 40),
                                          _text(anchors[1], f"{name}: anchor 2", 40)),
                   translate=False)


def load_items(path: str | Path | None) -> ItemSet:
    """The clinic's items from the JSON file at ``path`` (``{"items": [{"id", "subscale",
    "text", "reverse"?}], "anchors"?: [low, high]}``); vrgmi's own without a path."""
    if not path:
        return BUILTIN_ITEMS
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EmbodimentError(f"embodiment items: file {p} does not exist") from None
    except IsADirectoryError:
        raise EmbodimentError(f"embodiment items: {p} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise EmbodimentError(f"embodiment items: {p} is not UTF-8 text") from None
    except OSError as exc:
        raise EmbodimentError(f"embodiment items: cannot read {p} "
                              f"({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise EmbodimentError(f"embodiment items: {p} is not valid JSON (line {exc.lineno}: "
                              f"{exc.msg})") from None
    except RecursionError:
        raise EmbodimentError(f"embodiment items: {p} is nested too deeply") from None
    return parse_items(data, p.name)
