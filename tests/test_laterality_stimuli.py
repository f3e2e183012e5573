"""Laterality stimuli: views, rotations, medial/lateral, mirror images, the balanced
generator, and the named postures."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from vrgmi.body.postures import (CONTEXT_POSTURES, FOOT_POSTURES, HAND_POSTURES, PostureError,
                                 foot_posture, hand_posture, posture_angles)
from vrgmi.body.skeleton import ARM_JOINT_NAMES, LEG_JOINT_NAMES
from vrgmi.ik.solver import ArmSolver, LegSolver
from vrgmi.laterality.stimuli import (Stimulus, StimulusError, StimulusGenerator,
                                      StimulusRanges, mirror_quat)
from vrgmi.spatial import quat_rotate

X, Y, Z = np.eye(3)


def test_back_view_of_a_right_hand_shows_the_dorsum_fingers_up_thumb_left():
    q = Stimulus("hand", "right", "open", "back").quaternion()
    assert np.allclose(quat_rotate(q, -Z), Z, atol=1e-9)      # fingers up
    assert np.allclose(quat_rotate(q, X), -Y, atol=1e-9)      # dorsum toward the patient
    assert np.allclose(quat_rotate(q, Y), -X, atol=1e-9)      # thumb on the patient's left


def test_palm_and_sole_views_face_the_patient():
    q = Stimulus("hand", "right", "open", "palm").quaternion()
    assert np.allclose(quat_rotate(q, -X), -Y, atol=1e-9)     # palm (rest: medial, -x)
    assert np.allclose(quat_rotate(q, Y), X, atol=1e-9)       # thumb on the right
    top = Stimulus("foot", "right", "neutral", "top").quaternion()
    assert np.allclose(quat_rotate(top, Y), Z, atol=1e-9)     # toes up
    assert np.allclose(quat_rotate(top, Z), -Y, atol=1e-9)    # dorsum toward the patient
    sole = Stimulus("foot", "right", "neutral", "sole").quaternion()
    assert np.allclose(quat_rotate(sole, -Z), -Y, atol=1e-9)  # sole toward the patient


@pytest.mark.parametrize("side, angle, expected", [
    ("right", 90.0, "medial"), ("right", -90.0, "lateral"), ("right", 45.0, "medial"),
    ("left", 90.0, "medial"), ("left", -45.0, "lateral"), ("right", 0.0, "neutral"),
    ("left", 180.0, "neutral"), ("right", 10.0, "neutral")])
def test_medial_lateral_by_finger_direction(side, angle, expected):
    stim = Stimulus("hand", side, "open", "back", (angle, 0.0, 0.0))
    assert stim.medial_lateral == expected


def test_in_plane_rotation_turns_a_right_hand_counter_clockwise_toward_the_midline():
    d = Stimulus("hand", "right", "open", "back", (90.0, 0.0, 0.0)).pointing()
    assert np.allclose(d, -X, atol=1e-9)                      # fingers to the patient's left
    d = Stimulus("hand", "left", "open", "palm", (90.0, 0.0, 0.0)).pointing()
    assert np.allclose(d, X, atol=1e-9)


def test_left_stimulus_is_the_mirror_image_of_the_right_one():
    for angles in ((30.0, 0.0, 0.0), (60.0, -90.0, 30.0), (0.0, 150.0, -120.0)):
        right = Stimulus("hand", "right", "point", "palm", angles).quaternion()
        left = Stimulus("hand", "left", "point", "palm", angles).quaternion()
        assert np.allclose(left, mirror_quat(right))
        m = np.diag([-1.0, 1.0, 1.0])
        for v in (X, Y, Z, np.array([0.3, -0.5, 0.8])):
            assert np.allclose(quat_rotate(left, m @ v), m @ quat_rotate(right, v), atol=1e-9)


def test_rotation_angle_of_composed_axes():
    assert Stimulus("hand", "right", "open", "back", (90.0, 0.0, 0.0)).rotation_deg == 90.0
    assert Stimulus("hand", "right", "open", "back", (-150.0, 0.0, 0.0)).rotation_deg == 150.0
    # two perpendicular quarter turns make a 120 deg rotation
    stim = Stimulus("hand", "right", "open", "back", (0.0, 90.0, 90.0))
    assert stim.rotation_deg == pytest.approx(120.0)
    assert stim.axes == ("turn", "tilt")


@pytest.mark.parametrize("kwargs", [
    {"limb": "arm"}, {"side": "both"}, {"posture": "wave"}, {"view": "sole"},
    {"angles": (200.0, 0.0, 0.0)}, {"angles": (float("nan"), 0.0, 0.0)},
    {"context": "cup", "limb": "foot", "posture": "neutral", "view": "top"}])
def test_bad_stimulus_is_a_one_line_error(kwargs):
    args = {"limb": "hand", "side": "left", "posture": "open", "view": "back", **kwargs}
    with pytest.raises(StimulusError) as err:
        Stimulus(**args)
    assert "\n" not in str(err.value)


def test_angle_choices_are_step_multiples_without_a_duplicate_180():
    assert list(StimulusRanges(rotation_max_deg=90.0, angle_step_deg=30.0).angle_choices()) \
        == [-90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0]
    full = StimulusRanges(rotation_max_deg=180.0, angle_step_deg=45.0).angle_choices()
    assert list(full) == [-135.0, -90.0, -45.0, 0.0, 45.0, 90.0, 135.0, 180.0]
    assert list(StimulusRanges(rotation_max_deg=20.0, angle_step_deg=30.0).angle_choices()) \
        == [0.0]
    with pytest.raises(StimulusError):
        StimulusRanges(axes="4")


def test_blocks_balance_sides_limbs_and_views():
    gen = StimulusGenerator(seed=5)
    ranges = StimulusRanges(limbs=("hand", "foot"), views="both")
    gen.new_block(16, ranges.limbs)
    stims = [gen.next(ranges) for _ in range(16)]
    assert Counter((s.side, s.limb) for s in stims) == {
        ("left", "hand"): 4, ("right", "hand"): 4, ("left", "foot"): 4, ("right", "foot"): 4}
    dorsal = sum(s.view in ("back", "top") for s in stims)
    assert dorsal == 8
    gen.new_block(7, ("hand",))
    sides = Counter(gen.next(StimulusRanges()).side for _ in range(7))
    assert sorted(sides.values()) == [3, 4]


def test_generator_is_reproducible_and_stays_in_range():
    ranges = StimulusRanges(axes="2", rotation_max_deg=60.0, angle_step_deg=30.0)

    def draw(seed):
        gen = StimulusGenerator(seed)
        gen.new_block(40, ("hand",))
        return [gen.next(ranges) for _ in range(40)]

    a, b = draw(3), draw(3)
    assert a == b
    assert a != draw(4)
    for s in a:
        assert len(s.axes) <= 2
        assert all(v in (-60.0, -30.0, 0.0, 30.0, 60.0) for v in s.angles)
    assert any(len(s.axes) == 2 for s in a)
    in_plane = StimulusGenerator(1)
    assert all(s.angles[1:] == (0.0, 0.0)
               for s in (in_plane.next(StimulusRanges()) for _ in range(20)))


def test_context_objects_come_with_their_grip():
    gen = StimulusGenerator(2)
    ranges = StimulusRanges(limbs=("hand",), context=True)
    for _ in range(12):
        s = gen.next(ranges)
        assert s.context in CONTEXT_POSTURES and s.posture == CONTEXT_POSTURES[s.context]
    foot = gen.next(StimulusRanges(limbs=("foot",), context=True))
    assert foot.context == "ball" and foot.posture in FOOT_POSTURES


def test_postures_are_arrays_of_limb_angles():
    assert hand_posture("open").shape == (27,) and not hand_posture("open").any()
    assert foot_posture("toes_up").shape == (8,)
    assert posture_angles("hand", "fist") is hand_posture("fist")
    with pytest.raises(ValueError):
        hand_posture("fist")[5] = 1.0                        # read-only
    for bad in (lambda: hand_posture("wave"), lambda: foot_posture("fist"),
                lambda: posture_angles("arm", "open")):
        with pytest.raises(PostureError):
            bad()


def _arm(posture: str) -> np.ndarray:
    arm = ArmSolver(0.33, 0.26, 0.19)
    arm.forward(hand_posture(posture), 1)
    return arm.positions.copy()


def test_pinch_and_ok_meet_thumb_and_index_tips():
    """The fingertip pads meet: the tips (on the bone axes) as far apart as the two
    fingertips are thick, about 15 mm for a 19 cm hand, not inside each other
    (tests/test_posture_clearance.py)."""
    thumb, index = ARM_JOINT_NAMES.index("thumb_tip"), ARM_JOINT_NAMES.index("index_tip")
    for posture in ("pinch", "ok"):
        p = _arm(posture)
        assert 0.012 < np.linalg.norm(p[thumb] - p[index]) < 0.018
    p = _arm("open")
    assert np.linalg.norm(p[thumb] - p[index]) > 0.05


def test_fist_and_point_fold_the_right_fingers():
    wrist = ARM_JOINT_NAMES.index("wrist")
    tips = {f: ARM_JOINT_NAMES.index(f"{f}_tip") for f in ("index", "middle", "little")}
    open_, fist, point = _arm("open"), _arm("fist"), _arm("point")
    reach = {name: {f: np.linalg.norm(p[i] - p[wrist]) for f, i in tips.items()}
             for name, p in (("open", open_), ("fist", fist), ("point", point))}
    for f in tips:
        assert reach["fist"][f] < 0.7 * reach["open"][f]
    assert reach["point"]["index"] == pytest.approx(reach["open"]["index"])
    assert reach["point"]["middle"] < 0.7 * reach["open"]["middle"]
    assert set(HAND_POSTURES) >= {"open", "fist", "point", "pinch", "thumbs_up", "ok"}


def test_foot_postures_move_the_toes_as_named():
    leg = LegSolver(0.43, 0.43, 0.27, 0.07)
    toe, ankle = LEG_JOINT_NAMES.index("toe_tip"), LEG_JOINT_NAMES.index("ankle")
    height = {}
    for name in ("neutral", "toes_up", "pointed"):
        leg.forward(foot_posture(name), 1)
        height[name] = leg.positions[toe, 2] - leg.positions[ankle, 2]
    assert height["toes_up"] > height["neutral"] > height["pointed"]
