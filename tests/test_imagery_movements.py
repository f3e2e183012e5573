"""The imagery movement library: counts, KVIQ coverage, joint limits, IK reachability, the
thumb really meeting each fingertip, the seated sole on the floor, and the player's timing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vrgmi.ik.limits import (ARM_LIMITS, HIP_SINUS, LEG_LIMITS, SHOULDER_SINUS,
                             knee_rotation_limits, sinus_max, sinus_radians)
from vrgmi.ik.solver import ArmSolver, LegSolver
from vrgmi.imagery.kviq import KVIQ_ITEMS
from vrgmi.imagery.movements import (LEAD_IN_S, LEG_SEATED, LIBRARY, LOWER, REPETITION_PAUSE_S,
                                     UPPER, Keyframe, Movement, MovementError, MovementPlayer,
                                     _min_jerk, dof_names, get_movement, movements_for)

SHOULDER = np.array([-0.187, -0.101, 1.026])
HIP = np.array([-0.094, -0.103, 0.522])
TORSO = np.array([-0.006, -0.105, 1.026, 0.0, 0.0, 0.0, 1.0])


def _arm() -> ArmSolver:
    return ArmSolver(0.3255, 0.2555, 0.189)


def _leg() -> LegSolver:
    return LegSolver(0.42875, 0.4305, 0.266, 0.06825)


def _solver(limb: str):
    s = _arm() if limb == "arm" else _leg()
    s.torso[:] = TORSO
    return s, (SHOULDER if limb == "arm" else HIP)


def test_library_counts_levels_and_limbs():
    assert len(UPPER) >= 12 and len(LOWER) >= 8
    assert all(m.limb == "arm" for m in UPPER) and all(m.limb == "leg" for m in LOWER)
    for limb in ("arm", "leg"):
        for level in (1, 2, 3):
            assert len(movements_for(limb, level)) >= (5 if level == 1 else 2)
    assert len(LIBRARY) == len(UPPER) + len(LOWER)          # ids are unique


def test_every_limb_kviq_item_is_in_the_library_once():
    shown = {m.kviq: m for m in LIBRARY.values() if m.kviq}
    limb_items = {i.id for i in KVIQ_ITEMS.values() if i.region != "axial"}
    assert set(shown) == limb_items
    assert sum(m.kviq is not None for m in LIBRARY.values()) == len(limb_items)
    for item, m in shown.items():
        assert m.limb == KVIQ_ITEMS[item].region
    assert get_movement("foot_tapping").kviq == "foot_tapping"
    assert get_movement("shoulder_flexion").kviq == "forward_shoulder_flexion"


@pytest.mark.parametrize("movement", list(LIBRARY.values()), ids=list(LIBRARY))
def test_keyframes_inside_joint_limits(movement: Movement):
    limits = np.degrees(ARM_LIMITS if movement.limb == "arm" else LEG_LIMITS)
    sinus = sinus_radians(np.degrees(SHOULDER_SINUS[1]) if movement.limb == "arm"
                          else np.degrees(HIP_SINUS[1]))
    names = dof_names(movement.limb)
    for k in movement.keyframes:
        deg = np.array([k.pose[n] for n in names])
        assert np.all(deg >= limits[:, 0] - 1e-9) and np.all(deg <= limits[:, 1] + 1e-9), k.t
        plane, elevation = math.radians(deg[0]), math.radians(deg[1])
        assert elevation <= sinus_max(sinus, plane) + 1e-9
        if movement.limb == "leg":
            lo, hi = knee_rotation_limits(math.radians(deg[3]), np.radians(limits))
            assert lo - 1e-9 <= math.radians(deg[4]) <= hi + 1e-9
        assert 0.0 <= k.shrug_m <= 0.08


@pytest.mark.parametrize("movement", list(LIBRARY.values()), ids=list(LIBRARY))
def test_every_keyframe_is_reachable_by_the_ik(movement: Movement):
    """The IK, asked for each keyframe's wrist / ankle pose, reaches it (within 5 mm)."""
    shown, root = _solver(movement.limb)
    ik, _ = _solver(movement.limb)
    player = MovementPlayer(movement.limb)
    for side in (0, 1):
        for row in movement.poses:
            player.apply(row, shown, side, root)
            ik.reset()
            ik.root[:] = shown.positions[0]
            ik.target[:3] = shown.positions[2]
            ik.target[3:] = shown.rotations[2]
            assert ik.solve(side) < 0.005


def test_thumb_meets_each_fingertip_in_opposition():
    m = get_movement("thumb_opposition")
    solver, root = _solver("arm")
    player = MovementPlayer("arm")
    names = solver.joint_names
    for k, finger in zip(m.poses[1:5], ("index", "middle", "ring", "little")):
        player.apply(k, solver, 0, root)
        gap = np.linalg.norm(solver.positions[names.index("thumb_tip")]
                             - solver.positions[names.index(f"{finger}_tip")])
        assert gap < 0.012, finger
    player.apply(m.poses[0], solver, 0, root)              # open hand: well apart
    assert np.linalg.norm(solver.positions[names.index("thumb_tip")]
                          - solver.positions[names.index("index_tip")]) > 0.04


def test_seated_leg_has_its_sole_on_the_floor():
    solver, root = _solver("leg")
    names = dof_names("leg")
    solver.root[:] = root
    solver.forward(np.radians([LEG_SEATED[n] for n in names]), 0)
    for joint in ("heel", "ball"):
        assert abs(solver.positions[solver.joint_names.index(joint)][2]) < 0.01


