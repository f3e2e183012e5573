"""The limb IK: FK -> IK round trips in every fixed-prefix mode, limits under any target,
continuity, mirror symmetry, fingers (retarget and curls), bad input, allocation, reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from numba import njit

from vrgmi.body.skeleton import rest_foot_positions, rest_hand_positions
from vrgmi.ik import ARM_DOF_NAMES, LEG_DOF_NAMES, ArmSolver, IKInputError, LegSolver, warmup
from vrgmi.ik import kernels as K
from vrgmi.ik.limits import (ARM_LIMITS, ARM_ROM, HIP_SINUS, LEG_LIMITS, LEG_ROM, SHOULDER_SINUS,
                             knee_rotation_limits, sinus_max)
from vrgmi.ik.reference_numpy import solve_arm_numpy
from vrgmi.ik.solver import FIST_DEG, HAND_FROM_ARM, OPEN_DEG, TOE_CURL_DEG

ARM = (0.30, 0.26, 0.19)
LEG = (0.45, 0.43, 0.26, 0.08)
EPS = 1e-9
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TIPS = [HAND_FROM_ARM[i] for i in (5, 10, 15, 20, 25)]


# ------------------------------------------------------------------ helpers
def qmul(a, b):
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])


def qconj(q):
    return np.array([-q[0], -q[1], -q[2], q[3]])


def qrot(q, v):
    return qmul(qmul(q, np.r_[v, 0.0]), qconj(q))[:3]


def qsame(a, b, tol=1e-7):
    """Same rotation (either sign) for (..., 4) arrays."""
    return np.all(np.abs(np.abs(np.sum(np.asarray(a) * np.asarray(b), axis=-1)) - 1.0) < tol)


def angles_close(a, b, tol):
    """Equal joint angles, modulo full turns (plane +-180 deg are the same plane)."""
    d = (np.asarray(a) - np.asarray(b) + math.pi) % (2 * math.pi) - math.pi
    return np.abs(d).max() < tol


def torso_pose(yaw, lean, ox, oy):
    """A torso turned by yaw and leaning forward by lean, origin anywhere."""
    q = qmul(np.array([0, 0, math.sin(yaw / 2), math.cos(yaw / 2)]),
             np.array([math.sin(lean / 2), 0, 0, math.cos(lean / 2)]))
    return np.r_[ox, oy, 0.9, q]


def mirror_p(p, torso):
    """Reflect world points (..., 3) across the torso's sagittal plane."""
    o, q = torso[:3], torso[3:]
    p = np.atleast_2d(p)
    loc = np.array([qrot(qconj(q), x - o) for x in p])
    loc[:, 0] *= -1
    return np.array([o + qrot(q, x) for x in loc])


def mirror_q(quats, torso):
    """Mirror world delta rotations (..., 4) across the torso's sagittal plane."""
    q = torso[3:]
    out = []
    for r in np.atleast_2d(quats):
        loc = qmul(qconj(q), r)
        out.append(qmul(q, loc * np.array([1, -1, -1, 1])))
    return np.array(out)


def in_limit_angles(fr, lim, sinus, middle_min=math.radians(20.0)):
    """Map fractions in [0, 1] to in-limit joint angles (arm 27 or leg 8)."""
    fr = np.asarray(fr)
    a = lim[:, 0] + fr * (lim[:, 1] - lim[:, 0])
    a[1] = fr[1] * sinus_max(sinus, a[0])
    a[3] = middle_min + fr[3] * (lim[3, 1] - middle_min)
    if len(a) == 8:
        lo, hi = knee_rotation_limits(a[3], lim)
        a[4] = lo + fr[4] * (hi - lo)
    else:                                   # thumb CMC inside its elliptic cone
        r = K.FINGER_DOF0
        e = math.hypot(a[r] / (lim[r, 1] if a[r] >= 0 else -lim[r, 0]),
                       a[r + 1] / (lim[r + 1, 1] if a[r + 1] >= 0 else -lim[r + 1, 0]))
        if e > 1:
            a[r:r + 2] /= e
    return a


def check_limits(solver, angles, k, leg=False):
    """Every solved angle within its limits (+EPS); given segments (k >= 2) are not checked."""
    lim = solver.limits
    first = {1: 0, 2: 3, 3: 5, 4: 7}[k]
    if leg:
        first = min(first, 7)
    for i in range(first, len(angles)):
        lo, hi = lim[i]
        if leg and i == 4:
            lo, hi = knee_rotation_limits(angles[3], lim)
        assert lo - EPS <= angles[i] <= hi + EPS, (solver.dof_names[i], angles[i], lo, hi)
    if k == 1:
        assert angles[1] <= sinus_max(solver.sinus, angles[0]) + EPS
    if not leg:
        r = K.FINGER_DOF0
        e = math.hypot(angles[r] / (lim[r, 1] if angles[r] >= 0 else -lim[r, 0]),
                       angles[r + 1] / (lim[r + 1, 1] if angles[r + 1] >= 0 else -lim[r + 1, 0]))
        assert e <= 1 + EPS


