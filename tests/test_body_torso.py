"""Torso frame: follows chair turns and leaning, ignores glances and nods; calibration."""
import numpy as np
import pytest
from numba.core.runtime import _nrt_python, rtsys

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.hand import LEFT_REST_WRIST_QUAT, REST_WRIST_QUAT, grip_from_wrist
from vrgmi.body.torso import EYE_FROM_NECK, CalibrationError, TorsoTracker
from vrgmi.spatial import quat_from_axis_angle, quat_mul, quat_rotate
from vrgmi.tracking.frame import TRACKER_INDEX, TrackingFrame

LENGTHS = SegmentLengths.from_height(1.75)
DT = 1.0 / 90.0
Z = np.array([0.0, 0.0, 1.0])


def yaw_quat(yaw: float) -> np.ndarray:
    return quat_from_axis_angle(Z, yaw)


def head_pose(neck, yaw, pitch=0.0) -> np.ndarray:
    """Head (eye) pose of a head turned by yaw and pitched about its neck pivot."""
    q = quat_mul(yaw_quat(yaw), quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), pitch))
    eye = np.asarray(neck, float) + quat_rotate(q, np.array([0.0, *EYE_FROM_NECK]))
    return np.r_[eye, q]


def frame_with(head) -> TrackingFrame:
    f = TrackingFrame()
    f.head[:] = head
    f.head_valid = True
    return f


def run(tracker, heads) -> np.ndarray:
    """Feed head poses at 90 Hz; returns the torso yaw after each frame."""
    f = TrackingFrame()
    f.head_valid = True
    out = []
    for h in heads:
        f.head[:] = h
        tracker.update(f, DT)
        out.append(tracker.yaw)
    return np.array(out)


def angdiff(a, b) -> float:
    return abs((a - b + np.pi) % (2 * np.pi) - np.pi)


NECK = np.array([0.0, 0.0, 1.15])


def test_first_head_pose_initialises_with_default_proportions():
    t = TorsoTracker(LENGTHS)
    assert not t.initialized
    run(t, [head_pose(NECK, 0.3)])
    assert t.initialized and t.yaw == pytest.approx(0.3)
    right = np.array([np.cos(0.3), np.sin(0.3), 0.0])
    np.testing.assert_allclose(t.shoulder("right") - t.shoulder("left"),
                               LENGTHS.shoulder_joint_spacing * right, atol=1e-12)
    np.testing.assert_allclose(t.hip(1) - t.hip(0), LENGTHS.hip_joint_spacing * right,
                               atol=1e-12)
    eye_above_shoulder = head_pose(NECK, 0.3)[2] - t.shoulder(1)[2]
    assert eye_above_shoulder == pytest.approx(
        LENGTHS.eye_height_seated - LENGTHS.shoulder_height_seated)
    assert t.shoulder(1)[2] - t.hip(1)[2] == pytest.approx(
        LENGTHS.shoulder_height_seated - LENGTHS.hip_height_seated)
    point, normal = t.sagittal_plane()
    np.testing.assert_allclose(normal, right, atol=1e-12)
    np.testing.assert_allclose(point, 0.5 * (t.shoulder(0) + t.shoulder(1)), atol=1e-12)


def test_a_30_degree_glance_for_a_second_does_not_swing_the_torso():
    t = TorsoTracker(LENGTHS)
    yaw = np.r_[np.zeros(20), np.linspace(0, np.radians(30), 18), np.full(90, np.radians(30)),
                np.linspace(np.radians(30), 0, 18), np.zeros(30)]
    yaws = run(t, [head_pose(NECK, y) for y in yaw])
    assert np.max(np.abs(yaws)) < 1e-12
    origin = t.pose[:3].copy()
    # a quick 50 degree look over the shoulder (0.3 s) does not either
    yaws = run(t, [head_pose(NECK, np.radians(50))] * 27 + [head_pose(NECK, 0.0)] * 10)
    assert np.max(np.abs(yaws)) < 1e-12
    np.testing.assert_allclose(t.pose[:3], origin, atol=1e-9)   # the neck pivot stays


def test_turning_the_chair_90_degrees_is_followed_within_a_few_seconds():
    t = TorsoTracker(LENGTHS)
    chair = np.array([0.3, 0.2, 0.0])
    arm = NECK - chair                                   # the neck swings about the chair axis
    turn = np.r_[np.zeros(10), np.linspace(0.0, np.pi / 2, 90), np.full(540, np.pi / 2)]
    heads = [head_pose(chair + quat_rotate(yaw_quat(a), arm), a) for a in turn]
    yaws = run(t, heads)
    settled = 10 + 90 + 3 * 90                          # 3 s after the turn ends
    assert angdiff(yaws[settled], np.pi / 2) < np.radians(5)
    assert angdiff(yaws[-1], np.pi / 2) < np.radians(3.5)
    assert np.all(np.diff(yaws) >= -1e-12)              # no overshoot back and forth
    np.testing.assert_allclose(t.pose[:2], (chair + quat_rotate(yaw_quat(np.pi / 2), arm))[:2],
                               atol=0.01)
    point, normal = t.sagittal_plane()
    np.testing.assert_allclose(normal, [0.0, 1.0, 0.0], atol=0.07)   # body right now +y


