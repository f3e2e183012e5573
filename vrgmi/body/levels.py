"""Amputation levels (CLINICAL.md) and where each puts the stump end and the virtual limb.

Segments are numbered per limb: 0 upper arm / thigh, 1 forearm / shank, 2 hand / foot.
Joint indices refer to ``ARM_JOINT_NAMES`` / ``LEG_JOINT_NAMES``: joints before
``first_virtual_joint`` are real (tracked or estimated), the rest are drawn by the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.skeleton import ARM_JOINT_NAMES, LEG_JOINT_NAMES, BodyModelError, side_index
from vrgmi.tracking.frame import SIDES

#: bounds of an adjustable residual fraction (trans- and partial levels)
RESIDUAL_FRACTION_RANGE = (0.1, 0.9)
#: heel offset behind the ankle as a fraction of foot length (see skeleton.rest_foot_positions)
_HEEL_BEHIND_ANKLE = 0.22


@dataclass(frozen=True)
class AmputationLevel:
    """One amputation level."""

    name: str
    limb: str                         # 'arm' | 'leg'
    stump_segment: int                # 0 upper arm/thigh, 1 forearm/shank, 2 hand/foot
    default_residual_fraction: float  # where along the stump segment the residual ends
    first_virtual_joint: int          # index into ARM/LEG_JOINT_NAMES
    tracker_joint: str | None         # XR_HTCX role suffix of the residual limb's tracker
    adjustable: bool                  # may the residual fraction be set per patient?
    description: str

    def residual_tracker_role(self, side: int | str) -> str | None:
        """The XR_HTCX_vive_tracker_interaction role of the residual limb's tracker, e.g.
        'left_elbow'; None where no residual segment can carry one."""
        if self.tracker_joint is None:
            return None
        return f"{SIDES[side_index(side)]}_{self.tracker_joint}"

    @property
    def joint_names(self) -> tuple[str, ...]:
        """All joint names of this limb."""
        return ARM_JOINT_NAMES if self.limb == "arm" else LEG_JOINT_NAMES


def _lvl(name, limb, seg, frac, first, tracker, adjustable, description):
    return name, AmputationLevel(name, limb, seg, frac, first, tracker, adjustable, description)


LEVELS: dict[str, AmputationLevel] = dict([
    _lvl("partial_hand", "arm", 2, 0.45, 4, "wrist", True,
         "partial hand: fingers (and part of the metacarpals) missing; palm real"),
    _lvl("wrist_disarticulation", "arm", 1, 1.0, 3, "wrist", False,
         "wrist disarticulation: the whole hand missing, full-length forearm"),
    _lvl("transradial", "arm", 1, 0.5, 2, "wrist", True,
         "transradial (below elbow): part of the forearm remains"),
    _lvl("elbow_disarticulation", "arm", 0, 1.0, 2, "elbow", False,
         "elbow disarticulation: full-length upper arm, forearm and hand missing"),
    _lvl("transhumeral", "arm", 0, 0.5, 1, "elbow", True,
         "transhumeral (above elbow): part of the upper arm remains"),
    _lvl("shoulder_disarticulation", "arm", 0, 0.0, 1, None, False,
         "shoulder disarticulation: the whole arm missing"),
    _lvl("partial_foot", "leg", 2, 0.6, 4, "foot", True,
         "partial foot: forefoot and toes missing; heel and hindfoot real"),
    _lvl("ankle_syme", "leg", 1, 1.0, 3, "ankle", False,
         "ankle (Syme): through the ankle, heel pad kept; the foot missing"),
    _lvl("transtibial", "leg", 1, 0.5, 2, "ankle", True,
         "transtibial (below knee): part of the shank remains"),
    _lvl("knee_disarticulation", "leg", 0, 1.0, 2, "knee", False,
         "knee disarticulation: full-length thigh, shank and foot missing"),
    _lvl("transfemoral", "leg", 0, 0.5, 1, "knee", True,
         "transfemoral (above knee): part of the thigh remains"),
    _lvl("hip_disarticulation", "leg", 0, 0.0, 1, None, False,
         "hip disarticulation: the whole leg missing"),
])


def get_level(name: str) -> AmputationLevel:
    """The level called ``name``; a one-line error lists the valid names."""
    try:
        return LEVELS[name]
    except (KeyError, TypeError):
        raise BodyModelError(
            f"unknown amputation level {name!r}; valid: {', '.join(LEVELS)}") from None


@dataclass(frozen=True)
class ResidualLayout:
    """Where the residual limb ends for one patient, and which joints are real."""

    level: AmputationLevel
    residual_fraction: float
    segment_length: float             # length of the stump segment, metres
    stump_end_offset: float           # metres along the stump segment from its proximal end
                                      # (for the foot: from the heel, along the foot)
    stump_end_rest: np.ndarray        # (3,) stump end from the segment's proximal joint,
                                      # rest pose, torso axes, right side
    real_joints: tuple[str, ...]
    virtual_joints: tuple[str, ...]

    @classmethod
    def build(cls, level: AmputationLevel | str, lengths: SegmentLengths,
              residual_fraction: float | None = None) -> "ResidualLayout":
        """Layout for ``level`` and the patient's ``lengths``; ``residual_fraction``
        (0.1..0.9, trans- and partial levels only) overrides the level's default."""
        lvl = get_level(level) if isinstance(level, str) else level
        frac = lvl.default_residual_fraction
        if residual_fraction is not None:
            lo, hi = RESIDUAL_FRACTION_RANGE
            if not lvl.adjustable:
                raise BodyModelError(f"{lvl.name} has a fixed residual length; "
                                     "residual_fraction applies to trans- and partial levels")
            if not isinstance(residual_fraction, (int, float)) or not (
                    lo <= residual_fraction <= hi):
                raise BodyModelError(
                    f"residual_fraction {residual_fraction!r} is outside {lo:g}..{hi:g}")
            frac = float(residual_fraction)
        seg_len = lengths.limb(lvl.limb)[lvl.stump_segment]
        offset = frac * seg_len
        if lvl.limb == "leg" and lvl.stump_segment == 2:
            # the foot runs forward from the heel, below the ankle joint
            rest = np.array([0.0, offset - _HEEL_BEHIND_ANKLE * seg_len, -lengths.ankle_height])
        else:
            rest = np.array([0.0, 0.0, -offset])  # hanging straight down in the rest pose
        rest.setflags(write=False)
        names = lvl.joint_names
        return cls(lvl, frac, seg_len, offset, rest, names[:lvl.first_virtual_joint],
                   names[lvl.first_virtual_joint:])