def bone_lengths(solver):
    """(upper arm / thigh, forearm / shank) lengths of the solved pose."""
    p = solver.positions
    return np.linalg.norm(p[1] - p[0]), np.linalg.norm(p[2] - p[1])


def finger_bones(p):
    """(5, 3) lengths of each finger's three moving bones from arm positions (28, 3)."""
    out = np.zeros((5, 3))
    for f, chain in enumerate(K.FINGER_CHAINS):
        pts = p[chain + 2]
        out[f] = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    return out


def set_fixed(solver):
    """Copy the current positions/rotations into the fixed-joint inputs (a residual limb)."""
    solver.fixed_positions[:] = solver.positions
    solver.fixed_rotations[:] = solver.rotations


@pytest.fixture(scope="module")
def arm():
    warmup()
    return ArmSolver(*ARM)


@pytest.fixture(scope="module")
def leg():
    return LegSolver(*LEG)


fractions = st.lists(st.floats(0.0, 1.0), min_size=27, max_size=27).map(np.array)
torsos = st.builds(torso_pose, st.floats(-math.pi, math.pi), st.floats(-0.3, 0.3),
                   st.floats(-2.0, 2.0), st.floats(-2.0, 2.0))
sides = st.sampled_from([0, 1])


def place(solver, torso, side, height):
    """Torso and a root joint on the given side of it; a fresh session (unrelated poses)."""
    solver.reset()
    solver.torso[:] = torso
    x = 0.18 if side == 1 else -0.18
    solver.root[:] = torso[:3] + qrot(torso[3:], np.array([x, 0.0, height]))


# ------------------------------------------------------------------ tables and rest pose
def test_rom_tables_are_consistent():
    assert len(ARM_DOF_NAMES) == 27 and len(LEG_DOF_NAMES) == 8
    for rom, lim in ((ARM_ROM, ARM_LIMITS), (LEG_ROM, LEG_LIMITS)):
        for (name, lo, hi, what, source), row in zip(rom, lim):
            assert lo < hi and what and source, name
            assert np.allclose(np.degrees(row), (lo, hi))
    assert np.isclose(SHOULDER_SINUS[1].max(), ARM_LIMITS[1, 1])
    assert np.isclose(HIP_SINUS[1].max(), LEG_LIMITS[1, 1])
    assert np.isclose(np.degrees(sinus_max(SHOULDER_SINUS, math.radians(-90))), 60.0)  # extension
    assert np.isclose(np.degrees(sinus_max(HIP_SINUS, math.radians(90))), 120.0)       # flexion
    assert np.all(np.radians(FIST_DEG) <= ARM_LIMITS[7:, 1].reshape(5, 4))


@pytest.mark.parametrize("side", [0, 1])
def test_rest_pose_matches_skeleton(arm, leg, side):
    torso = torso_pose(0.7, 0.0, 0.3, -0.2)
    place(arm, torso, side, 0.5)
    arm.forward(np.zeros(27), side)
    rest = rest_hand_positions(ARM[2])
    if side == 0:
        rest[:, 0] *= -1
    wrist = arm.root + qrot(torso[3:], np.array([0, 0, -(ARM[0] + ARM[1])]))
    expect = np.array([wrist + qrot(torso[3:], r) for r in rest])
    assert np.allclose(arm.positions[HAND_FROM_ARM], expect, atol=1e-12)
    assert qsame(arm.rotations, np.tile(torso[3:], (28, 1)))
    place(leg, torso, side, 0.0)
    leg.forward(np.zeros(8), side)
    foot = rest_foot_positions(LEG[2], LEG[3])
    ankle = leg.root + qrot(torso[3:], np.array([0, 0, -(LEG[0] + LEG[1])]))
    assert np.allclose(leg.positions[2:], [ankle + qrot(torso[3:], f) for f in foot], atol=1e-12)
    assert qsame(leg.rotations, np.tile(torso[3:], (6, 1)))


