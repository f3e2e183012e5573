"""Laterality stimuli: which hand or foot, in which posture, view and rotation, holding what.

Geometry (engine space: the patient looks along +Y, +X is to their right, +Z up). A stimulus
is the limb model in its rest pose (arm hanging, palm medial; leg straight, toes forward),
posed with a :mod:`vrgmi.body.postures` posture, then turned as a whole by
:meth:`Stimulus.quaternion` about its centre:

1. the **view** puts the fingers (toes) up and shows the patient the back of the hand / top
   of the foot (``back`` / ``top``) or the palm / sole (``palm`` / ``sole``);
2. **in-plane** rotation by ``angles[0]`` about the line of sight, positive = toward the
   body midline (medial): counter-clockwise as the patient sees it for a right limb,
   clockwise for a left one;
3. **turn** by ``angles[1]`` about the vertical picture axis, then **tilt** by ``angles[2]``
   about the horizontal picture axis (rotations in depth).

All angles are given for the right limb; a left stimulus is the exact mirror image (across
the vertical plane of the line of sight) of the right stimulus with the same parameters, as
the engine's left model is the mirrored right one. So left and right stimuli differ only in
laterality, and "medial" means the same for both.

**Medial / lateral** (after Parsons 1994; CLINICAL.md "Laterality task"): let ``d`` be the
direction the fingers (toes) point after the whole rotation. A stimulus is ``medial`` when
``d`` points toward the body midline of the limb's owner by more than 15 deg out of the
picture's vertical plane (``-d.x >= sin 15 deg`` for a right limb, ``+d.x`` for a left one),
``lateral`` when it points as far away from the midline, and ``neutral`` otherwise (fingers
up or down, or pointing at or away from the patient).

No Panda3D here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from vrgmi.body.postures import CONTEXT_POSTURES, FOOT_POSTURES, HAND_POSTURES
from vrgmi.errors import VrgmiError
from vrgmi.spatial import matrix_to_quat, quat_from_axis_angle, quat_mul, quat_rotate

LIMBS = ("hand", "foot")
SIDES = ("left", "right")
#: per limb, the two views: (dorsal, palmar)
VIEWS = {"hand": ("back", "palm"), "foot": ("top", "sole")}
#: rotation axes in composition order: line of sight, vertical, horizontal
AXES = ("in_plane", "turn", "tilt")
#: the ``axes`` setting: which axes a stimulus may be rotated about
AXIS_MODES = ("in_plane", "1", "2", "3")
#: which postures a posture set allows, per limb
POSTURE_SETS = {
    "open": {"hand": ("open",), "foot": ("neutral",)},
    "basic": {"hand": ("open", "fist", "point"), "foot": ("neutral", "toes_up")},
    "all": {"hand": tuple(p for p in HAND_POSTURES if p != "grasp"), "foot": FOOT_POSTURES},
}
#: context objects a hand holds / a foot touches
CONTEXT_OBJECTS = {"hand": ("cup", "ball", "pen"), "foot": ("ball",)}
#: how far out of the picture's vertical plane the fingers must point to count as medial
#: or lateral
MEDIAL_LATERAL_DEG = 15.0


class StimulusError(VrgmiError, ValueError):
    """A stimulus or its allowed ranges are wrong."""


def _m(cols: list[list[float]]) -> np.ndarray:
    """Quaternion of the rotation whose columns are the images of x, y, z."""
    return matrix_to_quat(np.ascontiguousarray(np.array(cols, dtype=np.float64).T))


#: RIGHT-limb view rotations from the rest pose (columns: where rest x, y, z go)
_VIEW_QUATS = {
    # fingers (rest -z) up, dorsum (rest +x) toward the patient (-y), thumb to their left
    ("hand", "back"): _m([[0, -1, 0], [-1, 0, 0], [0, 0, -1]]),
    # fingers up, palm toward the patient, thumb to their right
    ("hand", "palm"): _m([[0, 1, 0], [1, 0, 0], [0, 0, -1]]),
    # toes (rest +y) up, top of the foot (rest +z) toward the patient, big toe to the left
    ("foot", "top"): _m([[1, 0, 0], [0, 0, 1], [0, -1, 0]]),
    # toes up, sole toward the patient, big toe to the right
    ("foot", "sole"): _m([[-1, 0, 0], [0, 0, 1], [0, 1, 0]]),
}
#: the direction the fingers / toes point in the rest pose
_POINTING = {"hand": np.array([0.0, 0.0, -1.0]), "foot": np.array([0.0, 1.0, 0.0])}
#: rotation axes (right limb): in-plane about -Y (toward the patient: counter-clockwise as
#: seen = fingers to the left = medial for a right limb), turn about +Z, tilt about +X
_AXIS_VECTORS = (np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0]),
                 np.array([1.0, 0.0, 0.0]))


def mirror_quat(q: np.ndarray) -> np.ndarray:
    """The rotation ``q`` mirrored across the X = 0 plane (right limb -> left limb)."""
    return np.array([q[0], -q[1], -q[2], q[3]])


def rotation_quat(angles_deg: tuple[float, float, float]) -> np.ndarray:
    """The RIGHT-limb rotation (4,) for (in-plane, turn, tilt) degrees: tilt * turn * in-plane."""
    q = np.array([0.0, 0.0, 0.0, 1.0])
    for axis, deg in zip(_AXIS_VECTORS, angles_deg):
        q = quat_mul(quat_from_axis_angle(axis, math.radians(deg)), q)
    return q


def quat_angle_deg(q: np.ndarray) -> float:
    """The rotation angle (0..180 deg) of unit quaternion ``q``."""
    return math.degrees(2.0 * math.acos(min(1.0, abs(float(q[3])))))


@dataclass(frozen=True)
class Stimulus:
    """One laterality picture. ``angles`` are (in-plane, turn, tilt) degrees, in the sign
    convention of the RIGHT limb (the left one is its mirror image)."""

    limb: str
    side: str
    posture: str
    view: str
    angles: tuple[float, float, float] = (0.0, 0.0, 0.0)
    context: str | None = None

    def __post_init__(self) -> None:
        if self.limb not in LIMBS:
            raise StimulusError(f"stimulus limb {self.limb!r} is not one of {', '.join(LIMBS)}")
        if self.side not in SIDES:
            raise StimulusError(f"stimulus side {self.side!r} is not left or right")
        postures = HAND_POSTURES if self.limb == "hand" else FOOT_POSTURES
        if self.posture not in postures:
            raise StimulusError(f"{self.limb} posture {self.posture!r} is not one of "
                                f"{', '.join(postures)}")
        if self.view not in VIEWS[self.limb]:
            raise StimulusError(f"{self.limb} view {self.view!r} is not one of "
                                f"{', '.join(VIEWS[self.limb])}")
        if len(self.angles) != 3 or not all(math.isfinite(a) and -180.0 <= a <= 180.0
                                            for a in self.angles):
            raise StimulusError(f"stimulus angles {self.angles!r} must be 3 values in "
                                "-180..180 degrees")
        if self.context is not None and self.context not in CONTEXT_OBJECTS[self.limb]:
            raise StimulusError(f"{self.limb} context {self.context!r} is not one of "
                                f"{', '.join(CONTEXT_OBJECTS[self.limb])}")

    @property
    def axes(self) -> tuple[str, ...]:
        """The axes this stimulus is rotated about (non-zero angles)."""
        return tuple(name for name, a in zip(AXES, self.angles) if a != 0.0)

    @cached_property
    def _rotation(self) -> np.ndarray:
        """The RIGHT-limb rotation of :attr:`angles` (computed once: the analysis, the
        record and the drawing all read it)."""
        return rotation_quat(self.angles)

    @property
    def rotation_deg(self) -> float:
        """How far (0..180 deg) the limb is turned from the upright view: the angle of the
        composed rotation, the x axis of "RT by rotation angle"."""
        return round(quat_angle_deg(self._rotation), 6)

    def quaternion(self) -> np.ndarray:
        """Engine-space rotation (4,) from the limb's rest pose to what the patient sees
        (view, then rotation), for this stimulus's side."""
        q = quat_mul(self._rotation, _VIEW_QUATS[(self.limb, self.view)])
        return q if self.side == "right" else mirror_quat(q)

    def pointing(self) -> np.ndarray:
        """Unit direction (3,) the fingers / toes point in engine space."""
        return quat_rotate(self.quaternion(), _POINTING[self.limb])

    @property
    def medial_lateral(self) -> str:
        """``"medial"``, ``"lateral"`` or ``"neutral"`` (module docstring)."""
        d = self.pointing()
        toward_midline = -d[0] if self.side == "right" else d[0]
        threshold = math.sin(math.radians(MEDIAL_LATERAL_DEG))
        if toward_midline >= threshold:
            return "medial"
        if toward_midline <= -threshold:
            return "lateral"
        return "neutral"

    def describe(self) -> dict:
        """The stimulus parameters of a trial record (JSON-ready)."""
        return {"limb": self.limb, "side": self.side, "posture": self.posture,
                "view": self.view, "axes": list(self.axes), "angles": list(self.angles),
                "rotation_deg": self.rotation_deg, "medial_lateral": self.medial_lateral,
                "context": self.context}


