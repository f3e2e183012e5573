"""The movement library of explicit motor imagery ("Imagine it"), shown on the phantom limb.

Each :class:`Movement` is a short keyframed motion of the canonical RIGHT limb in joint
angles (degrees, the IK's degrees of freedom: :data:`vrgmi.ik.limits.ARM_DOF_NAMES` /
``LEG_DOF_NAMES``, zero in the rest pose, conventions in ``vrgmi/ik/limits.py``). The
solver's forward kinematics turns the angles into joint positions and rotations for the
missing side (the canonical frame mirrors them for a left limb), so every keyframe is a pose
inside the anatomical limits by construction, and the rig shows exactly what the IK would.
A keyframe may also lift the shoulder girdle (``shrug_m``, metres up along the torso axis),
the one motion the limb rig has no joint for.

A repetition starts and ends in the movement's start posture; :class:`MovementPlayer`
interpolates between keyframes with a minimum-jerk profile (Flash & Hogan 1985), the
smooth bell-shaped speed of a natural point-to-point human movement.

Levels (the scene's ``level``): 1 = one joint, simple; 2 = several joints together;
3 = functional tasks and sequences. ``kviq`` names the KVIQ item (:mod:`vrgmi.imagery.kviq`)
a movement is, or None. No Panda3D here.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from vrgmi.body.skeleton import ARM_JOINT_NAMES, LEG_JOINT_NAMES
from vrgmi.errors import VrgmiError
from vrgmi.ik.limits import ARM_DOF_NAMES, LEG_DOF_NAMES
from vrgmi.ik.solver import FIST_DEG
from vrgmi.imagery.kviq import KVIQ_ITEMS

LIMBS = ("arm", "leg")
LEVELS = (1, 2, 3)
#: pause (s) in the start posture between two shown repetitions
REPETITION_PAUSE_S = 0.5
#: time (s) the phantom takes to glide from where it is into a movement's start posture
LEAD_IN_S = 1.0


class MovementError(VrgmiError, ValueError):
    """An unknown movement, limb or level was asked for."""


def dof_names(limb: str) -> tuple[str, ...]:
    """The degrees of freedom of ``limb`` ("arm" | "leg"), in the solver's order."""
    return ARM_DOF_NAMES if limb == "arm" else LEG_DOF_NAMES


def joint_names(limb: str) -> tuple[str, ...]:
    """The joints of ``limb``, in the solver's order."""
    return ARM_JOINT_NAMES if limb == "arm" else LEG_JOINT_NAMES


@dataclass(frozen=True)
class Keyframe:
    """A pose at ``t`` seconds into one repetition: every DOF in degrees, plus a girdle lift."""

    t: float
    pose: Mapping[str, float]
    shrug_m: float = 0.0


@dataclass(frozen=True)
class Movement:
    """One library movement. ``instructions`` and ``cue`` may contain ``{side}`` ("left" /
    "right"); ``effector`` is the intact-limb joint whose speed times the executed movement."""

    id: str
    name: str
    instructions: str
    cue: str
    limb: str
    level: int
    effector: str
    keyframes: tuple[Keyframe, ...]
    kviq: str | None = None
    poses: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"movement {self.id!r}"
        if self.limb not in LIMBS or self.level not in LEVELS:
            raise ValueError(f"{where}: limb {self.limb!r} / level {self.level!r} unknown")
        if self.effector not in joint_names(self.limb):
            raise ValueError(f"{where}: effector {self.effector!r} is not a {self.limb} joint")
        if self.kviq is not None and self.kviq not in KVIQ_ITEMS:
            raise ValueError(f"{where}: unknown KVIQ item {self.kviq!r}")
        names = dof_names(self.limb)
        times = [k.t for k in self.keyframes]
        if len(times) < 3 or times[0] != 0.0 or any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError(f"{where}: keyframe times must start at 0 and increase")
        rows = []
        for k in self.keyframes:
            unknown = set(k.pose) - set(names)
            if unknown or len(k.pose) != len(names):
                raise ValueError(f"{where}: keyframe at {k.t} s has DOFs "
                                 f"{sorted(unknown) or 'missing'}")
            rows.append([k.pose[n] for n in names] + [k.shrug_m])
        poses = np.array(rows, dtype=np.float64)
        if not np.array_equal(poses[0], poses[-1]):
            raise ValueError(f"{where}: a repetition must end in its start posture")
        object.__setattr__(self, "poses", poses)

    @property
    def duration_s(self) -> float:
        """Length (s) of one repetition."""
        return self.keyframes[-1].t

    def text(self, side: str) -> str:
        """The instructions for the patient's ``side`` ("left" / "right")."""
        return self.instructions.format(side=side)

    def cue_text(self, side: str) -> str:
        """The imagery cue for the patient's missing ``side``."""
        return self.cue.format(side=side)


