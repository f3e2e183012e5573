"""Amputation levels, residual layouts and anthropometry."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrgmi.body.anthropometry import RATIOS, SegmentLengths
from vrgmi.body.levels import LEVELS, ResidualLayout, get_level
from vrgmi.body.skeleton import (
    ARM_JOINT_NAMES, LEG_JOINT_NAMES, BodyModelError, rest_foot_positions, rest_hand_positions,
)
from vrgmi.tracking.frame import TRACKER_ROLES

#: name: (limb, stump segment, default fraction, first virtual joint, tracker joint)
EXPECTED = {
    "partial_hand": ("arm", 2, 0.45, "thumb_metacarpal", "wrist"),
    "wrist_disarticulation": ("arm", 1, 1.0, "palm", "wrist"),
    "transradial": ("arm", 1, 0.5, "wrist", "wrist"),
    "elbow_disarticulation": ("arm", 0, 1.0, "wrist", "elbow"),
    "transhumeral": ("arm", 0, 0.5, "elbow", "elbow"),
    "shoulder_disarticulation": ("arm", 0, 0.0, "elbow", None),
    "partial_foot": ("leg", 2, 0.6, "ball", "foot"),
    "ankle_syme": ("leg", 1, 1.0, "heel", "ankle"),
    "transtibial": ("leg", 1, 0.5, "ankle", "ankle"),
    "knee_disarticulation": ("leg", 0, 1.0, "ankle", "knee"),
    "transfemoral": ("leg", 0, 0.5, "knee", "knee"),
    "hip_disarticulation": ("leg", 0, 0.0, "knee", None),
}
ADULT = SegmentLengths.from_height(1.75)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and isinstance(exc.value, ValueError)
    return text


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_clinical_level_is_modelled(name):
    limb, seg, frac, first, tracker = EXPECTED[name]
    lvl = get_level(name)
    names = ARM_JOINT_NAMES if limb == "arm" else LEG_JOINT_NAMES
    assert (lvl.limb, lvl.stump_segment, lvl.default_residual_fraction) == (limb, seg, frac)
    assert names[lvl.first_virtual_joint] == first
    for side in ("left", "right"):
        role = lvl.residual_tracker_role(side)
        assert role == (None if tracker is None else f"{side}_{tracker}")
        assert role is None or role in TRACKER_ROLES
    assert lvl.residual_tracker_role(0) == lvl.residual_tracker_role("left")
    assert lvl.description
    with pytest.raises(dataclasses.FrozenInstanceError):
        lvl.name = "x"


def test_levels_are_exactly_the_clinical_list_and_unknown_names_list_them():
    assert set(LEVELS) == set(EXPECTED)
    with pytest.raises(BodyModelError) as e:
        get_level("below_knee")
    text = one_line(e)
    assert "below_knee" in text and all(n in text for n in EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_layout_splits_the_limb_into_real_and_virtual_joints(name):
    layout = ResidualLayout.build(name, ADULT)
    lvl = layout.level
    seg = ADULT.limb(lvl.limb)[lvl.stump_segment]
    assert layout.segment_length == seg
    assert layout.stump_end_offset == pytest.approx(lvl.default_residual_fraction * seg)
    assert layout.real_joints + layout.virtual_joints == lvl.joint_names
    assert layout.virtual_joints[0] == lvl.joint_names[lvl.first_virtual_joint]
    assert np.linalg.norm(layout.stump_end_rest) <= seg + ADULT.ankle_height


def test_adjustable_residual_fraction_is_bounded():
    layout = ResidualLayout.build("transradial", ADULT, residual_fraction=0.3)
    assert layout.stump_end_offset == pytest.approx(0.3 * ADULT.forearm)
    np.testing.assert_allclose(layout.stump_end_rest, [0, 0, -0.3 * ADULT.forearm])
    for bad in (0.05, 0.95, "half"):
        with pytest.raises(BodyModelError) as e:
            ResidualLayout.build("transfemoral", ADULT, residual_fraction=bad)
        assert "residual_fraction" in one_line(e) and "0.1..0.9" in str(e.value)
    with pytest.raises(BodyModelError) as e:
        ResidualLayout.build("knee_disarticulation", ADULT, residual_fraction=0.5)
    assert "fixed residual length" in one_line(e)


def test_partial_foot_ends_between_heel_and_ball_on_the_sole():
    layout = ResidualLayout.build("partial_foot", ADULT)
    heel, ball = rest_foot_positions(ADULT.foot, ADULT.ankle_height)[[1, 2]]
    assert heel[1] < layout.stump_end_rest[1] < ball[1]
    assert layout.stump_end_rest[2] == pytest.approx(heel[2])


def test_partial_hand_ends_at_the_metacarpal_heads():
    layout = ResidualLayout.build("partial_hand", ADULT)
    knuckles = rest_hand_positions(ADULT.hand)[[7, 12, 17, 22]]    # *_proximal (MCP)
    assert layout.stump_end_rest[2] == pytest.approx(knuckles[:, 2].mean(), abs=0.01)


# --- anthropometry ---

def test_from_height_uses_the_published_ratios():
    h = 1.80
    s = SegmentLengths.from_height(h)
    for name, ratio in (("upper_arm", 0.186), ("forearm", 0.146), ("hand", 0.108),
                        ("thigh", 0.245), ("shank", 0.246), ("foot", 0.152),
                        ("ankle_height", 0.039), ("shoulder_width", 0.259),
                        ("hip_width", 0.191)):
        assert getattr(s, name) == pytest.approx(ratio * h)
    assert s.eye_height_seated - s.shoulder_height_seated == pytest.approx((0.936 - 0.818) * h)
    assert s.shoulder_height_seated - s.hip_height_seated == pytest.approx((0.818 - 0.530) * h)


@settings(max_examples=50, deadline=None)
@given(st.floats(1.2, 2.2))
def test_every_allowed_height_gives_valid_lengths_for_the_rest_geometry(h):
    s = SegmentLengths.from_height(h)
    assert SegmentLengths.measured(**dataclasses.asdict(s)) == s
    rest_hand_positions(s.hand)
    rest_foot_positions(s.foot, s.ankle_height)


def test_height_and_measured_values_are_validated_with_one_line():
    for bad in (1.0, 2.5, float("nan")):
        with pytest.raises(BodyModelError) as e:
            SegmentLengths.from_height(bad)
        assert "1.2..2.2" in one_line(e)
    with pytest.raises(BodyModelError) as e:
        SegmentLengths.measured(1.75, forearm=0.6)
    assert one_line(e) == ("forearm = 0.6 m is outside the plausible adult range "
                           "0.16..0.34 m")
    with pytest.raises(BodyModelError) as e:
        SegmentLengths.measured(1.75, wingspan=1.8)
    assert "unknown segment 'wingspan'" in one_line(e)
    with pytest.raises(BodyModelError) as e:
        SegmentLengths.measured(forearm=0.25)
    assert "missing upper_arm" in one_line(e)
    s = SegmentLengths.measured(1.75, forearm=0.25, hand=0.2)
    assert (s.forearm, s.hand, s.thigh) == (0.25, 0.2, pytest.approx(0.245 * 1.75))
    assert set(RATIOS) == {f.name for f in dataclasses.fields(SegmentLengths)}


def test_limb_lengths_by_name():
    assert ADULT.limb("arm") == (ADULT.upper_arm, ADULT.forearm, ADULT.hand)
    assert ADULT.limb("leg") == (ADULT.thigh, ADULT.shank, ADULT.foot)
    with pytest.raises(BodyModelError, match="limb 'tail'"):
        ADULT.limb("tail")