# ------------------------------------------------------------------ reaching FK targets
@settings(max_examples=150, **SETTINGS)
@given(fr=fractions, torso=torsos, side=sides, k=st.sampled_from([1, 2, 3, 4]))
def test_arm_reaches_fk_targets_in_every_fixed_mode(arm, fr, torso, side, k):
    place(arm, torso, side, 0.5)
    a = in_limit_angles(fr, arm.limits, arm.sinus)
    arm.forward(a, side)
    assume(np.linalg.norm(arm.positions[2] - arm.root) <= arm.exact_reach)
    expect_p, expect_q = arm.positions.copy(), arm.rotations.copy()
    set_fixed(arm)
    arm.target[:3], arm.target[3:] = expect_p[2], expect_q[2]
    arm.curls[:] = 0.0
    swivel = arm.swivel_of(expect_p[1], expect_p[2], side)
    err = arm.solve(side, swivel=swivel, fixed=k)
    assert err < 1e-3
    assert np.abs(arm.positions[:3] - expect_p[:3]).max() < 1e-3
    assert qsame(arm.rotations[:3], expect_q[:3], 1e-6)
    assert angles_close(arm.angles[1:7], a[1:7], 1e-6)
    assert abs(K._wrap(arm.swivel - swivel)) < 1e-5   # 3 um at the elbow


@settings(max_examples=100, **SETTINGS)
@given(fr=fractions, torso=torsos, side=sides, k=st.sampled_from([1, 2, 3, 4]))
def test_leg_reaches_fk_targets_in_every_fixed_mode(leg, fr, torso, side, k):
    place(leg, torso, side, 0.0)
    a = in_limit_angles(fr[:8], leg.limits, leg.sinus)
    a[7] = 0.0
    leg.forward(a, side)
    assume(np.linalg.norm(leg.positions[2] - leg.root) <= leg.exact_reach)
    expect_p, expect_q = leg.positions.copy(), leg.rotations.copy()
    set_fixed(leg)
    leg.target[:3], leg.target[3:] = expect_p[2], expect_q[2]
    leg.toe_curl[0] = 0.0
    err = leg.solve(side, swivel=leg.swivel_of(expect_p[1], expect_p[2], side), fixed=k)
    assert err < 1e-3
    assert np.abs(leg.positions - expect_p).max() < 1e-3
    assert qsame(leg.rotations, expect_q, 1e-6)
    assert angles_close(leg.angles[1:7], a[1:7], 1e-6)


def test_default_swivel_reaches_almost_every_reachable_target(arm, leg):
    """With no swivel given (NaN) the elbow/knee goes to a comfortable place and moves off it
    only as far as the shoulder/hip limits need: nearly every reachable target is reached."""
    rng = np.random.default_rng(7)
    reached = {"arm": [], "leg": []}
    for name, solver, n in (("arm", arm, 27), ("leg", leg, 8)):
        torso = torso_pose(0.0, 0.0, 0.0, 0.0)
        place(solver, torso, 1, 0.5 if name == "arm" else 0.0)
        for _ in range(400):
            solver.forward(in_limit_angles(rng.uniform(0, 1, n), solver.limits, solver.sinus), 1)
            if np.linalg.norm(solver.positions[2] - solver.root) > solver.exact_reach:
                continue
            solver.reset()                                  # unrelated poses, not a motion
            solver.target[:3], solver.target[3:] = solver.positions[2], solver.rotations[2]
            reached[name].append(solver.solve(1) < 1e-3)
    assert np.mean(reached["arm"]) >= 0.99
    assert np.mean(reached["leg"]) >= 0.99