@pytest.mark.parametrize("side", (0, 1))
def test_knee_out_to_the_side_moves_the_knee_sideways(side: int):
    """Hip abduction seated: at the movement's peak the solved knee is >= 20 cm further out
    (away from the other leg) than in the start posture, moves sideways rather than forward
    or up, and the foot stays on the floor."""
    solver, hip = _solver("leg")
    root = hip * (1.0 if side == 0 else (-1.0, 1.0, 1.0))     # the left / right hip joint
    m = get_movement("hip_abduction")
    player = MovementPlayer("leg")
    player.start(m, 1)
    knee, heel = solver.joint_names.index("knee"), solver.joint_names.index("heel")
    player.apply(m.poses[0], solver, side, root)
    start = solver.positions.copy()
    player.apply(m.poses[1], solver, side, root)               # the middle keyframe: out
    out = -1.0 if side == 0 else 1.0                            # lateral: -x left, +x right
    moved = solver.positions[knee] - start[knee]
    assert out * moved[0] >= 0.20
    assert abs(moved[1]) < 0.5 * out * moved[0] and abs(moved[2]) < 0.03
    assert abs(solver.positions[heel][2]) < 0.03


def test_shrug_lifts_the_shoulder_joint():
    m = get_movement("shoulder_shrug")
    solver, root = _solver("arm")
    player = MovementPlayer("arm")
    player.apply(m.poses[1], solver, 0, root)
    assert solver.positions[0][2] == pytest.approx(root[2] + 0.05)
    player.apply(m.poses[0], solver, 0, root)
    assert solver.positions[0][2] == pytest.approx(root[2])


def test_min_jerk_profile_hand_values():
    assert _min_jerk(0.0) == 0.0 and _min_jerk(1.0) == 1.0
    assert _min_jerk(0.5) == pytest.approx(0.5)
    assert _min_jerk(0.25) == pytest.approx(0.103515625)   # 0.25^3 (10 - 3.75 + 0.375)


def test_player_timing_repetitions_and_interpolation():
    m = get_movement("elbow_flex_ext")                     # keyframes at 0, 1.1, 2.2 s
    elbow = dof_names("arm").index("elbow_flexion")
    p = MovementPlayer("arm")
    p.start(m, 2)
    assert p.total_s == pytest.approx(2 * 2.2 + REPETITION_PAUSE_S)
    assert p.angles_at(1.1)[elbow] == pytest.approx(135.0)
    quarter = 0.25 * 1.1
    assert p.angles_at(quarter)[elbow] == pytest.approx(10.0 + 0.103515625 * 125.0)
    assert p.angles_at(2.2 + 0.5 * REPETITION_PAUSE_S)[elbow] == pytest.approx(10.0)  # pause
    second = 2.2 + REPETITION_PAUSE_S + 1.1
    assert p.angles_at(second)[elbow] == pytest.approx(135.0)
    assert (p.repetition_at(0.5), p.repetition_at(second)) == (1, 2)
    assert p.angles_at(99.0)[elbow] == pytest.approx(10.0)     # after the end: start posture


def test_player_lead_in_glides_from_the_current_pose():
    m = get_movement("elbow_flex_ext")
    elbow = dof_names("arm").index("elbow_flexion")
    current = m.poses[0].copy()
    current[elbow] = 60.0
    p = MovementPlayer("arm")
    p.start(m, 1, current)
    assert p.total_s == pytest.approx(LEAD_IN_S + 2.2)
    assert p.angles_at(0.0)[elbow] == pytest.approx(60.0)
    assert p.angles_at(LEAD_IN_S / 2)[elbow] == pytest.approx(35.0)
    assert p.angles_at(LEAD_IN_S)[elbow] == pytest.approx(10.0)
    assert p.repetition_at(0.2) == 0


def test_bad_requests_are_one_line_errors():
    with pytest.raises(MovementError, match="no imagery movement 'juggle'"):
        get_movement("juggle")
    with pytest.raises(MovementError, match="limb 'tail'"):
        movements_for("tail")
    with pytest.raises(MovementError, match="level 4"):
        movements_for("arm", 4)
    with pytest.raises(MovementError, match="is for the leg"):
        MovementPlayer("arm").start(get_movement("knee_extension"), 1)
    pose = dict(LEG_SEATED)
    with pytest.raises(ValueError, match="must end in its start posture"):
        Movement("x", "x", "x", "x", "leg", 1, "ankle",
                 (Keyframe(0.0, pose), Keyframe(1.0, dict(pose, knee_flexion=10.0)),
                  Keyframe(2.0, dict(pose, knee_flexion=20.0))))
    with pytest.raises(ValueError, match="keyframe times"):
        Movement("x", "x", "x", "x", "leg", 1, "ankle",
                 (Keyframe(0.0, pose), Keyframe(0.0, pose), Keyframe(2.0, pose)))
    with pytest.raises(ValueError, match="unknown KVIQ item"):
        Movement("x", "x", "x", "x", "leg", 1, "ankle",
                 (Keyframe(0.0, pose), Keyframe(1.0, pose), Keyframe(2.0, pose)), kviq="nope")


def test_texts_name_the_side():
    m = get_movement("knee_extension")
    assert "left knee" in m.text("left") and "right knee" in m.cue_text("right")
