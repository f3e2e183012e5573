"""Body frame: the gaze never moves it; recenters, a waist tracker and suspected chair turns;
calibration."""
import numpy as np
import pytest
from numba.core.runtime import _nrt_python, rtsys

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.hand import LEFT_REST_WRIST_QUAT, REST_WRIST_QUAT, grip_from_wrist
from vrgmi.body.torso import EYE_FROM_NECK, CalibrationError, TorsoTracker
from vrgmi.errors import SettingsError
from vrgmi.settings import BodySettings, load_settings
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


def test_head_turns_of_any_size_and_length_do_not_move_the_frame():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    start = t.pose.copy()
    for deg in (30, 60, 90, -90):                       # each held a minute
        turn = np.r_[np.linspace(0, np.radians(deg), 45), np.full(60 * 90, np.radians(deg)),
                     np.linspace(np.radians(deg), 0, 45)]
        yaws = run(t, [head_pose(NECK, y) for y in turn])
        assert np.max(np.abs(yaws)) == 0.0
    np.testing.assert_array_equal(t.pose, start)
    assert not t.turn_suspected and [k for k, _ in t.notes] == ["recenter"]


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


def test_leaning_moves_nothing():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    start = t.pose.copy()
    run(t, [head_pose(NECK + [0.0, 0.15, -0.05], 0.0)] * 540)
    np.testing.assert_array_equal(t.pose, start)


CHAIR = np.array([0.0, 0.08, 0.0])          # the swivel axis, 8 cm in front of the neck
HAND = np.array([0.2, 0.35, 0.85])          # the intact hand resting in front


def chair_frames(t, angles, hand=True, still_hand=False):
    """Feed a body turning on the chair by ``angles`` (head, neck and hand as one) at
    90 Hz; the hand stays put instead when ``still_hand``."""
    f = TrackingFrame()
    f.head_valid = True
    for a in angles:
        q = yaw_quat(a)
        f.head[:] = head_pose(CHAIR + quat_rotate(q, NECK - CHAIR), a)
        point = HAND if still_hand else CHAIR + quat_rotate(q, HAND - CHAIR)
        t.update(f, DT)
        t.check_turn(point, hand, DT)


def turn(deg, still_s=0.5, turn_s=1.0, hold_s=1.5):
    a = np.radians(deg)
    return np.r_[np.zeros(int(still_s * 90)), np.linspace(0.0, a, int(turn_s * 90)),
                 np.full(int(hold_s * 90), a)]


@pytest.mark.parametrize("hand", [True, False])
def test_a_chair_turn_without_a_tracker_is_suspected_not_followed(hand):
    t = TorsoTracker(LENGTHS)
    chair_frames(t, turn(0)[:1], hand)
    start = t.pose.copy()
    chair_frames(t, turn(45), hand)
    np.testing.assert_array_equal(t.pose, start)        # the phantom is not swung
    assert t.turn_suspected
    kind, data = t.notes[-1]
    assert kind == "body_turn_suspected"
    assert data == {"angle_deg": pytest.approx(45, abs=3), "evidence": "limb" if hand else "neck"}
    chair_frames(t, turn(45)[::-1], hand)                # and back again
    assert not t.turn_suspected and t.notes[-1][0] == "body_turn_cleared"


def test_a_head_turn_is_not_a_chair_turn():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    f = TrackingFrame()
    f.head_valid = True
    for hand in (True, False):                           # hand tracked and still / untracked
        for a in np.r_[turn(50), turn(50)[::-1], turn(-60)]:
            f.head[:] = head_pose(NECK, a)               # about the neck: the neck stays
            t.update(f, DT)
            t.check_turn(HAND, hand, DT)
    assert not t.turn_suspected
    # the hand reached out on its own while the head turned: no turn either
    for a, y in zip(turn(45), np.linspace(0.35, 0.55, len(turn(45)))):
        f.head[:] = head_pose(NECK, a)
        t.update(f, DT)
        t.check_turn(np.array([0.2, y, 0.85]), True, DT)
    assert not t.turn_suspected


def test_a_head_held_far_off_for_long_is_a_suspected_turn():
    body = BodySettings(held_yaw_deg=60.0, held_s=120.0)
    t = TorsoTracker(LENGTHS, body)
    run(t, [head_pose(NECK, 0.0)])
    f = frame_with(head_pose(NECK, np.radians(90)))
    for _ in range(int(119 * 90)):
        t.update(f, DT)
        t.check_turn(HAND, True, DT)
    assert not t.turn_suspected
    for _ in range(2 * 90):
        t.update(f, DT)
        t.check_turn(HAND, True, DT)
    assert t.turn_suspected and t.notes[-1][1]["evidence"] == "held"
    assert t.yaw == 0.0


