"""Hand FK from curls, pinch, the XR joint-axis convention, and the grip <-> wrist transform."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.runtime import _nrt_python, rtsys

from vrgmi.body import hand
from vrgmi.body.hand import (
    REST_WRIST_QUAT, grip_from_wrist, hand_joints_from_curl, hand_joints_kernel,
    wrist_from_grip, wrist_in_grip,
)
from vrgmi.body.skeleton import FINGER_BONE_FRACTIONS, BodyModelError, rest_hand_positions
from vrgmi.spatial import engine_to_stage_pose, quat_mul, quat_rotate, quats_to_matrices
from vrgmi.tracking.frame import HAND_JOINT_NAMES

J = {n: i for i, n in enumerate(HAND_JOINT_NAMES)}
CHAINS = [[J[n] for n in HAND_JOINT_NAMES if n.startswith(f)]
          for f in ("thumb", "index", "middle", "ring", "little")]

unit = st.floats(-1.0, 1.0)
quats = st.tuples(unit, unit, unit, unit).filter(lambda q: np.linalg.norm(q) > 0.2).map(
    lambda q: np.array(q) / np.linalg.norm(q))
points = st.tuples(*[st.floats(-2.0, 2.0)] * 3).map(np.array)
curl_sets = st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5).map(np.array)


def pose(p, q) -> np.ndarray:
    return np.concatenate([p, q])


def solve(wrist, length=0.19, curls=np.zeros(5), pinch=0.0) -> np.ndarray:
    return hand_joints_from_curl(wrist, length, np.asarray(curls, float), np.zeros((26, 7)),
                                 pinch)


def axis(j: np.ndarray, v) -> np.ndarray:
    return quat_rotate(np.ascontiguousarray(j[3:]), np.array(v, float))


def bend(a, b, c) -> float:
    """Angle in degrees between bone a->b and bone b->c."""
    u, v = b - a, c - b
    return np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


def test_curl_zero_is_the_rest_hand_at_any_wrist_pose():
    """The fingers as at rest; the thumb relaxed beside the index (tests/test_thumb_rest.py)."""
    length = 0.2
    rest = rest_hand_positions(length)
    rest[2:6] = solve(pose([0.0, 0.0, 0.0], REST_WRIST_QUAT), length)[2:6, :3]
    assert np.linalg.norm(rest[J["thumb_tip"]] - rest_hand_positions(length)[J["thumb_tip"]]) \
        > 0.03
    out = solve(pose([0.3, -0.2, 1.1], REST_WRIST_QUAT), length)
    np.testing.assert_allclose(out[:, :3], rest + [0.3, -0.2, 1.1], atol=1e-12)
    turn = np.array([0.3, -0.5, 0.2, 0.78])
    turn /= np.linalg.norm(turn)
    out = solve(pose([0.0, 0.0, 0.0], quat_mul(turn, REST_WRIST_QUAT)), length)
    expected = rest @ quats_to_matrices(turn).T
    np.testing.assert_allclose(out[:, :3], expected, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(points, quats, st.floats(0.12, 0.26), curl_sets, st.floats(0.0, 1.0))
def test_bones_keep_their_lengths_and_joint_axes_follow_the_bones(p, q, length, curls, pinch):
    out = solve(pose(p, q), length, curls, pinch)
    np.testing.assert_allclose(np.linalg.norm(out[:, 3:], axis=1), 1.0, atol=1e-12)
    for f, chain in enumerate(CHAINS):
        fracs = [x for x in FINGER_BONE_FRACTIONS[f] if x > 0]
        for k, (a, b) in enumerate(zip(chain[:-1], chain[1:])):
            bone = out[b, :3] - out[a, :3]
            assert np.linalg.norm(bone) == pytest.approx(fracs[k] * length, abs=1e-9)
            # engine-space local +Y points distally along the bone ...
            np.testing.assert_allclose(axis(out[a], [0, 1, 0]), bone / np.linalg.norm(bone),
                                       atol=1e-9)
        # ... and the tip shares the distal bone's orientation
        np.testing.assert_allclose(out[chain[-1], 3:], out[chain[-2], 3:], atol=1e-12)


def test_stage_space_axes_are_the_xr_hand_tracking_convention():
    # XR_EXT_hand_tracking: -Z distal along the bone, +Y out of the back of the hand
    out = engine_to_stage_pose(solve(pose([0.2, 0.1, 1.0], REST_WRIST_QUAT), 0.19,
                                     [0.3, 0.5, 0.2, 0.1, 0.4]))
    back_of_hand = axis(out[J["wrist"]], [0, 1, 0])
    np.testing.assert_allclose(back_of_hand, [1.0, 0.0, 0.0], atol=1e-12)  # stage +x: right
    for chain in CHAINS:
        a, b = chain[0], chain[1]
        d = out[b, :3] - out[a, :3]
        np.testing.assert_allclose(axis(out[a], [0, 0, -1]), d / np.linalg.norm(d), atol=1e-9)
    for f in ("index", "middle", "ring", "little"):   # metacarpals face the back of the hand
        assert axis(out[J[f"{f}_metacarpal"]], [0, 1, 0]) @ back_of_hand > 0.99


def test_fist_has_the_natural_joint_angles_and_the_thumb_folds_across():
    out = solve(pose([0, 0, 0], REST_WRIST_QUAT), 0.19, np.ones(5))
    rest = solve(pose([0, 0, 0], REST_WRIST_QUAT), 0.19)
    for f in ("index", "middle", "ring", "little"):
        m, p, i, d, t = (out[J[f"{f}_{n}"], :3] for n in
                         ("metacarpal", "proximal", "intermediate", "distal", "tip"))
        assert bend(m, p, i) == pytest.approx(85.0, abs=1e-6)
        assert bend(p, i, d) == pytest.approx(100.0, abs=1e-6)
        assert bend(i, d, t) == pytest.approx(70.0, abs=1e-6)
        assert np.linalg.norm(t - out[J["palm"], :3]) < 0.06       # tip back near the palm
    tip = out[J["thumb_tip"], :3]
    assert tip[1] < rest[J["thumb_tip"], 1] - 0.05             # moved ulnar, across the hand
    phalanges = [0.5 * (out[J[f"{f}_intermediate"], :3] + out[J[f"{f}_distal"], :3])
                 for f in ("index", "middle")]
    gaps = [np.linalg.norm(tip - c) for c in phalanges]
    assert 0.012 < min(gaps) < 0.035                            # resting on, not inside


@settings(max_examples=30, deadline=None)
@given(points, quats, st.floats(0.12, 0.26), curl_sets)
def test_full_pinch_puts_thumb_and_index_tips_together(p, q, length, curls):
    out = solve(pose(p, q), length, curls, 1.0)
    assert np.linalg.norm(out[J["thumb_tip"], :3] - out[J["index_tip"], :3]) < 1e-9


def test_pinch_closes_the_gap_monotonically():
    gaps = []
    for amount in np.linspace(0.0, 1.0, 21):
        out = solve(pose([0, 0, 0], REST_WRIST_QUAT), 0.19, np.zeros(5), amount)
        gaps.append(np.linalg.norm(out[J["thumb_tip"], :3] - out[J["index_tip"], :3]))
    assert gaps[0] > 0.08 and gaps[-1] < 1e-9          # the open hand's relaxed thumb: 9.2 cm
    assert np.all(np.diff(gaps) < 0.0)


def test_out_of_range_curls_are_clamped_and_bad_input_is_one_line():
    w = pose([0, 0, 0], REST_WRIST_QUAT)
    np.testing.assert_array_equal(solve(w, 0.19, [2, 2, 2, 2, 2]), solve(w, 0.19, np.ones(5)))
    for call, words in [
        (lambda: solve(w, 0.5), "hand_length 0.5"),
        (lambda: solve(w, 0.19, np.zeros(4)), "curls must have shape (5,)"),
        (lambda: hand_joints_from_curl(w, 0.19, np.zeros(5), np.zeros((25, 7))), "out must"),
    ]:
        with pytest.raises(BodyModelError) as e:
            call()
        assert words in str(e.value) and "\n" not in str(e.value)


def _nrt_allocations() -> int:
    return rtsys.get_allocation_stats().alloc


@njit
def _many_hands(n, wrist, curls, out):
    for i in range(n):
        hand_joints_kernel(wrist, 0.19, curls, 0.01 * (i % 100), out)


def test_the_kernel_allocates_nothing_per_call():
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        w, c, out = pose([0, 0, 0], REST_WRIST_QUAT), np.full(5, 0.4), np.zeros((26, 7))
        _many_hands(1, w, c, out)
        a = _nrt_allocations()
        _many_hands(1, w, c, out)
        per_call = _nrt_allocations() - a          # unboxing the arguments only
        a = _nrt_allocations()
        _many_hands(5000, w, c, out)
        assert _nrt_allocations() - a == per_call
    finally:
        if not was_enabled:
            _nrt_python.memsys_disable_stats()


# --- grip <-> wrist ---

def test_grip_and_wrist_round_trip_for_both_sides():
    rng = np.random.default_rng(3)
    for _ in range(20):
        q = rng.normal(size=4)
        g = pose(rng.normal(size=3), q / np.linalg.norm(q))
        for side in (0, 1, "left", "right"):
            w = wrist_from_grip(g, side, np.zeros(7))
            assert np.linalg.norm(w[:3] - g[:3]) == pytest.approx(np.hypot(0.085, 0.02))
            back = grip_from_wrist(w, side, np.zeros(7))
            np.testing.assert_allclose(back[:3], g[:3], atol=1e-12)
            assert abs(back[3:] @ g[3:]) == pytest.approx(1.0, abs=1e-12)


def test_rest_grip_holds_a_rest_wrist_whose_fist_closes_around_the_grip_origin():
    grip = pose([0.25, 0.1, 0.6], [0, 0, 0, 1.0])       # both grips are identity at rest
    w = wrist_from_grip(grip, "right", np.zeros(7))
    assert abs(w[3:] @ REST_WRIST_QUAT) == pytest.approx(1.0)
    np.testing.assert_allclose(w[:3] - grip[:3], [0.02, 0.0, 0.085], atol=1e-12)
    fist = solve(w, 0.19, np.ones(5))
    ring = [fist[J[f"{f}_{n}"], :3] for f in ("index", "middle", "ring", "little")
            for n in ("proximal", "intermediate", "distal")]
    assert np.linalg.norm(np.mean(ring, axis=0) - grip[:3]) < 0.025
    # the handle runs little finger -> thumb along grip +Y
    assert fist[J["index_proximal"], 1] > fist[J["little_proximal"], 1]


def test_wrist_offset_is_configurable_and_validated():
    w = wrist_from_grip(pose([0, 0, 0], [0, 0, 0, 1.0]), 1, np.zeros(7),
                        wrist_in_grip(proximal=0.1, dorsal=0.0))
    np.testing.assert_allclose(w[:3], [0.0, 0.0, 0.1], atol=1e-12)
    with pytest.raises(BodyModelError, match="grip offset"):
        wrist_in_grip(proximal=0.5)
    with pytest.raises(BodyModelError, match="side 'up'"):
        wrist_from_grip(np.zeros(7), "up", np.zeros(7))


def test_pinch_templates_are_within_natural_ranges():
    assert np.all(np.degrees(hand.PINCH_THUMB_ANGLES[2:4]) < 60.0)
    assert np.all(np.degrees(hand.FIST_ANGLES[0, 2:4]) < 80.0)