@dataclass(frozen=True)
class StimulusRanges:
    """What the generator may draw. ``views``: ``"both"``, ``"dorsal"`` (back / top) or
    ``"palmar"`` (palm / sole); ``axes`` one of :data:`AXIS_MODES`; angles are multiples of
    ``angle_step_deg`` within +-``rotation_max_deg``."""

    limbs: tuple[str, ...] = ("hand",)
    postures: str = "all"
    views: str = "both"
    axes: str = "in_plane"
    rotation_max_deg: float = 180.0
    angle_step_deg: float = 30.0
    context: bool = False

    def __post_init__(self) -> None:
        if not self.limbs or any(limb not in LIMBS for limb in self.limbs):
            raise StimulusError(f"stimulus limbs {self.limbs!r} must be hand and/or foot")
        if self.postures not in POSTURE_SETS:
            raise StimulusError(f"posture set {self.postures!r} is not one of "
                                f"{', '.join(POSTURE_SETS)}")
        if self.views not in ("both", "dorsal", "palmar"):
            raise StimulusError(f"views {self.views!r} is not both, dorsal or palmar")
        if self.axes not in AXIS_MODES:
            raise StimulusError(f"axes {self.axes!r} is not one of {', '.join(AXIS_MODES)}")
        if not 0.0 <= self.rotation_max_deg <= 180.0:
            raise StimulusError(f"rotation range {self.rotation_max_deg!r} deg is outside "
                                "0..180")
        if not 1.0 <= self.angle_step_deg <= 180.0:
            raise StimulusError(f"angle step {self.angle_step_deg!r} deg is outside 1..180")

    def angle_choices(self) -> np.ndarray:
        """The angles (deg) one axis may take: multiples of the step within the range
        (-180 left out: it is the same picture as +180)."""
        k = int(math.floor(self.rotation_max_deg / self.angle_step_deg + 1e-9))
        values = np.arange(-k, k + 1) * self.angle_step_deg
        return values[values > -180.0 + 1e-9]