# --- postures (canonical right limb, degrees) --------------------------------------------

def _hand(curl: float = 0.0) -> dict[str, float]:
    """Finger and thumb angles of a hand curled ``curl`` (0 open .. 1 fist)."""
    out: dict[str, float] = {}
    rows = (("thumb", ("cmc_flexion", "cmc_abduction", "mcp_flexion", "ip_flexion")),) + tuple(
        (f, ("mcp_flexion", "mcp_abduction", "pip_flexion", "dip_flexion"))
        for f in ("index", "middle", "ring", "little"))
    for r, (finger, dofs) in enumerate(rows):
        for c, dof in enumerate(dofs):
            out[f"{finger}_{dof}"] = round(curl * float(FIST_DEG[r, c]), 2)
    return out


#: forearm resting forward across the lap, palm down, hand relaxed (in view when seated)
ARM_REST: Mapping[str, float] = MappingProxyType({
    "shoulder_plane": 90.0, "shoulder_elevation": 20.0, "shoulder_rotation": 15.0,
    "elbow_flexion": 75.0, "forearm_pronation": 70.0, "wrist_flexion": 0.0,
    "wrist_ulnar_deviation": 0.0, **_hand(0.2)})
#: arm hanging at the side, palm in (the KVIQ start posture of shoulder movements)
ARM_DOWN: Mapping[str, float] = MappingProxyType({
    **ARM_REST, "shoulder_elevation": 5.0, "shoulder_rotation": 0.0, "elbow_flexion": 10.0,
    "forearm_pronation": 0.0})
#: forearm forward, palm up, hand open toward the eyes (for the hand movements)
ARM_HAND_UP: Mapping[str, float] = MappingProxyType({
    **ARM_REST, "shoulder_elevation": 25.0, "shoulder_rotation": 10.0, "elbow_flexion": 100.0,
    "forearm_pronation": -60.0, "wrist_flexion": -10.0, **_hand(0.1)})
#: seated, thigh sloping a little down, the foot put forward (knee flexed 41 deg, shank
#: 35 deg forward of vertical) so the seated eye sees the lower leg and foot past the knee,
#: sole flat on the floor (standard proportions: hip joint ~0.30 H above the floor)
LEG_SEATED: Mapping[str, float] = MappingProxyType({
    "hip_plane": 85.0, "hip_elevation": 76.0, "hip_rotation": 0.0, "knee_flexion": 41.0,
    "knee_rotation": 0.0, "ankle_dorsiflexion": -35.0, "subtalar_inversion": 0.0,
    "toe_flexion": 0.0})

#: thumb tip onto each fingertip (fitted with the model's hand; tips within ~1 cm)
_OPPOSE = {
    "index": {"index_mcp_abduction": 7.0, "thumb_cmc_flexion": 11.0,
              "thumb_cmc_abduction": -3.0, "thumb_mcp_flexion": 22.0, "thumb_ip_flexion": 22.0,
              "index_mcp_flexion": 55.0, "index_pip_flexion": 47.0, "index_dip_flexion": 27.0},
    "middle": {"middle_mcp_abduction": 13.0, "thumb_cmc_flexion": 15.0,
               "thumb_cmc_abduction": -1.0, "thumb_mcp_flexion": 27.0,
               "thumb_ip_flexion": 23.0, "middle_mcp_flexion": 59.0,
               "middle_pip_flexion": 49.0, "middle_dip_flexion": 28.0},
    "ring": {"ring_mcp_abduction": -10.0, "thumb_cmc_flexion": 15.0,
             "thumb_cmc_abduction": -4.0, "thumb_mcp_flexion": 50.0, "thumb_ip_flexion": 41.0,
             "ring_mcp_flexion": 59.0, "ring_pip_flexion": 59.0, "ring_dip_flexion": 40.0},
    "little": {"little_mcp_abduction": -10.0, "thumb_cmc_flexion": 15.0,
               "thumb_cmc_abduction": -25.0, "thumb_mcp_flexion": 50.0,
               "thumb_ip_flexion": 49.0, "little_mcp_flexion": 54.0,
               "little_pip_flexion": 27.0, "little_dip_flexion": 90.0},
}


