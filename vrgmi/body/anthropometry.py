"""Segment lengths of the patient's body, from standing height or measured.

Length ratios (fractions of standing height H) are Drillis & Contini 1966 as reported in
Winter, "Biomechanics and Motor Control of Human Movement", 4th ed., 2009, fig. 4.1.
Seated heights and joint-centre spacings are not in that figure; they are derived or
estimated as noted per field (docs/body-model.md) and are refined by the torso calibration.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from vrgmi.body.skeleton import BodyModelError

HEIGHT_RANGE = (1.2, 2.2)

#: field -> (fraction of standing height, plausible adult range in metres)
RATIOS: dict[str, tuple[float, tuple[float, float]]] = {
    "upper_arm": (0.186, (0.21, 0.43)),        # shoulder - elbow joint centres (Winter)
    "forearm": (0.146, (0.16, 0.34)),          # elbow - wrist (Winter)
    "hand": (0.108, (0.12, 0.25)),             # wrist crease - middle fingertip (Winter)
    "thigh": (0.245, (0.27, 0.57)),            # hip - knee (Winter)
    "shank": (0.246, (0.27, 0.57)),            # knee - ankle (Winter)
    "foot": (0.152, (0.17, 0.35)),             # heel - toe tip (Winter)
    "ankle_height": (0.039, (0.04, 0.10)),     # ankle joint above the sole (Winter)
    "shoulder_width": (0.259, (0.30, 0.59)),   # Winter's shoulder width
    "hip_width": (0.191, (0.22, 0.45)),        # Winter's hip width
    # glenohumeral centre spacing: ~80 % of Winter's shoulder width (estimate)
    "shoulder_joint_spacing": (0.207, (0.24, 0.47)),
    # hip joint centre spacing: ~0.10 H, about 17.5 cm at 1.75 m (estimate)
    "hip_joint_spacing": (0.100, (0.11, 0.23)),
    # seated trunk upright: heights above the hip joint as standing (Winter: shoulder 0.818 H,
    # eye 0.936 H, hip 0.530 H) plus the hip joint ~0.055 H above the seat (estimate)
    "hip_height_seated": (0.055, (0.05, 0.13)),
    "shoulder_height_seated": (0.343, (0.39, 0.79)),
    "eye_height_seated": (0.461, (0.53, 1.05)),
}


@dataclass(frozen=True)
class SegmentLengths:
    """Body segment lengths in metres (validated on construction)."""

    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shank: float
    foot: float
    ankle_height: float
    shoulder_width: float
    hip_width: float
    shoulder_joint_spacing: float
    hip_joint_spacing: float
    hip_height_seated: float
    shoulder_height_seated: float
    eye_height_seated: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            lo, hi = RATIOS[f.name][1]
            if not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise BodyModelError(f"{f.name} = {v!r} m is outside the plausible adult "
                                     f"range {lo:g}..{hi:g} m")
        if self.eye_height_seated <= self.shoulder_height_seated:
            raise BodyModelError("eye_height_seated must be above shoulder_height_seated")

    @classmethod
    def from_height(cls, height_m: float) -> "SegmentLengths":
        """Standard proportions for a standing height in metres (1.2..2.2)."""
        lo, hi = HEIGHT_RANGE
        if not isinstance(height_m, (int, float)) or not lo <= height_m <= hi:
            raise BodyModelError(f"height {height_m!r} m is outside {lo:g}..{hi:g} m")
        return cls(**{name: ratio * height_m for name, (ratio, _) in RATIOS.items()})

    @classmethod
    def measured(cls, height_m: float | None = None, **values: float) -> "SegmentLengths":
        """Measured lengths (metres); fields not given come from ``from_height(height_m)``."""
        unknown = sorted(set(values) - set(RATIOS))
        if unknown:
            raise BodyModelError(f"unknown segment {unknown[0]!r}; valid: {', '.join(RATIOS)}")
        if height_m is None:
            missing = [n for n in RATIOS if n not in values]
            if missing:
                raise BodyModelError(f"missing {', '.join(missing)} (or give height_m)")
            return cls(**values)
        return dataclasses.replace(cls.from_height(height_m), **values)

    def limb(self, limb: str) -> tuple[float, float, float]:
        """The three segment lengths of 'arm' (upper arm, forearm, hand) or 'leg' (thigh,
        shank, foot)."""
        if limb == "arm":
            return (self.upper_arm, self.forearm, self.hand)
        if limb == "leg":
            return (self.thigh, self.shank, self.foot)
        raise BodyModelError(f"limb {limb!r} is not 'arm' or 'leg'")
