"""IK timings: the Numba solver against the same algorithm in plain NumPy and against ikpy.

Every figure is microseconds per solve called from Python, measured with
``time.perf_counter_ns`` around each call after warm-up, over random reachable targets
(in-limit joint angles -> forward kinematics -> target wrist pose and tracked hand joints with
2 mm noise). Filling the solver's input arrays and ``reset()`` (the targets are unrelated
poses, not frames of one motion) happen outside the timed call.
"""
from __future__ import annotations

import gc
import time

import numpy as np

from vrgmi.ik.limits import sinus_max
from vrgmi.ik.reference_numpy import solve_arm_numpy
from vrgmi.ik.solver import HAND_FROM_ARM, ArmSolver, LegSolver, warmup

UPPER_ARM, FOREARM, HAND = 0.30, 0.26, 0.19
THIGH, SHANK, FOOT, ANKLE = 0.45, 0.43, 0.26, 0.08


def _random_angles(rng: np.random.Generator, lim: np.ndarray, sinus: np.ndarray,
                   min_middle: float) -> np.ndarray:
    a = rng.uniform(lim[:, 0], lim[:, 1])
    a[1] = rng.uniform(0.0, sinus_max(sinus, a[0]))
    a[3] = rng.uniform(min_middle, lim[3, 1])
    if len(a) == 8:                                   # leg: knee rotation scales with flexion
        s = min(1.0, a[3] / np.radians(90.0))
        a[4] = rng.uniform(lim[4, 0] * s, lim[4, 1] * s)
    return a


def arm_targets(n: int, seed: int = 0) -> tuple[ArmSolver, np.ndarray, np.ndarray]:
    """An ArmSolver (right arm, torso at the origin) and n reachable (target (7,),
    tracked hand joints (26, 7)) pairs."""
    rng = np.random.default_rng(seed)
    arm = ArmSolver(UPPER_ARM, FOREARM, HAND)
    arm.root[:] = (0.18, 0.0, 1.40)
    targets, hands = np.zeros((n, 7)), np.zeros((n, 26, 7))
    hands[:, :, 6] = 1.0
    for i in range(n):
        arm.forward(_random_angles(rng, arm.limits, arm.sinus, np.radians(20.0)), 1)
        targets[i, :3], targets[i, 3:] = arm.positions[2], arm.rotations[2]
        hands[i, :, :3] = arm.positions[HAND_FROM_ARM] + rng.normal(0.0, 0.002, (26, 3))
    return arm, targets, hands


def _time_calls(fn, n: int, prepare=None) -> np.ndarray:
    """Microseconds of each ``fn(i)``; ``prepare(i)`` runs first, untimed."""
    us = np.empty(n)
    clock = time.perf_counter_ns
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(n):
            if prepare is not None:
                prepare(i)
            t0 = clock()
            fn(i)
            us[i] = (clock() - t0) * 1e-3
    finally:
        if enabled:
            gc.enable()
    return us


def _ikpy_chain():
    from ikpy.chain import Chain
    from ikpy.link import OriginLink, URDFLink

    zero = np.zeros(3)
    links = [OriginLink()]
    for name, axis in (("shoulder_x", (1, 0, 0)), ("shoulder_y", (0, 1, 0)),
                       ("shoulder_z", (0, 0, 1))):
        links.append(URDFLink(name, zero, zero, rotation=np.array(axis, dtype=float)))
    links.append(URDFLink("elbow", np.array([0.0, 0.0, -UPPER_ARM]), zero,
                          rotation=np.array([1.0, 0.0, 0.0]), bounds=(0.0, np.radians(150.0))))
    links.append(URDFLink("wrist", np.array([0.0, 0.0, -FOREARM]), zero, joint_type="fixed"))
    return Chain(links, active_links_mask=[False, True, True, True, True, False], name="arm")


def bench_ik(quick: bool) -> dict[str, float]:
    """Median / p99 microseconds per solve from Python (see the module docstring) and the
    speed-up over ikpy solving the same shoulder-elbow-wrist chain to the same positions."""
    warmup()
    n, n_ikpy, n_np = (500, 50, 100) if quick else (2000, 200, 400)
    arm, targets, hands = arm_targets(n)

    def arm_inputs(i: int) -> None:
        arm.reset()
        arm.target[:] = targets[i]
        arm.hand_joints[:] = hands[i]
        arm.curls[:] = (i % 11) / 10.0

    arm_us = _time_calls(lambda i: arm.solve(1, hand_tracked=True), n, arm_inputs)
    curl_us = _time_calls(lambda i: arm.solve(1), n, arm_inputs)
    args = (arm.geometry, arm.limits, arm.sinus, arm._bound)
    np_us = _time_calls(lambda i: solve_arm_numpy(arm.torso, arm.root, targets[i], np.nan, 1,
                                                  arm.curls, hands[i], *args), n_np)

    rng = np.random.default_rng(1)
    leg = LegSolver(THIGH, SHANK, FOOT, ANKLE)
    leg.root[:] = (0.10, 0.0, 0.90)
    leg_targets = np.zeros((n, 7))
    for i in range(n):
        leg.forward(_random_angles(rng, leg.limits, leg.sinus, np.radians(20.0)), 1)
        leg_targets[i, :3], leg_targets[i, 3:] = leg.positions[2], leg.rotations[2]

    def leg_inputs(i: int) -> None:
        leg.reset()
        leg.target[:] = leg_targets[i]

    leg_us = _time_calls(lambda i: leg.solve(1), n, leg_inputs)

    chain = _ikpy_chain()
    rel = targets[:n_ikpy, :3] - arm.root
    chain.inverse_kinematics(target_position=rel[0])
    ikpy_us = _time_calls(lambda i: chain.inverse_kinematics(target_position=rel[i]), n_ikpy)

    ik_median = float(np.median(arm_us))
    ikpy_median = float(np.median(ikpy_us))
    return {
        "ik_arm_us_median": round(ik_median, 3),
        "ik_arm_us_p99": round(float(np.percentile(arm_us, 99)), 3),
        "ik_arm_curl_us_median": round(float(np.median(curl_us)), 3),
        "ik_leg_us_median": round(float(np.median(leg_us)), 3),
        "numpy_arm_us_median": round(float(np.median(np_us)), 3),
        "ikpy_arm_us_median": round(ikpy_median, 3),
        "ik_speedup_vs_ikpy": round(ikpy_median / ik_median, 1),
        "ik_speedup_vs_numpy": round(float(np.median(np_us)) / ik_median, 1),
    }
