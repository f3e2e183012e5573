"""The phantom as the patient feels it: a held posture and telescoping (no Panda3D).

Many amputees feel their phantom in a fixed, often painful posture (a clenched fist, a
twisted wrist, curled toes) and many feel it shrunk toward the stump ("telescoping": the
hand or foot close to, or inside, the stump). The shaper poses the virtual limb that way
and blends it with the mirrored intact limb by a weight ``w`` (1 = the felt phantom,
0 = the pure mirror image); the schedule in :mod:`vrgmi.shaping` lowers ``w`` session by
session. docs/phantom-shaping.md.

Per frame (:meth:`PhantomShaper.apply`, after the phantom's IK): the hand / foot joint
angles (forearm pronation and everything distal of it; ankle and distal) become
``mirror + w (posture - mirror)``; the proximal angles stay the mirror's; the limb is posed
again by forward kinematics on a copy of the phantom's geometry whose forearm / shank is
``telescoping`` of its missing length shorter (the joint angles are kept, so the hand moves
toward the stump along the forearm). Everything is allocated when the shape is set.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from vrgmi.body.levels import ResidualLayout
from vrgmi.body.postures import FOOT_POSTURES, HAND_POSTURES, foot_posture, hand_posture
from vrgmi.errors import VrgmiError
from vrgmi.ik import kernels as K
from vrgmi.ik.limits import ARM_DOF_NAMES, ARM_ROM, LEG_DOF_NAMES, LEG_ROM
from vrgmi.ik.solver import FIST_DEG, OPEN_DEG, TOE_CURL_DEG, ArmSolver, LegSolver, LimbSolver


class ShapeError(VrgmiError, ValueError):
    """A phantom shape value is wrong (unknown posture, telescoping out of range ...)."""


#: the first DOF the shape moves: forearm pronation (arm), ankle dorsiflexion (leg)
DISTAL_FROM = {"arm": ARM_DOF_NAMES.index("forearm_pronation"),
               "leg": LEG_DOF_NAMES.index("ankle_dorsiflexion")}

#: postures reported by phantom-limb patients that the laterality tables do not have
#: (degrees, conventions of vrgmi.ik.limits; every value inside the joint limits)
_FELT_ARM: dict[str, dict[str, float]] = {
    # fingers dug into the palm, wrist flexed and ulnar-deviated
    "clenched_fist": {"wrist_flexion": 35.0, "wrist_ulnar_deviation": 15.0},
    # forearm fully pronated, wrist flexed and deviated: a twisted, cramped hand
    "twisted_wrist": {"forearm_pronation": 80.0, "wrist_flexion": 50.0,
                      "wrist_ulnar_deviation": 25.0},
}
_FELT_ARM_BASE = {"clenched_fist": "fist", "twisted_wrist": "relaxed"}
_FELT_LEG: dict[str, dict[str, float]] = {
    # toes clawed, foot pointed and turned in (a cramped foot)
    "curled_toes": {"toe_flexion": 45.0, "ankle_dorsiflexion": -30.0,
                    "subtalar_inversion": 15.0},
}
#: every posture the shaper knows, per limb
SHAPE_POSTURES: dict[str, tuple[str, ...]] = {
    "arm": tuple(_FELT_ARM) + HAND_POSTURES,
    "leg": tuple(_FELT_LEG) + FOOT_POSTURES,
}
#: the name of a posture captured from the intact limb
CAPTURED = "captured"

_RELAXED_FINGERS = {f"{f}_{j}": v for f in ("index", "middle", "ring", "little")
                    for j, v in (("mcp_flexion", 30.0), ("pip_flexion", 40.0),
                                 ("dip_flexion", 20.0))}


def _limits(rom: tuple) -> dict[str, tuple[float, float]]:
    return {row[0]: (row[1], row[2]) for row in rom}


def _felt(limb: str, name: str) -> np.ndarray:
    names, rom = (ARM_DOF_NAMES, ARM_ROM) if limb == "arm" else (LEG_DOF_NAMES, LEG_ROM)
    if limb == "arm":
        base = _FELT_ARM_BASE[name]
        vec = np.array(hand_posture("open")) if base == "relaxed" else np.array(hand_posture(base))
        extra = dict(_FELT_ARM[name])
        if base == "relaxed":
            extra.update(_RELAXED_FINGERS)
    else:
        vec = np.array(foot_posture("neutral"))
        extra = _FELT_LEG[name]
    lim = _limits(rom)
    for dof, deg in extra.items():
        lo, hi = lim[dof]
        if not lo <= deg <= hi:        # a table bug, caught at import
            raise RuntimeError(f"shape posture {name}: {dof} {deg} outside {lo}..{hi}")
        vec[names.index(dof)] = math.radians(deg)
    return vec


_FELT = {(limb, n): _felt(limb, n) for limb, table in (("arm", _FELT_ARM), ("leg", _FELT_LEG))
         for n in table}


def posture_vector(limb: str, name: str) -> np.ndarray:
    """The DOF angles (radians, a new array) of a shaping posture of ``limb`` 'arm' / 'leg'."""
    if limb not in SHAPE_POSTURES:
        raise ShapeError(f"shape: limb {limb!r} is not 'arm' or 'leg'")
    if (limb, name) in _FELT:
        return _FELT[(limb, name)].copy()
    if name in SHAPE_POSTURES[limb]:
        return np.array(hand_posture(name) if limb == "arm" else foot_posture(name))
    raise ShapeError(f"shape: posture {str(name)[:40]!r} is not one of "
                     f"{', '.join(SHAPE_POSTURES[limb])} (or {CAPTURED})")


def telescoped_length(layout: ResidualLayout, lengths: tuple[float, float, float],
                      telescoping: float) -> float:
    """The phantom forearm / shank length (m) with ``telescoping`` (0..1) of its missing
    part taken away; the real part of a stump on that segment stays."""
    full = lengths[1]
    real = layout.stump_end_offset if layout.level.stump_segment == 1 else 0.0
    return full - telescoping * (full - real)


def telescoping_applies(layout: ResidualLayout) -> bool:
    """Telescoping shortens a (partly) missing forearm / shank: above it (a stump on the
    upper arm / thigh) or through it; not at the wrist / ankle or distal of it."""
    return layout.level.stump_segment in (0, 1)


@njit(cache=True)
def blend_distal_kernel(mirror, shaped, first, w, out):
    """``out`` = ``mirror`` with DOFs ``first..`` moved ``w`` of the way to ``shaped``."""
    for d in range(mirror.shape[0]):
        if d < first:
            out[d] = mirror[d]
        else:
            out[d] = mirror[d] + w * (shaped[d] - mirror[d])


class PhantomShaper:
    """The shape of one phantom limb and the buffers that pose it each frame.

    ``posture`` (name), ``weight`` (0..1), ``telescoping`` (0..``max_telescoping``);
    :meth:`set` changes them (allocates; at a command or a session start),
    :meth:`apply` poses the phantom solver's outputs in place (allocates nothing).
    """

    def __init__(self, limb: str, side: int, layout: ResidualLayout,
                 lengths: tuple[float, float, float], ankle_height: float,
                 max_telescoping: float) -> None:
        self.limb, self.side, self.layout = limb, side, layout
        self.lengths = lengths
        self.max_telescoping = max_telescoping
        self.first = DISTAL_FROM[limb]
        if limb == "arm":
            self.solver: LimbSolver = ArmSolver(*lengths)
        else:
            self.solver = LegSolver(*lengths, ankle_height)
        self._ankle_height = ankle_height
        self.posture = "open" if limb == "arm" else "neutral"
        self.target = posture_vector(limb, self.posture)       # the posture's angles
        self.weight = 0.0
        self.telescoping = 0.0
        self.segment_scale = 1.0                 # phantom forearm / shank over its full length
        self._angles = np.zeros(len(self.solver.dof_names))

    @property
    def active(self) -> bool:
        """True when the phantom differs from the mirror image."""
        return self.weight > 0.0 or self.telescoping > 0.0

    def check(self, posture: str | None, telescoping: float | None,
              weight: float | None) -> tuple[str, float, float]:
        """The values :meth:`set` would take, checked (one-line :class:`ShapeError`)."""
        posture = self.posture if posture is None else posture
        if posture != CAPTURED:
            posture_vector(self.limb, posture)
        telescoping = self.telescoping if telescoping is None else telescoping
        weight = self.weight if weight is None else weight
        for key, v, hi in (("telescoping", telescoping, self.max_telescoping),
                           ("weight", weight, 1.0)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) \
                    or not math.isfinite(v) or not 0.0 <= v <= hi:
                raise ShapeError(f"shape: {key} = {str(v)[:20]} must be a number 0..{hi:g}")
        if telescoping > 0.0 and not telescoping_applies(self.layout):
            raise ShapeError(f"shape: telescoping shortens a missing forearm / shank; at "
                             f"{self.layout.level.name} it is not missing")
        return posture, float(telescoping), float(weight)

    def set(self, posture: str | None = None, telescoping: float | None = None,
            weight: float | None = None, captured: np.ndarray | None = None) -> None:
        """Change the shape; ``captured`` (DOF angles) with ``posture = 'captured'``."""
        posture, telescoping, weight = self.check(posture, telescoping, weight)
        if posture == CAPTURED:
            if captured is not None:
                self.target[:] = captured
            elif self.posture != CAPTURED:
                raise ShapeError("shape: capture a posture from the intact limb first")
        else:
            self.target[:] = posture_vector(self.limb, posture)
        self.posture, self.weight = posture, weight
        if telescoping != self.telescoping or self.segment_scale == 1.0:
            L1, L2, L3 = self.lengths
            short = telescoped_length(self.layout, self.lengths, telescoping)
            if self.limb == "arm":
                geometry = K.arm_geometry(L1, short, L3, self.solver.limits, FIST_DEG,
                                          OPEN_DEG)
            else:
                geometry = K.leg_geometry(L1, short, L3, self._ankle_height,
                                          self.solver.limits, TOE_CURL_DEG)
            self.solver.geometry[:] = geometry
            self.segment_scale = short / L2
        self.telescoping = telescoping

    def capture(self, intact: LimbSolver) -> np.ndarray:
        """Take the intact limb's hand / foot angles now as the shape's posture (the
        solvers' angles are those of the canonical right limb, so they fit either side)."""
        angles = np.array(intact.angles)
        self.set(CAPTURED, captured=angles)
        return angles

    def apply(self, phantom: LimbSolver) -> None:
        """Pose ``phantom`` (solved toward the mirror) as shaped, in place."""
        if not self.active:
            return
        blend_distal_kernel(phantom.angles, self.target, self.first, self.weight, self._angles)
        s = self.solver
        s.torso[:] = phantom.torso               # forward kinematics uses torso and root
        s.root[:] = phantom.root
        if self.limb == "arm":
            K.arm_forward(s.inputs, self._angles, s.geometry, self.side, s.positions,
                          s.rotations)
        else:
            K.leg_forward(s.inputs, self._angles, s.geometry, self.side, s.positions,
                          s.rotations)
        phantom.positions[:] = s.positions
        phantom.rotations[:] = s.rotations
        phantom.angles[:] = self._angles

    def as_dict(self) -> dict:
        """The shape now, JSON-ready (events, the companion's status)."""
        return {"posture": self.posture, "weight": round(self.weight, 4),
                "telescoping": round(self.telescoping, 4),
                "segment_scale": round(self.segment_scale, 4)}


def warmup() -> None:
    """Compile (or load from the cache) the shaping kernel."""
    a = np.zeros(4)
    blend_distal_kernel(a, a, 1, 0.5, np.zeros(4))