def _p(base: Mapping[str, float], **deg: float) -> Mapping[str, float]:
    """``base`` with some DOFs changed (degrees)."""
    out = dict(base)
    out.update(deg)
    return MappingProxyType(out)


def _k(t: float, pose: Mapping[str, float], shrug_m: float = 0.0) -> Keyframe:
    return Keyframe(float(t), pose, shrug_m)


def _sequence(base: Mapping[str, float], poses: list[Mapping[str, float]],
              step_s: float) -> tuple[Keyframe, ...]:
    """``base`` -> each pose in turn (``step_s`` apart) -> ``base``."""
    frames = [_k(0.0, base)] + [_k(step_s * (i + 1), p) for i, p in enumerate(poses)]
    return tuple(frames + [_k(step_s * (len(poses) + 1), base)])


R, D, U, S = ARM_REST, ARM_DOWN, ARM_HAND_UP, LEG_SEATED
_OPEN_UP = _p(U, **_hand(0.0))
#: poses a movement passes through twice (a hold, or the way back): named once
_AT_CUP = _p(R, shoulder_elevation=55.0, shoulder_rotation=5.0, elbow_flexion=45.0,
             forearm_pronation=10.0, wrist_flexion=-15.0)
_JUG_LIFTED = _p(R, shoulder_elevation=40.0, elbow_flexion=70.0, forearm_pronation=0.0,
                 **_hand(0.55))
_JUG_TIPPED = _p(R, shoulder_elevation=50.0, shoulder_rotation=25.0, elbow_flexion=80.0,
                 forearm_pronation=65.0, **_hand(0.55))
_KNEE_STRAIGHT = _p(S, knee_flexion=5.0)
_FOOT_LIFTED = _p(S, hip_elevation=110.0, knee_flexion=100.0, ankle_dorsiflexion=10.0)
_ON_STEP = _p(S, hip_elevation=100.0, knee_flexion=60.0, ankle_dorsiflexion=-5.0)
_ON_PEDAL = _p(S, hip_plane=80.0, knee_flexion=30.0, ankle_dorsiflexion=-16.0)
_CUP_HELD = _p(_AT_CUP, **_hand(0.55))
_AT_MOUTH = _p(R, shoulder_plane=110.0, shoulder_elevation=45.0, shoulder_rotation=35.0,
               elbow_flexion=135.0, forearm_pronation=-20.0, wrist_flexion=0.0, **_hand(0.55))
#: the hand at a door lock at chest height, thumb up, key pinched between thumb and index
_AT_LOCK = _p(R, shoulder_elevation=60.0, shoulder_rotation=5.0, elbow_flexion=50.0,
              forearm_pronation=0.0, wrist_flexion=0.0, **_hand(0.5))
#: the forefoot resting on a ball (about 5 cm high), the heel on the floor
_ON_BALL = _p(S, hip_elevation=76.0, knee_flexion=36.0, ankle_dorsiflexion=-28.0)
#: the knee out to the side: the thigh swung 40 deg outward from the seated plane (hip
#: abduction in flexion) and turned out 30 deg so the foot stays on the floor; the knee
#: goes ~26 cm sideways, not forward
_KNEE_OUT = _p(S, hip_plane=45.0, hip_rotation=-30.0)
#: the foot lifted a little, toes just above the floor, for drawing with the toes
_TOES_DOWN = _p(S, hip_elevation=78.0, ankle_dorsiflexion=-34.0)