@dataclass
class StimulusGenerator:
    """Draws stimuli from a seeded generator.

    :meth:`new_block` fixes the order of sides (exactly half left, half right; an odd block
    gets one extra at random), limbs (alternated evenly when both) and views for a block;
    :meth:`next` draws the posture, angles and context of the next one from the ranges in
    force at that moment (an adaptive staircase may change them between trials)."""

    seed: int = 0
    rng: np.random.Generator = field(init=False)
    _plan: list[tuple[str, str, int]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def new_block(self, n: int, limbs: tuple[str, ...]) -> None:
        """Plan the sides, limbs and views (0 dorsal, 1 palmar) of ``n`` stimuli."""
        if n < 1:
            raise StimulusError(f"block length {n!r} must be at least 1")
        if not limbs or any(limb not in LIMBS for limb in limbs):
            raise StimulusError(f"stimulus limbs {limbs!r} must be hand and/or foot")
        count = len(limbs)
        # side alternates fastest, then limb, then view: every run of 2, 2L and 4L trials
        # is balanced; a lone last trial of an odd block gets a random side
        plan = [(SIDES[i % 2], limbs[(i // 2) % count], (i // (2 * count)) % 2)
                for i in range(n)]
        if n % 2:
            _, limb, view = plan[-1]
            plan[-1] = (SIDES[int(self.rng.integers(2))], limb, view)
        order = self.rng.permutation(n)
        self._plan = [plan[i] for i in order]

    @property
    def remaining(self) -> int:
        """Stimuli left in the planned block."""
        return len(self._plan)

    def next(self, ranges: StimulusRanges) -> Stimulus:
        """The next stimulus of the block (plans a block of one when none is planned)."""
        if not self._plan:
            self.new_block(1, ranges.limbs)
        side, limb, view_index = self._plan.pop(0)
        if limb not in ranges.limbs:
            limb = ranges.limbs[int(self.rng.integers(len(ranges.limbs)))]
        rng = self.rng
        if ranges.views != "both":
            view_index = 0 if ranges.views == "dorsal" else 1
        view = VIEWS[limb][view_index]
        context = None
        if ranges.context:
            objects = CONTEXT_OBJECTS[limb]
            context = objects[int(rng.integers(len(objects)))]
        if context is not None and limb == "hand":
            posture = CONTEXT_POSTURES[context]
        else:
            allowed = POSTURE_SETS[ranges.postures][limb]
            posture = allowed[int(rng.integers(len(allowed)))]
        return Stimulus(limb, side, posture, view, self._angles(ranges), context)

    def _angles(self, ranges: StimulusRanges) -> tuple[float, float, float]:
        choices = ranges.angle_choices()
        if ranges.axes == "in_plane":
            rotated = [0]
        else:
            rotated = list(self.rng.choice(3, size=int(ranges.axes), replace=False))
        angles = [0.0, 0.0, 0.0]
        for axis in rotated:
            angles[axis] = float(choices[int(self.rng.integers(len(choices)))])
        return (angles[0], angles[1], angles[2])