# ------------------------------------------------------------------ limits under any target
@settings(max_examples=150, **SETTINGS)
@given(fr=fractions, torso=torsos, side=sides, k=st.sampled_from([1, 2, 3, 4]),
       offset=st.tuples(*[st.floats(-1.0, 1.0)] * 3),
       quat=st.tuples(*[st.floats(-1.0, 1.0)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1),
       swivel=st.one_of(st.just(math.nan), st.floats(-4.0, 4.0)),
       hand_mode=st.sampled_from(["curl", "noisy", "garbage"]), seed=st.integers(0, 2 ** 16))
def test_arm_limits_hold_for_any_target(arm, fr, torso, side, k, offset, quat, swivel,
                                        hand_mode, seed):
    rng = np.random.default_rng(seed)
    place(arm, torso, side, 0.5)
    arm.forward(in_limit_angles(fr, arm.limits, arm.sinus, 0.0), side)
    set_fixed(arm)
    arm.target[:3] = arm.root + 0.9 * np.array(offset)      # up to ~1.6 x reach
    arm.target[3:] = np.array(quat) / np.linalg.norm(quat)
    arm.curls[:] = rng.uniform(-0.5, 1.5, 5)
    arm.hand_joints[:, :3] = arm.positions[HAND_FROM_ARM] + rng.normal(
        0.0, 0.003 if hand_mode == "noisy" else 0.05, (26, 3))
    arm.solve(side, swivel=swivel, fixed=k, hand_tracked=hand_mode != "curl")
    check_limits(arm, arm.angles, k)
    if k == 1:
        assert np.allclose(bone_lengths(arm), ARM[:2])
    if k <= 2:
        assert np.isclose(np.linalg.norm(arm.positions[2] - arm.positions[1]), ARM[1])
    assert np.allclose(finger_bones(arm.positions), arm.geometry[K.G_BONE:K.G_BONE + 15]
                       .reshape(5, 3))
    assert np.allclose(np.linalg.norm(arm.rotations, axis=1), 1.0)
    assert np.isfinite(arm.positions).all() and arm.error >= 0.0


@settings(max_examples=100, **SETTINGS)
@given(fr=fractions, torso=torsos, side=sides, k=st.sampled_from([1, 2, 3, 4]),
       offset=st.tuples(*[st.floats(-1.4, 1.4)] * 3),
       quat=st.tuples(*[st.floats(-1.0, 1.0)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1),
       swivel=st.one_of(st.just(math.nan), st.floats(-4.0, 4.0)), curl=st.floats(-1.0, 2.0))
def test_leg_limits_hold_for_any_target(leg, fr, torso, side, k, offset, quat, swivel, curl):
    place(leg, torso, side, 0.0)
    leg.forward(in_limit_angles(fr[:8], leg.limits, leg.sinus, 0.0), side)
    set_fixed(leg)
    leg.target[:3] = leg.root + np.array(offset)
    leg.target[3:] = np.array(quat) / np.linalg.norm(quat)
    leg.toe_curl[0] = curl
    leg.solve(side, swivel=swivel, fixed=k)
    check_limits(leg, leg.angles, k, leg=True)
    if k <= 2:
        assert np.allclose(bone_lengths(leg)[k - 1:], LEG[k - 1:2])
    foot = rest_foot_positions(LEG[2], LEG[3])
    assert np.isclose(np.linalg.norm(leg.positions[3] - leg.positions[2]), np.linalg.norm(foot[1]))
    assert np.isclose(np.linalg.norm(leg.positions[5] - leg.positions[4]),
                      np.linalg.norm(foot[3] - foot[2]))


# ------------------------------------------------------------------ continuity
def _circle_run(solver, center, radius, q, n=240):
    """Solve along a circle sampled at 120 Hz (one turn in 2 s); per-frame changes."""
    out = {"mid": [], "end": [], "angle": [], "swivel": [], "target": []}
    prev = None
    for i in range(n + 1):
        a = 2 * math.pi * i / n
        solver.target[:3] = center + radius * np.array([math.cos(a), 0.0, math.sin(a)])
        solver.target[3:] = q
        solver.solve(1)
        # the plane angle (index 0) is left out: near hanging straight down it sweeps fast
        # while the bone barely moves (the middle-joint step covers the bone's direction)
        now = (solver.positions[1].copy(), solver.positions[2].copy(), solver.angles[1:7].copy(),
               solver.swivel, solver.target[:3].copy())
        if prev is not None:
            out["mid"].append(np.linalg.norm(now[0] - prev[0]))
            out["end"].append(np.linalg.norm(now[1] - prev[1]))
            turn = (now[2] - prev[2] + math.pi) % (2 * math.pi) - math.pi
            out["angle"].append(np.abs(turn).max())
            out["swivel"].append(abs(K._wrap(now[3] - prev[3])))
            out["target"].append(np.linalg.norm(now[4] - prev[4]))
        prev = now
    return {key: np.array(v) for key, v in out.items()}


@pytest.mark.parametrize("reach", [0.2, 0.45])
def test_arm_follows_a_circle_without_jumps(arm, reach):
    """A 120 Hz circle in front of the shoulder; reach 0.45 m takes it past full extension."""
    torso = torso_pose(0.0, 0.0, 0.0, 0.0)
    place(arm, torso, 1, 0.5)
    fingers_forward = np.array([math.sin(math.pi / 4), 0, 0, math.cos(math.pi / 4)])
    center = arm.root + np.array([0.0, reach, -0.05])
    run = _circle_run(arm, center, 0.2, fingers_forward)
    step = run["target"].max()                         # ~5 mm per frame
    assert run["end"].max() < 1.5 * step + 1e-3
    assert run["mid"].max() < 3.0 * step
    assert run["angle"].max() < 0.1                    # < 6 deg per frame: no flips
    assert run["swivel"].max() < 0.1


def test_leg_follows_a_circle_without_jumps(leg):
    torso = torso_pose(0.0, 0.0, 0.0, 0.0)
    place(leg, torso, 1, 0.0)
    run = _circle_run(leg, leg.root + np.array([0.0, 0.45, -0.45]), 0.2,
                      np.array([0.0, 0.0, 0.0, 1.0]))
    step = run["target"].max()
    assert run["end"].max() < 1.5 * step + 1e-3
    assert run["mid"].max() < 3.0 * step
    assert run["angle"].max() < 0.1


@pytest.mark.parametrize("limb", ["arm", "leg"])
def test_random_smooth_paths_do_not_flip(arm, leg, limb):
    """Random smooth 120 Hz paths (position and orientation) sweeping in and out of reach:
    wherever the target is within 1 cm of reach, the elbow / knee moves at most a few times
    as far as the target per frame (it may swing faster near the root, never flip)."""
    rng = np.random.default_rng(5)
    solver = arm if limb == "arm" else leg
    torso = torso_pose(0.0, 0.0, 0.0, 0.0)
    center = np.array([0.0, 0.3, -0.2]) if limb == "arm" else np.array([0.0, 0.4, -0.5])
    t = np.arange(600) / 120.0
    worst = 0.0
    for _ in range(6):
        place(solver, torso, 1, 0.5 if limb == "arm" else 0.0)
        path = solver.root + center + sum(
            0.3 / (h + 1) * np.sin(2 * math.pi * rng.uniform(0.1, 0.6, (1, 3)) * t[:, None]
                                   + rng.uniform(0, 6, (1, 3))) for h in range(3))
        spin = rng.normal(0, 0.6, 3)
        prev = None
        for i in range(len(t)):
            rv = spin * math.sin(2 * math.pi * 0.3 * t[i])
            angle = np.linalg.norm(rv)
            solver.target[:3] = path[i]
            solver.target[3:] = np.r_[rv / max(angle, 1e-12) * math.sin(angle / 2),
                                      math.cos(angle / 2)]
            solver.solve(1)
            now = (solver.positions[1].copy(), solver.error)
            if prev is not None and max(now[1], prev[1]) < 0.01:
                step = np.linalg.norm(path[i] - path[i - 1])
                worst = max(worst, np.linalg.norm(now[0] - prev[0]) / max(step, 1e-3))
            prev = now
    assert worst < 8.0


def test_soft_reach_never_snaps(arm):
    """Straight out past full reach: the elbow opens smoothly and never fully straightens."""
    place(arm, torso_pose(0.0, 0.0, 0.0, 0.0), 1, 0.5)
    flex, err = [], []
    full = ARM[0] + ARM[1]
    for d in np.linspace(0.40, full + 0.10, 600):
        arm.target[:3] = arm.root + d * np.array([0.0, 1.0, 0.0])
        arm.target[3:] = (0.0, 0.0, 0.0, 1.0)
        err.append(arm.solve(1))
        flex.append(arm.angles[3])
    flex, err = np.array(flex), np.array(err)
    assert np.all(np.diff(flex) <= 1e-12) and flex.min() > 0.0
    assert np.abs(np.diff(flex)).max() < math.radians(1.0)      # 1 deg per 1.1 mm step
    at_full = np.argmin(np.abs(np.linspace(0.40, full + 0.10, 600) - full))
    assert err[at_full] < 0.4 * K.SOFT_FRACTION * full          # w / e at full reach


# ------------------------------------------------------------------ mirror symmetry
@settings(max_examples=60, **SETTINGS)
@given(fr=fractions, torso=torsos, k=st.sampled_from([1, 2, 3, 4]),
       offset=st.tuples(*[st.floats(-0.7, 0.7)] * 3).filter(
           lambda o: math.hypot(*o) > 0.01),
       seed=st.integers(0, 2 ** 16),
       swivel=st.one_of(st.just(math.nan), st.floats(-4.0, 4.0)))
def test_left_solve_is_the_mirror_of_the_right(arm, leg, fr, torso, k, offset, seed, swivel):
    """The same inputs mirrored across the torso's sagittal plane give the mirrored pose,
    the same joint angles and the same (canonical-frame) swivel. (A target within 1 cm of
    the limb's root is left out: there the pose is the same but its angles are not unique.)"""
    rng = np.random.default_rng(seed)
    for solver, n, h in ((arm, 27, 0.5), (leg, 8, 0.0)):
        is_arm = solver is arm
        place(solver, torso, 1, h)
        solver.forward(in_limit_angles(fr[:n], solver.limits, solver.sinus, 0.0), 1)
        set_fixed(solver)
        solver.target[:3] = solver.root + np.array(offset)
        q = rng.normal(size=4)
        solver.target[3:] = q / np.linalg.norm(q)
        if is_arm:
            solver.hand_joints[:, :3] = solver.positions[HAND_FROM_ARM] + rng.normal(0, 0.003,
                                                                                    (26, 3))
            solver.solve(1, swivel=swivel, fixed=k, hand_tracked=True)
        else:
            solver.solve(1, swivel=swivel, fixed=k)
        right_p, right_q = solver.positions.copy(), solver.rotations.copy()
        right_a, right_sw = solver.angles.copy(), solver.swivel
        solver.root[:] = mirror_p(solver.root, torso)[0]
        solver.target[:3] = mirror_p(solver.target[:3], torso)[0]
        solver.target[3:] = mirror_q(solver.target[3:], torso)[0]
        solver.fixed_positions[:] = mirror_p(solver.fixed_positions, torso)
        solver.fixed_rotations[:] = mirror_q(solver.fixed_rotations, torso)
        if is_arm:
            solver.hand_joints[:, :3] = mirror_p(solver.hand_joints[:, :3], torso)
            solver.solve(0, swivel=swivel, fixed=k, hand_tracked=True)
        else:
            solver.solve(0, swivel=swivel, fixed=k)
        assert np.allclose(solver.positions, mirror_p(right_p, torso), atol=1e-9)
        assert qsame(solver.rotations, mirror_q(right_q, torso), 1e-9)
        assert angles_close(solver.angles, right_a, 1e-9)
        assert abs(K._wrap(solver.swivel - right_sw)) < 1e-6 or math.isnan(right_sw)


def test_intact_swivel_places_the_mirrored_elbow(arm):
    """Solve the intact left arm with the default swivel, pass its swivel to the right."""
    torso = torso_pose(0.4, 0.1, 1.0, 2.0)
    place(arm, torso, 0, 0.5)
    arm.target[:3] = arm.root + qrot(torso[3:], np.array([0.15, 0.35, -0.1]))
    arm.target[3:] = torso[3:]
    arm.solve(0)
    left_p, sw = arm.positions.copy(), arm.swivel
    assert abs(sw - K.DEFAULT_ARM_SWIVEL) < 1e-9
    arm.root[:] = mirror_p(arm.root, torso)[0]
    arm.target[:3] = mirror_p(arm.target[:3], torso)[0]
    arm.target[3:] = mirror_q(arm.target[3:], torso)[0]
    arm.solve(1, swivel=sw)
    assert np.allclose(arm.positions[:3], mirror_p(left_p[:3], torso), atol=1e-9)


# ------------------------------------------------------------------ fingers and toes
@settings(max_examples=80, **SETTINGS)
@given(fr=fractions, torso=torsos, side=sides, scale=st.floats(0.8, 1.25))
def test_retarget_reproduces_the_tracked_fingers(arm, fr, torso, side, scale):
    """FK of in-limit finger angles -> 26 joints -> retarget: the same finger angles, and
    the same fingertips when the tracked hand is the patient's (any hand size: by direction)."""
    place(arm, torso, side, 0.5)
    a = in_limit_angles(fr, arm.limits, arm.sinus)
    arm.forward(a, side)
    wrist = arm.positions[2].copy()
    tracked = arm.positions[HAND_FROM_ARM].copy()
    expect_tips = arm.positions[TIPS].copy()
    set_fixed(arm)
    arm.hand_joints[:, :3] = wrist + scale * (tracked - wrist)
    arm.solve(side, fixed=4, hand_tracked=True)
    assert np.allclose(arm.angles[K.FINGER_DOF0:], a[K.FINGER_DOF0:], atol=1e-6)
    assert np.abs(arm.positions[TIPS] - expect_tips).max() < 3e-3


def test_noisy_tracking_stays_close(arm):
    """Independent 2 mm noise on every tracked joint (harsher than real, spatially correlated
    jitter): fingertips stay near the noise-free ones. The floor is ~5 mm: the tip target
    carries the noise of two joints and the palm frame tilts ~1.4 deg."""
    rng = np.random.default_rng(3)
    place(arm, torso_pose(0.0, 0.0, 0.0, 0.0), 1, 0.5)
    errors = []
    for _ in range(100):
        arm.forward(in_limit_angles(rng.uniform(0, 1, 27), arm.limits, arm.sinus), 1)
        tips = arm.positions[TIPS].copy()
        set_fixed(arm)
        arm.hand_joints[:, :3] = arm.positions[HAND_FROM_ARM] + rng.normal(0, 0.002, (26, 3))
        arm.solve(1, fixed=4, hand_tracked=True)
        errors.append(np.linalg.norm(arm.positions[TIPS] - tips, axis=1))
    assert np.median(errors) < 0.008 and np.max(errors) < 0.025


def test_curl_zero_is_the_open_rest_hand_and_one_a_fist(arm):
    torso = torso_pose(0.0, 0.0, 0.0, 0.0)
    place(arm, torso, 1, 0.5)
    arm.forward(np.zeros(27), 1)
    rest = arm.positions.copy()
    arm.target[:3], arm.target[3:] = rest[2], (0, 0, 0, 1)
    arm.set_curls(0.0)
    arm.solve(1)
    solved = arm.positions.copy()
    arm.forward(np.r_[arm.angles[:7], np.radians(OPEN_DEG.ravel())], 1)
    open_hand = arm.positions.copy()
    assert np.allclose(solved, open_hand, atol=1e-12)
    assert np.allclose(np.degrees(arm.angles[K.FINGER_DOF0:]), OPEN_DEG.ravel())
    assert np.allclose(OPEN_DEG[1:], 0.0)               # straight fingers, a relaxed thumb
    arm.set_curls(1.0)
    arm.solve(1)
    check_limits(arm, arm.angles, 1)
    assert np.allclose(np.degrees(arm.angles[K.FINGER_DOF0:]), FIST_DEG.ravel())
    palm = arm.positions[3]
    for tip in TIPS:
        assert np.linalg.norm(arm.positions[tip] - palm) < np.linalg.norm(open_hand[tip] - palm)
    # curled fingertips move to the palmar side (-x of the right hand's rest frame)
    hand_q = arm.rotations[2]
    for tip in TIPS[1:]:
        assert qrot(qconj(hand_q), arm.positions[tip] - arm.positions[2])[0] < \
            qrot(qconj(hand_q), open_hand[tip] - open_hand[2])[0] - 0.02


def test_trigger_and_squeeze_drive_their_fingers(arm):
    place(arm, torso_pose(0.0, 0.0, 0.0, 0.0), 1, 0.5)
    arm.target[:3], arm.target[3:] = arm.root + (0, 0.3, -0.3), (0, 0, 0, 1)
    arm.set_curls(1.0, 0.0)
    arm.solve(1)
    fingers = np.degrees(arm.angles[K.FINGER_DOF0:]).reshape(5, 4)
    assert np.allclose(fingers[1], FIST_DEG[1]) and np.allclose(fingers[[0, 2, 3, 4]],
                                                                OPEN_DEG[[0, 2, 3, 4]])
    arm.set_curls(0.0, 0.5)
    arm.solve(1)
    fingers = np.degrees(arm.angles[K.FINGER_DOF0:]).reshape(5, 4)
    half = 0.5 * (OPEN_DEG + FIST_DEG)
    assert np.allclose(fingers[1], OPEN_DEG[1]) and np.allclose(fingers[[0, 2, 3, 4]],
                                                                half[[0, 2, 3, 4]])


def test_toe_curl_flexes_the_toes_down(leg):
    place(leg, torso_pose(0.0, 0.0, 0.0, 0.0), 1, 0.0)
    leg.target[:3], leg.target[3:] = leg.root + (0, 0.45, -0.43), (0, 0, 0, 1)
    leg.toe_curl[0] = 0.0
    leg.solve(1)
    flat = leg.positions.copy()
    leg.toe_curl[0] = 1.0
    leg.solve(1)
    assert np.isclose(np.degrees(leg.angles[7]), TOE_CURL_DEG)
    assert leg.positions[5][2] < flat[5][2] - 0.01
    assert np.allclose(leg.positions[:5], flat[:5])


# ------------------------------------------------------------------ errors, allocation, reference
def test_bad_input_gives_one_line_errors(arm, leg):
    place(arm, torso_pose(0.0, 0.0, 0.0, 0.0), 1, 0.5)
    arm.target[:] = (0.2, 0.3, 1.0, 0, 0, 0, 1)
    cases = []
    with pytest.raises(IKInputError) as e:
        arm.solve(2)
    cases.append(e)
    with pytest.raises(IKInputError) as e:
        arm.solve(1, fixed=5)
    cases.append(e)
    arm.target[0] = math.nan
    with pytest.raises(IKInputError) as e:
        arm.solve(1)
    cases.append(e)
    arm.target[:] = (0.2, 0.3, 1.0, 0, 0, 0, 0)
    with pytest.raises(IKInputError) as e:
        arm.solve(1)
    cases.append(e)
    arm.target[6] = 1.0
    arm.hand_joints[4, 1] = math.inf
    with pytest.raises(IKInputError) as e:
        arm.solve(1, hand_tracked=True)
    cases.append(e)
    arm.hand_joints[4, 1] = 0.0
    arm.fixed_positions[1, 2] = math.nan
    with pytest.raises(IKInputError) as e:
        arm.solve(1, fixed=2)
    cases.append(e)
    arm.fixed_positions[1, 2] = 0.0
    with pytest.raises(IKInputError) as e:
        ArmSolver(0.05, 0.26, 0.19)
    cases.append(e)
    with pytest.raises(IKInputError) as e:
        LegSolver(0.45, 0.43, 0.26, 0.5)
    cases.append(e)
    with pytest.raises(IKInputError) as e:
        arm.forward(np.zeros(5), 1)
    cases.append(e)
    for c in cases:
        assert isinstance(c.value, ValueError) and "\n" not in str(c.value) and str(c.value)
    assert arm.solve(1, fixed=2) >= 0.0   # valid again


@njit
def _solve_many(n, inp, hand, curls, fp, fr, geom, lim, sinus, bound, state, pos, rot, ang,
                info):
    st = 0
    for i in range(n):
        inp[10] = 0.1 + 0.001 * i
        st += K.solve_arm(inp, hand, i % 2 == 0, curls, fp, fr, geom, lim, sinus, bound, state,
                          i % 2, math.nan, 1 + i % 4, pos, rot, ang, info)
    return st


def test_kernels_allocate_nothing_per_solve(arm):
    """NRT allocations of one call of a loop over the kernel do not grow with the loop length
    (the remaining ones are Numba boxing the array arguments of the outer call)."""
    from numba.core.runtime import _nrt_python, rtsys

    place(arm, torso_pose(0.0, 0.0, 0.0, 0.0), 1, 0.5)
    arm.target[:] = (0.3, 0.3, 1.0, 0, 0, 0, 1)
    arm.forward(np.zeros(27), 1)
    set_fixed(arm)
    arm.hand_joints[:, :3] = arm.positions[HAND_FROM_ARM]
    args = (arm._inp, arm.hand_joints, arm.curls, arm.fixed_positions, arm.fixed_rotations,
            arm.geometry, arm.limits, arm.sinus, arm._bound, arm._state, arm.positions,
            arm.rotations, arm.angles, arm._info)
    assert _solve_many(1, *args) == 0
    _nrt_python.memsys_enable_stats()
    try:
        counts = []
        for n in (1, 400):
            before = rtsys.get_allocation_stats().alloc
            assert _solve_many(n, *args) == 0
            counts.append(rtsys.get_allocation_stats().alloc - before)
    finally:
        _nrt_python.memsys_disable_stats()
    assert counts[0] == counts[1]


def test_numpy_reference_matches_the_kernels(arm):
    rng = np.random.default_rng(11)
    for i in range(60):
        torso = torso_pose(rng.uniform(-3, 3), rng.uniform(-0.3, 0.3), *rng.normal(size=2))
        side = i % 2
        place(arm, torso, side, 0.5)
        arm.forward(in_limit_angles(rng.uniform(0, 1, 27), arm.limits, arm.sinus, 0.0), side)
        hand = np.zeros((26, 7))
        hand[:, 6] = 1.0
        hand[:, :3] = arm.positions[HAND_FROM_ARM] + rng.normal(0, 0.003, (26, 3))
        arm.hand_joints[:] = hand
        arm.target[:3] = arm.root + rng.normal(0, 0.4, 3)
        q = rng.normal(size=4)
        arm.target[3:] = q / np.linalg.norm(q)
        arm.curls[:] = rng.uniform(0, 1, 5)
        swivel = math.nan if i % 3 == 0 else rng.uniform(-3, 3)
        tracked = i % 4 < 2
        state = tuple(arm._state[side])
        arm.solve(side, swivel=swivel, hand_tracked=tracked)
        p, q, a, err = solve_arm_numpy(arm.torso, arm.root, arm.target, swivel, side, arm.curls,
                                       hand if tracked else None, arm.geometry, arm.limits,
                                       arm.sinus, arm._bound, state)
        # with no valid swivel the violation minimum is flat: rounding moves it a little
        tol = 1e-3 if arm._state[side, 0] == K.MODE_LEAST else 1e-9
        assert np.allclose(p, arm.positions, atol=tol)
        assert qsame(q, arm.rotations, tol)
        assert np.allclose(a, arm.angles, atol=tol)
        assert math.isclose(err, arm.error, abs_tol=tol)


def test_bench_ik_reports_every_figure():
    from vrgmi.ik.benchmarks import bench_ik

    r = bench_ik(quick=True)
    for key in ("ik_arm_us_median", "ik_arm_us_p99", "ik_leg_us_median", "ikpy_arm_us_median",
                "numpy_arm_us_median", "ik_speedup_vs_ikpy"):
        assert r[key] > 0.0 and math.isfinite(r[key]), key
    assert r["ik_arm_us_p99"] >= r["ik_arm_us_median"]
    assert r["numpy_arm_us_median"] > r["ik_arm_us_median"]
    assert r["ikpy_arm_us_median"] > r["ik_arm_us_median"]