def test_a_lost_head_holds_the_torso():
    t = TorsoTracker(LENGTHS)
    run(t, [head_pose(NECK, 0.0)])
    before = t.pose.copy()
    f = frame_with(head_pose(NECK + [1.0, 1.0, 0.0], 2.0))
    f.head_valid = False
    for _ in range(200):
        t.update(f, DT)
    np.testing.assert_array_equal(t.pose, before)


def test_recenter_snaps_to_the_current_head_and_is_noted():
    t = TorsoTracker(LENGTHS)
    with pytest.raises(CalibrationError, match="not been tracked"):
        t.recenter()
    run(t, [head_pose(NECK, 0.0)] + [head_pose(NECK + [0.1, 0, 0], 0.5)] * 5)
    assert t.yaw == 0.0
    t.recenter("api")
    assert t.yaw == pytest.approx(0.5)
    assert t.pose[0] == pytest.approx(0.1)
    # a requested recenter waits for the next frame with the head tracked
    t.request_recenter("menu_hold")
    f = frame_with(head_pose(NECK, -0.4))
    f.head_valid = False
    t.update(f, DT)
    assert t.yaw == pytest.approx(0.5)
    f.head_valid = True
    t.update(f, DT)
    assert t.yaw == pytest.approx(-0.4)
    assert [d["source"] for k, d in t.notes if k == "recenter"] == [
        "session_start", "api", "menu_hold"]
    # a recenter answers a suspected turn
    chair_frames(t, turn(0)[:1])
    chair_frames(t, turn(45))
    assert t.turn_suspected
    t.request_recenter("companion")
    chair_frames(t, turn(45)[-1:])
    assert not t.turn_suspected and t.yaw == pytest.approx(np.radians(45))


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
    f.tracker[w, 3:] = quat_mul(yaw_quat(np.radians(30)), mount)
    for _ in range(90):
        t.update(f, DT)
    assert t.yaw == pytest.approx(np.radians(30), abs=1e-3)   # the waist turned: follow it
    assert t.notes[-1] == ("body_turned", {"from_deg": 0.0, "to_deg": 30.0,
                                           "source": "tracker"})
    assert t.notes[-2][0] == "recenter" and t.notes[-2][1]["tracker"] == "waist"


def test_a_waist_tracker_moves_the_frame_smoothly_and_rigidly():
    t = TorsoTracker(LENGTHS, BodySettings(max_turn_dps=90.0))
    f = frame_with(head_pose(NECK, 0.0))
    run(t, [f.head])
    w = TRACKER_INDEX["waist"]
    f.tracker[w] = np.r_[NECK - [0, -0.1, 0.3], yaw_quat(0.3)]     # appears later: bound now
    f.tracker_valid[w] = True
    t.update(f, DT)
    start = t.pose.copy()
    assert t.tracker_bound and t.yaw == 0.0
    f.tracker[w, :2] += 0.05                                       # the waist slides ...
    f.tracker[w, 3:] = yaw_quat(0.3 + np.pi / 2)                   # ... and jumps 90 deg
    yaws = []
    for _ in range(3 * 90):
        t.update(f, DT)
        yaws.append(t.yaw)
    assert np.abs(np.diff(np.r_[0.0, yaws])).max() <= np.radians(90.0) * DT + 1e-12
    assert yaws[-1] == pytest.approx(np.pi / 2, abs=1e-6)
    # the origin turned with the waist about the tracker, and slid with it
    rel = quat_rotate(yaw_quat(np.pi / 2), start[:3] - (NECK - [0, -0.1, 0.3]))
    np.testing.assert_allclose(t.pose[:2], (NECK - [0, -0.1, 0.3] + rel)[:2] + 0.05,
                               atol=1e-6)


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


def test_body_settings_are_validated():
    with pytest.raises(SettingsError, match="body.turn_min_deg = 1"):
        load_settings(overrides={"body.turn_min_deg": 1})
    assert load_settings(overrides={"body.held_s": 30}).body.held_s == 30.0


def test_update_allocates_no_arrays():
    import tracemalloc
    t = TorsoTracker(LENGTHS)
    f = frame_with(head_pose(NECK, 0.0))
    f.tracker_valid[TRACKER_INDEX["waist"]] = True
    t.update(f, DT)
    t.check_turn(f.head[:3], True, DT)
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    tracemalloc.start()
    try:
        base = tracemalloc.take_snapshot()
        a = rtsys.get_allocation_stats()
        for _ in range(2000):
            t.update(f, DT)
            t.check_turn(f.head[:3], True, DT)
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
