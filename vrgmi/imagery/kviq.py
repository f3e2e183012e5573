"""The Kinesthetic and Visual Imagery Questionnaire (KVIQ; Malouin et al. 2007, J Neurol
Phys Ther 31(1):20-29): items, rating anchors, validation and totals.

Each movement is first executed, then imagined, and rated on two 1-5 scales: visual clarity
(V) and kinesthetic intensity (K). The KVIQ-20 has 10 movements (20 ratings: totals 10-50
per subscale), the KVIQ-10 five of them (10 ratings: totals 5-25 per subscale); see
docs/imagery.md. Two items are axial (neck, trunk): no limb rig can show them, so the
imagery library has no movement for them, and a session that rates only limb items reports
item sums without the instrument totals (never a prorated guess). No Panda3D here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vrgmi.errors import VrgmiError

SUBSCALES = ("visual", "kinesthetic")
RATING_RANGE = (1, 5)

#: anchor text of each rating, 5 (best) .. 1
VISUAL_ANCHORS = {5: "Image as clear as seeing", 4: "Clear image", 3: "Moderately clear image",
                  2: "Blurry image", 1: "No image"}
KINESTHETIC_ANCHORS = {5: "As intense as executing the action", 4: "Intense",
                       3: "Moderately intense", 2: "Mildly intense", 1: "No sensation"}
ANCHORS = {"visual": VISUAL_ANCHORS, "kinesthetic": KINESTHETIC_ANCHORS}
QUESTIONS = {"visual": "How clear was the image?",
             "kinesthetic": "How intense was the feeling of movement?"}


class KviqError(VrgmiError, ValueError):
    """A KVIQ rating or item is invalid."""


@dataclass(frozen=True)
class KviqItem:
    """One KVIQ movement: its number in the KVIQ-20, body region, and KVIQ-10 membership."""

    id: str
    number: int
    name: str
    region: str          # "axial" | "arm" | "leg"
    in_kviq10: bool


#: the ten KVIQ-20 movements in their order (Malouin et al. 2007, table 1); the KVIQ-10
#: keeps forward shoulder flexion, thumb-fingers opposition, forward trunk flexion, hip
#: abduction and foot tapping
KVIQ_ITEMS: dict[str, KviqItem] = {i.id: i for i in (
    KviqItem("neck_flexion_extension", 1, "Neck flexion-extension", "axial", False),
    KviqItem("shoulder_elevation", 2, "Shoulder elevation (shrugging)", "arm", False),
    KviqItem("forward_shoulder_flexion", 3, "Forward shoulder flexion", "arm", True),
    KviqItem("elbow_flexion_extension", 4, "Elbow flexion-extension", "arm", False),
    KviqItem("thumb_fingers_opposition", 5, "Thumb-fingers opposition", "arm", True),
    KviqItem("forward_trunk_flexion", 6, "Forward trunk flexion", "axial", True),
    KviqItem("knee_extension", 7, "Knee extension", "leg", False),
    KviqItem("hip_abduction", 8, "Hip abduction", "leg", True),
    KviqItem("foot_tapping", 9, "Foot tapping", "leg", True),
    KviqItem("foot_external_rotation", 10, "Foot external rotation", "leg", False),
)}
KVIQ10 = tuple(i.id for i in KVIQ_ITEMS.values() if i.in_kviq10)
KVIQ20 = tuple(KVIQ_ITEMS)


def check_rating(value: Any, subscale: str = "rating") -> int:
    """``value`` as an int 1..5, or a one-line :class:`KviqError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise KviqError(f"KVIQ {subscale} rating {value!r} must be a whole number 1-5")
    v = int(value)
    if not RATING_RANGE[0] <= v <= RATING_RANGE[1]:
        raise KviqError(f"KVIQ {subscale} rating {v} is outside 1-5")
    return v


@dataclass(frozen=True)
class KviqAnswer:
    """The two ratings of one item (None where the patient skipped or timed out)."""

    item: str
    visual: int | None
    kinesthetic: int | None

    def __post_init__(self) -> None:
        if self.item not in KVIQ_ITEMS:
            raise KviqError(f"unknown KVIQ item {self.item!r}")
        for name in SUBSCALES:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_rating(value, name))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: item, its KVIQ-20 number, both ratings."""
        return {"item": self.item, "number": KVIQ_ITEMS[self.item].number,
                "visual": self.visual, "kinesthetic": self.kinesthetic}


def _total(answers: dict[str, KviqAnswer], items: tuple[str, ...], subscale: str) -> int | None:
    values = [getattr(answers[i], subscale) if i in answers else None for i in items]
    return None if any(v is None for v in values) else sum(values)


def scores(answers: list[KviqAnswer]) -> dict[str, Any]:
    """Sums over the rated items and the instrument totals where complete.

    ``visual_sum`` / ``kinesthetic_sum`` and ``visual_n`` / ``kinesthetic_n`` cover every
    rating given; ``kviq10_visual`` etc. are the KVIQ-10 (5-25) and KVIQ-20 (10-50) totals,
    None unless every item of that version has that rating. A repeated item counts once
    (its last answer).
    """
    last = {a.item: a for a in answers}
    out: dict[str, Any] = {}
    for sub in SUBSCALES:
        given = [getattr(a, sub) for a in last.values() if getattr(a, sub) is not None]
        out[f"{sub}_sum"] = sum(given)
        out[f"{sub}_n"] = len(given)
        out[f"{sub}_mean"] = round(sum(given) / len(given), 3) if given else None
    for name, items in (("kviq10", KVIQ10), ("kviq20", KVIQ20)):
        for sub in SUBSCALES:
            out[f"{name}_{sub}"] = _total(last, items, sub)
    return out