def test_nodding_and_rolling_the_head_change_nothing():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    start = t.pose.copy()
    pitch = np.radians(35) * np.sin(np.linspace(0, 4 * np.pi, 240))
    yaws = run(t, [head_pose(NECK, 0.0, p) for p in pitch])
    assert np.max(np.abs(yaws)) < 1e-12
    np.testing.assert_allclose(t.pose, start, atol=1e-9)
    # looking straight down gives no yaw; the torso holds
    run(t, [head_pose(NECK, 0.0, -np.radians(89))] * 50)
    assert t.yaw == 0.0


def test_leaning_is_followed_slowly_and_only_horizontally():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    z0 = t.pose[2]
    lean = NECK + [0.0, 0.15, -0.05]
    run(t, [head_pose(lean, 0.0)] * 9)                 # 0.1 s: barely moved
    assert t.pose[1] < 0.02
    run(t, [head_pose(lean, 0.0)] * 540)               # 6 s: caught up
    assert t.pose[1] == pytest.approx(0.15, abs=0.005)
    assert t.pose[2] == z0


def test_a_lost_head_holds_the_torso():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    before = t.pose.copy()
    f = frame_with(head_pose(NECK + [1.0, 1.0, 0.0], 2.0))
    f.head_valid = False
    for _ in range(200):
        t.update(f, DT)
    np.testing.assert_array_equal(t.pose, before)


def test_recenter_snaps_to_the_current_head():
    t = TorsoTracker(LENGTHS)
    with pytest.raises(CalibrationError, match="not been tracked"):
        t.recenter()
    run(t, [head_pose(NECK, 0.0)] + [head_pose(NECK + [0.1, 0, 0], 0.5)] * 5)
    assert t.yaw == 0.0
    t.recenter()
    assert t.yaw == pytest.approx(0.5)
    assert t.pose[0] == pytest.approx(0.1)


# --- calibration ---

def seated_patient(yaw, neck, shoulder_lat=0.17, shoulder_drop=0.15, sides=(1,),
                   knees=None, n=120, jitter=0.002, seed=1):
    """Frames of an upright seated patient, arms hanging, intact controllers on ``sides``."""
    rng = np.random.default_rng(seed)
    spin = yaw_quat(yaw)
    frames = []
    for _ in range(n):
        f = frame_with(head_pose(neck + rng.normal(0, jitter, 3), yaw))
        for side in sides:
            sign = 1.0 if side == 1 else -1.0
            shoulder = neck + quat_rotate(spin, np.array([sign * shoulder_lat, 0.0,
                                                          -shoulder_drop]))
            wrist_q = quat_mul(spin, REST_WRIST_QUAT if side == 1 else LEFT_REST_WRIST_QUAT)
            wrist = np.r_[shoulder - [0, 0, LENGTHS.upper_arm + LENGTHS.forearm], wrist_q]
            f.grip[side] = grip_from_wrist(wrist, side, np.zeros(7))
            f.grip_valid[side] = True
        if knees is not None:
            for side, knee in knees.items():
                i = TRACKER_INDEX[f"{('left', 'right')[side]}_knee"]
                f.tracker[i, :3] = knee
                f.tracker_valid[i] = True
        frames.append(f)
    return frames


def test_calibration_places_the_shoulders_from_the_intact_controller():
    yaw = np.radians(40)
    neck = np.array([0.5, -0.3, 1.2])
    t = TorsoTracker(LENGTHS)
    t.calibrate(seated_patient(yaw, neck, shoulder_lat=0.17, shoulder_drop=0.15))
    assert t.calibrated and t.yaw == pytest.approx(yaw, abs=1e-3)
    spin = yaw_quat(yaw)
    for side, sign in (("right", 1.0), ("left", -1.0)):
        truth = neck + quat_rotate(spin, np.array([sign * 0.17, 0.0, -0.15]))
        np.testing.assert_allclose(t.shoulder(side), truth, atol=0.01)
    point, normal = t.sagittal_plane()
    assert (neck - point) @ normal == pytest.approx(0.0, abs=0.005)    # midline through neck
    # the calibrated layout survives further updates
    f = frame_with(head_pose(neck, yaw))
    for _ in range(100):
        t.update(f, DT)
    np.testing.assert_allclose(t.shoulder("right"),
                               neck + quat_rotate(spin, np.array([0.17, 0.0, -0.15])), atol=0.01)