UPPER: tuple[Movement, ...] = (
    # -- level 1: one joint ------------------------------------------------------------
    Movement("elbow_flex_ext", "Bend and straighten the elbow",
             "Bend your {side} elbow to bring your hand up toward your shoulder, "
             "then straighten it again.",
             "Imagine bending your {side} elbow and straightening it again.",
             "arm", 1, "wrist",
             (_k(0, D), _k(1.1, _p(D, elbow_flexion=135.0, forearm_pronation=-20.0)),
              _k(2.2, D)), kviq="elbow_flexion_extension"),
    Movement("shoulder_shrug", "Shrug the shoulder",
             "Lift your {side} shoulder up toward your ear, then let it down again.",
             "Imagine lifting your {side} shoulder up toward your ear and down again.",
             "arm", 1, "wrist",
             (_k(0, R), _k(0.9, R, 0.05), _k(1.3, R, 0.05), _k(2.2, R)),
             kviq="shoulder_elevation"),
    Movement("shoulder_flexion", "Raise the arm forward",
             "With your {side} arm at your side and the elbow straight, raise it forward "
             "to shoulder height or a little higher, then lower it.",
             "Imagine raising your straight {side} arm forward and up, then lowering it.",
             "arm", 1, "wrist",
             (_k(0, D), _k(1.5, _p(D, shoulder_elevation=100.0, elbow_flexion=5.0)),
              _k(3.0, D)), kviq="forward_shoulder_flexion"),
    Movement("shoulder_abduction", "Raise the arm to the side",
             "Raise your {side} arm out to the side up to shoulder height, then lower it.",
             "Imagine raising your {side} arm out to the side and lowering it.",
             "arm", 1, "wrist",
             (_k(0, D), _k(1.5, _p(D, shoulder_plane=25.0, shoulder_elevation=90.0,
                                   elbow_flexion=5.0)), _k(3.0, D))),
    Movement("wrist_flex_ext", "Wrist up and down",
             "Keep your {side} forearm still and bend the wrist to lift the back of the hand "
             "up, then drop it down.",
             "Imagine lifting your {side} hand at the wrist, then dropping it down.",
             "arm", 1, "middle_tip",
             (_k(0, R), _k(0.8, _p(R, wrist_flexion=-55.0)), _k(1.8, _p(R, wrist_flexion=55.0)),
              _k(2.6, R))),
    Movement("forearm_rotation", "Turn the palm up and down",
             "Keep your {side} elbow still and turn the palm up to the ceiling, "
             "then down to the floor.",
             "Imagine turning your {side} palm up, then down again.",
             "arm", 1, "thumb_tip",
             (_k(0, R), _k(1.2, _p(R, forearm_pronation=-75.0)), _k(2.4, R))),
    Movement("fist_open_close", "Make a fist and open the hand",
             "Close your {side} hand slowly into a fist, then open it and spread the fingers.",
             "Imagine closing your {side} hand into a fist and opening it wide.",
             "arm", 1, "middle_tip",
             (_k(0, U), _k(1.0, _p(U, **_hand(1.0))), _k(2.0, _OPEN_UP), _k(2.6, U))),
    # -- level 2: several joints ------------------------------------------------------
    Movement("thumb_opposition", "Thumb to each fingertip",
             "Touch the tip of your {side} thumb to each fingertip in turn, "
             "from the index finger to the little finger.",
             "Imagine touching your {side} thumb to each fingertip in turn.",
             "arm", 2, "thumb_tip",
             _sequence(_OPEN_UP, [_p(_OPEN_UP, **_OPPOSE[f])
                                  for f in ("index", "middle", "ring", "little")], 0.8),
             kviq="thumb_fingers_opposition"),
    Movement("reach_forward", "Reach forward",
             "Reach your {side} hand forward as if to touch something in front of you, "
             "then bring it back.",
             "Imagine reaching your {side} hand forward and bringing it back.",
             "arm", 2, "wrist",
             (_k(0, R), _k(1.3, _p(R, shoulder_elevation=80.0, shoulder_rotation=5.0,
                                   elbow_flexion=10.0, forearm_pronation=60.0,
                                   **_hand(0.05))), _k(2.6, R))),
    Movement("hand_to_mouth", "Hand to mouth",
             "Bring your {side} hand up to your mouth, as if eating, then lower it.",
             "Imagine bringing your {side} hand up to your mouth and lowering it.",
             "arm", 2, "wrist",
             (_k(0, R), _k(1.4, _p(R, shoulder_plane=110.0, shoulder_elevation=45.0,
                                   shoulder_rotation=40.0, elbow_flexion=140.0,
                                   forearm_pronation=0.0, wrist_flexion=10.0,
                                   **_hand(0.4))), _k(2.8, R))),
    Movement("wave", "Wave hello",
             "Lift your {side} hand and wave hello, then lower it.",
             "Imagine lifting your {side} hand and waving hello.",
             "arm", 2, "middle_tip",
             _sequence(R, [_p(R, shoulder_plane=60.0, shoulder_elevation=45.0,
                              shoulder_rotation=-30.0, elbow_flexion=110.0,
                              forearm_pronation=-10.0, wrist_ulnar_deviation=w, **_hand(0.05))
                           for w in (-15.0, 25.0, -15.0, 25.0, -15.0)], 0.55)),
    Movement("touch_opposite_shoulder", "Touch the other shoulder",
             "Lift your {side} hand across your chest and touch the other shoulder, "
             "then lower it.",
             "Imagine reaching your {side} hand across to the other shoulder and back.",
             "arm", 2, "wrist",
             (_k(0, R), _k(1.4, _p(R, shoulder_plane=135.0, shoulder_elevation=75.0,
                                   shoulder_rotation=20.0, elbow_flexion=135.0,
                                   forearm_pronation=20.0, **_hand(0.1))), _k(2.8, R))),
    # -- level 3: functional ----------------------------------------------------------
    Movement("reach_grasp_cup", "Reach for a cup and grasp it",
             "Reach your {side} hand to a cup on the table in front of you, wrap your "
             "fingers around it, then let go and bring the hand back.",
             "Imagine reaching for the cup with your {side} hand, grasping it and letting go.",
             "arm", 3, "wrist",
             (_k(0, R), _k(1.3, _p(_AT_CUP, **_hand(0.0))), _k(2.1, _p(_AT_CUP, **_hand(0.55))),
              _k(2.9, _p(_AT_CUP, **_hand(0.0))), _k(4.2, R))),
    Movement("pour", "Pour from a jug",
             "Take hold of a jug with your {side} hand, lift it, tip it to pour a glass, "
             "set it upright and put it down.",
             "Imagine lifting the jug with your {side} hand, pouring, and setting it down.",
             "arm", 3, "thumb_tip",
             (_k(0, R), _k(1.0, _JUG_LIFTED), _k(2.0, _JUG_TIPPED), _k(2.8, _JUG_TIPPED),
              _k(3.8, _JUG_LIFTED), _k(4.8, R))),
    Movement("wipe_table", "Wipe the table",
             "Rest your {side} hand flat on the table and wipe it in a wide circle, "
             "out and back.",
             "Imagine wiping the table with your {side} hand in a wide circle.",
             "arm", 3, "wrist",
             _sequence(R, [
                 _p(R, shoulder_plane=70.0, shoulder_elevation=45.0, elbow_flexion=50.0,
                    shoulder_rotation=5.0, **_hand(0.0)),
                 _p(R, shoulder_plane=95.0, shoulder_elevation=60.0, elbow_flexion=25.0,
                    shoulder_rotation=15.0, **_hand(0.0)),
                 _p(R, shoulder_plane=115.0, shoulder_elevation=45.0, elbow_flexion=50.0,
                    shoulder_rotation=30.0, **_hand(0.0)),
                 _p(R, shoulder_plane=90.0, shoulder_elevation=30.0, elbow_flexion=70.0,
                    shoulder_rotation=15.0, **_hand(0.0))], 0.9)),
    Movement("drink_from_cup", "Drink from a cup",
             "Reach your {side} hand to a cup, grasp it, bring it to your mouth as if to "
             "drink, put it back and let go.",
             "Imagine picking up the cup with your {side} hand, drinking and putting it back.",
             "arm", 3, "wrist",
             (_k(0, R), _k(1.3, _p(_AT_CUP, **_hand(0.0))), _k(2.0, _CUP_HELD),
              _k(3.4, _AT_MOUTH), _k(4.2, _AT_MOUTH), _k(5.6, _CUP_HELD),
              _k(6.3, _p(_AT_CUP, **_hand(0.0))), _k(7.6, R))),
    Movement("turn_key", "Turn a key",
             "Reach your {side} hand to a key in a door lock, pinch it between thumb and "
             "finger, turn it, turn it back and bring the hand down.",
             "Imagine pinching the key with your {side} hand, turning it and turning it back.",
             "arm", 3, "thumb_tip",
             (_k(0, R), _k(1.3, _p(_AT_LOCK, **_hand(0.2))), _k(1.9, _AT_LOCK),
              _k(2.8, _p(_AT_LOCK, forearm_pronation=70.0)),
              _k(3.4, _p(_AT_LOCK, forearm_pronation=70.0)), _k(4.3, _AT_LOCK),
              _k(4.9, _p(_AT_LOCK, **_hand(0.2))), _k(6.2, R))),
)

LOWER: tuple[Movement, ...] = (
    # -- level 1 ----------------------------------------------------------------------
    Movement("knee_extension", "Straighten the knee",
             "Sitting, straighten your {side} knee to lift the foot forward, then lower it.",
             "Imagine straightening your {side} knee and lowering the foot again.",
             "leg", 1, "ankle",
             (_k(0, S), _k(1.3, _p(S, knee_flexion=5.0, ankle_dorsiflexion=-5.0)),
              _k(2.6, S)), kviq="knee_extension"),
    Movement("foot_tapping", "Tap the foot",
             "Keep your {side} heel on the floor and tap the front of the foot "
             "three times.",
             "Imagine tapping your {side} foot three times, heel on the floor.",
             "leg", 1, "toe_tip",
             _sequence(S, [_p(S, ankle_dorsiflexion=a)
                           for a in (-13.0, -35.0, -13.0, -35.0, -13.0)],
                       0.35), kviq="foot_tapping"),
    Movement("hip_abduction", "Knee out to the side",
             "With the knee bent, move your {side} leg out to the side, away from the "
             "other leg, then bring it back.",
             "Imagine moving your {side} leg out to the side and back.",
             "leg", 1, "ankle",
             (_k(0, S), _k(1.3, _KNEE_OUT), _k(2.6, S)), kviq="hip_abduction"),
    Movement("foot_external_rotation", "Turn the foot outward",
             "Keep your {side} heel on the floor and turn the toes outward, then back.",
             "Imagine turning your {side} toes outward and back, heel still.",
             "leg", 1, "toe_tip",
             (_k(0, S), _k(1.1, _p(S, knee_rotation=-13.0, hip_rotation=-18.0)), _k(2.2, S)),
             kviq="foot_external_rotation"),
    Movement("knee_lift", "Lift the knee",
             "Lift your {side} knee up toward your chest, then put the foot down.",
             "Imagine lifting your {side} knee up and putting the foot down.",
             "leg", 1, "ankle",
             (_k(0, S), _k(1.1, _p(S, hip_elevation=108.0, knee_flexion=85.0,
                                                     ankle_dorsiflexion=-10.0)), _k(2.2, S))),
    # -- level 2 ----------------------------------------------------------------------
    Movement("ankle_circles", "Circle the ankle",
             "Lift your {side} foot a little and draw a circle with the toes, "
             "then put the foot down.",
             "Imagine lifting your {side} foot and drawing a circle with the toes.",
             "leg", 2, "toe_tip",
             _sequence(S, [_p(S, knee_flexion=30.0, ankle_dorsiflexion=a, subtalar_inversion=i)
                           for a, i in ((-26.0, 0.0), (-1.0, 0.0), (-16.0, 30.0), (-44.0, 0.0),
                                        (-16.0, -12.0), (-1.0, 0.0), (-26.0, 0.0))], 0.5)),
    Movement("straight_leg_raise", "Lift the straight leg",
             "Straighten your {side} knee, lift the straight leg a little, lower it "
             "and bend the knee again.",
             "Imagine straightening your {side} leg, lifting it, and lowering it.",
             "leg", 2, "ankle",
             (_k(0, S), _k(1.0, _KNEE_STRAIGHT),
              _k(1.8, _p(_KNEE_STRAIGHT, hip_elevation=105.0, ankle_dorsiflexion=10.0)),
              _k(2.6, _KNEE_STRAIGHT), _k(3.6, S))),
    Movement("heel_slide", "Slide the foot back and forward",
             "Slide your {side} foot back under the chair along the floor, "
             "then forward again.",
             "Imagine sliding your {side} foot back under the chair and forward again.",
             "leg", 2, "ankle",
             (_k(0, S), _k(1.2, _p(S, hip_elevation=84.0, knee_flexion=100.0,
                                   ankle_dorsiflexion=14.0)), _k(2.4, S))),
    Movement("straighten_and_point", "Straighten the knee, toes up, toes down",
             "Straighten your {side} knee, pull the toes up toward you, point them away, "
             "then bend the knee and put the foot down.",
             "Imagine straightening your {side} knee, pulling the toes up, pointing them "
             "and putting the foot down.",
             "leg", 2, "toe_tip",
             (_k(0, S), _k(1.2, _KNEE_STRAIGHT),
              _k(2.0, _p(_KNEE_STRAIGHT, ankle_dorsiflexion=15.0)),
              _k(3.0, _p(_KNEE_STRAIGHT, ankle_dorsiflexion=-40.0)),
              _k(3.8, _KNEE_STRAIGHT), _k(5.0, S))),
    Movement("foot_out_to_side", "Foot out to the side and back",
             "Lift your {side} foot a little, move it out to the side with the knee "
             "half straight, put it down there, then bring it back.",
             "Imagine moving your {side} foot out to the side and back again.",
             "leg", 2, "ankle",
             (_k(0, S), _k(0.8, _p(S, hip_elevation=82.0, knee_flexion=35.0)),
              _k(1.8, _p(S, hip_plane=60.0, hip_rotation=-20.0, knee_flexion=25.0,
                         ankle_dorsiflexion=-25.0)),
              _k(2.6, _p(S, hip_plane=60.0, hip_rotation=-20.0, knee_flexion=25.0,
                         ankle_dorsiflexion=-25.0)),
              _k(3.6, _p(S, hip_elevation=82.0, knee_flexion=35.0)), _k(4.4, S))),
    # -- level 3 ----------------------------------------------------------------------
    Movement("kick_ball", "Kick a ball",
             "Swing your {side} foot back, then kick a ball in front of you, "
             "and put the foot down.",
             "Imagine swinging your {side} foot back and kicking the ball.",
             "leg", 3, "ankle",
             (_k(0, S), _k(0.8, _p(S, hip_elevation=88.0, knee_flexion=100.0,
                                   ankle_dorsiflexion=5.0)),
              _k(1.3, _p(S, hip_elevation=100.0, knee_flexion=15.0, ankle_dorsiflexion=-10.0)),
              _k(2.5, S))),
    Movement("step_onto_stair", "Step onto a stair",
             "Lift your {side} foot and place it on a step in front of you, "
             "then bring it back to the floor.",
             "Imagine lifting your {side} foot onto the step and back down.",
             "leg", 3, "ankle",
             (_k(0, S), _k(0.9, _FOOT_LIFTED), _k(1.7, _ON_STEP), _k(2.5, _ON_STEP),
              _k(3.3, _FOOT_LIFTED), _k(4.2, S))),
    Movement("press_pedal", "Press a pedal",
             "Move your {side} foot onto a car pedal, press it down slowly, release it "
             "and move the foot back.",
             "Imagine moving your {side} foot onto the pedal, pressing and releasing it.",
             "leg", 3, "toe_tip",
             (_k(0, S), _k(1.0, _ON_PEDAL), _k(2.0, _p(_ON_PEDAL, ankle_dorsiflexion=-44.0)),
              _k(3.0, _ON_PEDAL), _k(4.0, S))),
    Movement("roll_ball_under_foot", "Roll a ball under the foot",
             "Put the front of your {side} foot on a ball, roll it forward and back under "
             "the foot, then put the foot down.",
             "Imagine rolling the ball forward and back under your {side} foot.",
             "leg", 3, "ball",
             (_k(0, S), _k(1.0, _ON_BALL),
              _k(2.0, _p(S, hip_elevation=70.0, knee_flexion=22.0, ankle_dorsiflexion=-24.0)),
              _k(3.2, _p(S, hip_elevation=80.0, knee_flexion=45.0, ankle_dorsiflexion=-35.0)),
              _k(4.2, _ON_BALL), _k(5.2, S))),
    Movement("draw_circle_with_toes", "Draw a circle on the floor with the toes",
             "Lift your {side} heel a little and draw a big circle on the floor with your "
             "toes: out, forward, in, back; then put the foot down.",
             "Imagine drawing a circle on the floor with the toes of your {side} foot.",
             "leg", 3, "toe_tip",
             _sequence(S, [_TOES_DOWN] + [
                 _p(_TOES_DOWN, hip_plane=hp, knee_flexion=kn, hip_rotation=rot)
                 for hp, kn, rot in ((78.0, 38.0, -10.0), (85.0, 30.0, 0.0),
                                     (92.0, 38.0, 10.0), (85.0, 48.0, 0.0))]
                 + [_TOES_DOWN], 0.8)),
)