def test_calibration_with_knee_trackers_or_hands_on_knees_places_the_hips():
    neck = np.array([0.0, 0.0, 1.2])
    knee = neck + [0.11, 0.48, -0.55]
    t = TorsoTracker(LENGTHS)
    t.calibrate(seated_patient(0.0, neck, knees={1: knee}))
    assert abs(t.hip("right")[0] - neck[0]) == pytest.approx(0.11, abs=0.005)
    assert t.hip("right")[1] == pytest.approx(knee[1] - LENGTHS.thigh, abs=0.005)
    frames = seated_patient(0.0, neck, sides=())
    for f in frames:
        f.grip[0, :3] = neck + [-0.1, 0.5, -0.5]
        f.grip_valid[0] = True
    t2 = TorsoTracker(LENGTHS)
    t2.calibrate(frames, posture="hands_on_knees")
    assert t2.hip("left")[0] == pytest.approx(-0.1, abs=0.005)
    assert t2.hip("right")[0] == pytest.approx(0.1, abs=0.005)


def test_a_waist_tracker_becomes_the_yaw_reference():
    neck = np.array([0.0, 0.0, 1.2])
    frames = seated_patient(0.0, neck)
    w = TRACKER_INDEX["waist"]
    mount = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.pi / 2)  # strapped on sideways
    for f in frames:
        f.tracker[w] = np.r_[neck - [0, 0.1, 0.5], mount]
        f.tracker_valid[w] = True
    t = TorsoTracker(LENGTHS)
    t.calibrate(frames)
    f = frames[0]
    f.head[:] = head_pose(neck, np.radians(60))        # the head looks aside for long ...
    for _ in range(300):
        t.update(f, DT)
    assert abs(t.yaw) < 1e-9                           # ... the waist did not turn
    f.tracker[w, 3:] = quat_mul(yaw_quat(np.radians(20)), mount)
    for _ in range(90):
        t.update(f, DT)
    assert t.yaw == pytest.approx(np.radians(20), abs=1e-3)   # the waist turned: follow it


@pytest.mark.parametrize("mutate, words", [
    (lambda fr: fr[:5], "at least 10 frames"),
    (lambda fr: [frame_with(head_pose(NECK + [0.02 * i, 0, 0], 0.0)) for i in range(20)],
     "moved more than 8 cm"),
    (lambda fr: [frame_with(head_pose(NECK, 0.0, -np.radians(89)))] * 20, "look ahead"),
    (lambda fr: seated_patient(0.0, NECK, shoulder_lat=0.45), "right controller"),
])
def test_bad_calibration_says_what_to_do_in_one_line(mutate, words):
    t = TorsoTracker(LENGTHS)
    with pytest.raises(CalibrationError) as e:
        t.calibrate(mutate(seated_patient(0.0, NECK)))
    assert words in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(CalibrationError, match="posture 'standing'"):
        t.calibrate(seated_patient(0.0, NECK), posture="standing")


def test_a_failed_calibration_keeps_the_previous_one():
    t = TorsoTracker(LENGTHS)
    t.calibrate(seated_patient(0.0, NECK, shoulder_lat=0.22))
    good = t.params.copy()
    with pytest.raises(CalibrationError, match="right controller"):
        t.calibrate(seated_patient(0.0, NECK, shoulder_lat=0.45))
    np.testing.assert_array_equal(t.params, good)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="deadband_deg = 1.0"):
        TorsoTracker(LENGTHS, deadband_deg=1.0)
    with pytest.raises(ValueError, match="settle_deg must be smaller"):
        TorsoTracker(LENGTHS, deadband_deg=10.0, settle_deg=15.0)


def test_update_allocates_no_arrays():
    import tracemalloc
    t = TorsoTracker(LENGTHS)
    f = frame_with(head_pose(NECK, 0.0))
    f.tracker_valid[TRACKER_INDEX["waist"]] = True
    t.update(f, DT)
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    tracemalloc.start()
    try:
        base = tracemalloc.take_snapshot()
        a = rtsys.get_allocation_stats()
        for _ in range(2000):
            t.update(f, DT)
        b = rtsys.get_allocation_stats()
        growth = tracemalloc.take_snapshot().compare_to(base, "filename")
    finally:
        tracemalloc.stop()
        if not was_enabled:
            _nrt_python.memsys_disable_stats()
    # per call: at most one meminfo per array argument (numba wraps each array passed in;
    # no data is allocated), all released again
    assert b.alloc - a.alloc <= 8 * 2000 and b.alloc - b.free == a.alloc - a.free
    mine = [s for s in growth if s.traceback[0].filename.endswith("body/torso.py")]
    assert sum(s.size_diff for s in mine) <= 0