LIBRARY: dict[str, Movement] = {m.id: m for m in UPPER + LOWER}


def get_movement(movement_id: str) -> Movement:
    """The library movement ``movement_id``, or a one-line :class:`MovementError`."""
    try:
        return LIBRARY[movement_id]
    except KeyError:
        raise MovementError(f"no imagery movement {movement_id!r} "
                            f"(movements: {', '.join(LIBRARY)})") from None


def movements_for(limb: str, level: int | None = None,
                  kviq_only: bool = False) -> tuple[Movement, ...]:
    """The library movements of ``limb`` (at ``level``, or every level), in library order."""
    if limb not in LIMBS:
        raise MovementError(f"limb {limb!r} is not one of {', '.join(LIMBS)}")
    if level is not None and level not in LEVELS:
        raise MovementError(f"level {level!r} is not one of 1, 2, 3")
    pool = UPPER if limb == "arm" else LOWER
    return tuple(m for m in pool if (level is None or m.level == level)
                 and (not kviq_only or m.kviq is not None))


def _min_jerk(s: float) -> float:
    """Minimum-jerk position profile 10 s^3 - 15 s^4 + 6 s^5 on s in [0, 1]."""
    return s * s * s * (10.0 + s * (-15.0 + 6.0 * s))


class MovementPlayer:
    """Poses a limb solver through a movement by forward kinematics (nothing allocates per
    frame beyond the solver's own input check).

    ``start(movement, repetitions, current)`` plans: a lead-in glide from ``current`` (the
    angles the phantom shows now, degrees, or None) into the start posture, then the
    repetitions with :data:`REPETITION_PAUSE_S` between them. ``pose(t, solver, side, root)``
    then writes the pose ``t`` seconds after the start into ``solver`` (``solver.torso``
    must be set): ``root`` is the shoulder / hip joint; a shrug lifts it.
    """

    def __init__(self, limb: str) -> None:
        if limb not in LIMBS:
            raise MovementError(f"limb {limb!r} is not one of {', '.join(LIMBS)}")
        self.limb = limb
        n = len(dof_names(limb))
        self.movement: Movement | None = None
        self.repetitions = 0
        self.lead_s = 0.0
        self._from = np.zeros(n + 1)
        self._poses = np.zeros((1, n + 1))
        self._times = np.zeros(1)
        self._now = np.zeros(n + 1)            # degrees + shrug of the pose last computed
        self._rad = np.zeros(n)

    def start(self, movement: Movement, repetitions: int,
              current: np.ndarray | None = None) -> None:
        """Plan ``repetitions`` of ``movement`` (a lead-in first when ``current`` is given)."""
        if movement.limb != self.limb:
            raise MovementError(f"movement {movement.id!r} is for the {movement.limb}, "
                                f"not the {self.limb}")
        if repetitions < 1:
            raise MovementError(f"repetitions {repetitions!r} must be at least 1")
        self.movement = movement
        self.repetitions = int(repetitions)
        self._poses = movement.poses
        self._times = np.array([k.t for k in movement.keyframes])
        if current is None:
            self.lead_s = 0.0
        else:
            self._from[:] = current
            self.lead_s = LEAD_IN_S
        self._now[:] = movement.poses[0] if current is None else current

    @property
    def total_s(self) -> float:
        """Length (s) of the whole plan: lead-in and every repetition with the pauses."""
        if self.movement is None:
            return 0.0
        cycle = self.movement.duration_s + REPETITION_PAUSE_S
        return self.lead_s + self.repetitions * cycle - REPETITION_PAUSE_S

    def repetition_at(self, t: float) -> int:
        """Which repetition (1-based; 0 during the lead-in) plays at ``t``."""
        if self.movement is None or t < self.lead_s:
            return 0
        cycle = self.movement.duration_s + REPETITION_PAUSE_S
        return min(self.repetitions, int((t - self.lead_s) // cycle) + 1)

    @property
    def current(self) -> np.ndarray:
        """The pose last computed: degrees per DOF, then the shrug (m). A view."""
        return self._now

    def angles_at(self, t: float) -> np.ndarray:
        """The pose (degrees + shrug) at ``t`` s into the plan; also kept in :attr:`current`."""
        m = self.movement
        if m is None:
            return self._now
        now, poses = self._now, self._poses
        if t < self.lead_s:
            s = _min_jerk(max(0.0, t) / self.lead_s)
            now[:] = self._from
            now += s * (poses[0] - self._from)
            return now
        cycle = m.duration_s + REPETITION_PAUSE_S
        local = t - self.lead_s
        if local >= self.repetitions * cycle - REPETITION_PAUSE_S:
            now[:] = poses[-1]
            return now
        local = local % cycle
        times = self._times
        if local >= m.duration_s:                    # the pause between repetitions
            now[:] = poses[-1]
            return now
        i = int(np.searchsorted(times, local, side="right")) - 1
        i = min(max(i, 0), len(times) - 2)
        s = _min_jerk((local - times[i]) / (times[i + 1] - times[i]))
        now[:] = poses[i]
        now += s * (poses[i + 1] - poses[i])
        return now

    def pose(self, t: float, solver, side: int, root: np.ndarray) -> None:
        """Write the pose at ``t`` into ``solver`` (positions / rotations) for ``side``."""
        self.apply(self.angles_at(t), solver, side, root)

    def apply(self, pose: np.ndarray, solver, side: int, root: np.ndarray) -> None:
        """Write ``pose`` (degrees + shrug) into ``solver`` by forward kinematics."""
        n = len(self._rad)
        np.multiply(pose[:n], math.pi / 180.0, out=self._rad)
        solver.root[:] = root
        solver.root[2] += pose[n]
        solver.forward(self._rad, side)
