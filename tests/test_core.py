"""The whole core over replays: `vrgmi replay --dump` for every level and side."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vrgmi.body import LEVELS, SegmentLengths, wrist_from_grip
from vrgmi.body.foot import ankle_from_foot_tracker
from vrgmi.core import CorePipeline, dump_replay
from vrgmi.settings import load_settings
from vrgmi.spatial import engine_to_stage_pose, engine_to_stage_point, stage_to_engine_point
from vrgmi.tracking.replay import ReplaySource, save_replay
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 90.0


def _settings(side: str, level: str, **extra):
    return load_settings(overrides={"patient.amputation_side": side,
                                    "patient.amputation_level": level, **extra})


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    """Scripted replays on disk for each intact side and limb."""
    root = tmp_path_factory.mktemp("replays")
    out = {}
    for intact in ("left", "right"):
        for motion in ("reach", "foot_tap"):
            path = root / f"{motion}_{intact}.npz"
            save_replay(path, make_scripted_replay(motion, 4.0, RATE, intact_side=intact))
            out[motion, intact] = path
    return out


def _reflect_across_bisector(points, a, b):
    """Reflect points across the perpendicular bisector plane of a and b."""
    n = (b - a) / np.linalg.norm(b - a, axis=-1, keepdims=True)
    mid = 0.5 * (a + b)
    d = np.sum((points - mid) * n, axis=-1, keepdims=True)
    return points - 2.0 * d * n


@pytest.mark.parametrize("level", sorted(LEVELS))
@pytest.mark.parametrize("side", ["left", "right"])
def test_dump_is_the_mirror_of_the_intact_limb(level, side, replays, tmp_path):
    limb = LEVELS[level].limb
    intact = "right" if side == "left" else "left"
    motion = "reach" if limb == "arm" else "foot_tap"
    dump = tmp_path / "dump.npz"
    n = dump_replay(replays[motion, intact], dump, _settings(side, level))
    d = np.load(dump)
    names = list(d["joint_names"])
    assert d["t"].shape == (n,) and d["intact"].shape == d["phantom"].shape == (n, len(names), 3)
    assert d["phantom_visible"].dtype == bool and d["phantom_visible"][10:].all()
    root, mid, end = (("shoulder", "elbow", "wrist") if limb == "arm"
                      else ("hip", "knee", "ankle"))
    r, m, e = names.index(root), names.index(mid), names.index(end)
    intact_j, phantom_j = d["intact"], d["phantom"]
    # the sagittal plane is the perpendicular bisector of the two roots (shoulders / hips)
    mirrored = _reflect_across_bisector(intact_j, intact_j[:, r:r + 1], phantom_j[:, r:r + 1])
    err = np.linalg.norm(mirrored - phantom_j, axis=-1)
    assert err[10:].max() < 1e-3, f"phantom is not the mirror image (max {err.max():.4f} m)"
    # bone lengths stay constant and the limb really moves
    for a, b in ((r, m), (m, e)):
        bone = np.linalg.norm(phantom_j[:, a] - phantom_j[:, b], axis=-1)
        assert np.ptp(bone) < 1e-6
    assert np.ptp(phantom_j[:, e], axis=0).max() > 0.02
    # the phantom's left/right position matches its side (stage x is the body's right)
    assert np.sign(phantom_j[:, r, 0].mean()) == (1 if side == "right" else -1)


def test_intact_limb_reaches_its_tracked_target(replays):
    replay = make_scripted_replay("reach", 3.0, RATE, intact_side="right")
    unsmoothed = _settings("left", "transhumeral", **{"tracking.one_euro": False})
    pipe = CorePipeline(unsmoothed, ReplaySource(replay, time_origin=0.0))
    wrist = np.zeros(7)
    errors = []
    for i in range(len(replay.t)):
        pipe.step(float(replay.t[i]), 1 / RATE)
        wrist_from_grip(replay.right_grip[i], 1, wrist)
        reach = np.linalg.norm(wrist[:3] - pipe.torso.shoulder(1))
        if i > 30 and reach < pipe.intact.exact_reach:   # after the first-seen fade-in
            errors.append(np.linalg.norm(pipe.intact.positions[2] - wrist[:3]))
    assert len(errors) > 100 and max(errors) < 1e-3


def test_leg_target_comes_from_the_foot_tracker():
    replay = make_scripted_replay("foot_tap", 2.0, RATE, intact_side="left")
    unsmoothed = _settings("right", "transtibial", **{"tracking.one_euro": False})
    pipe = CorePipeline(unsmoothed, ReplaySource(replay, time_origin=0.0))
    ankle = np.zeros(7)
    for i in range(len(replay.t)):
        pipe.step(float(replay.t[i]), 1 / RATE)
    ankle_from_foot_tracker(replay.trackers["left_foot"][-1], pipe.lengths.foot, ankle)
    assert np.linalg.norm(pipe.intact.positions[2] - ankle[:3]) < 1e-3


def test_residual_tracker_pins_the_stump(tmp_path):
    """A tracker on a transhumeral stump fixes the upper arm; only the rest follows the mirror."""
    replay = make_scripted_replay("reach", 2.0, RATE, intact_side="right")
    arrays = {k: v for k, v in replay.arrays().items()}
    n = len(replay.t)
    # the residual upper arm raised 60 degrees forward (flexion about +x), engine space
    angle = np.radians(60.0)
    q = np.array([np.sin(angle / 2), 0.0, 0.0, np.cos(angle / 2)])
    pose = np.concatenate([[-0.18, 0.1, 0.9], q])
    arrays["tracker_left_elbow"] = np.tile(engine_to_stage_pose(pose), (n, 1))
    arrays["tracker_left_elbow_valid"] = np.ones(n, dtype=bool)
    path = tmp_path / "tracked.npz"
    np.savez(path, **arrays)
    dump = tmp_path / "dump.npz"
    dump_replay(path, dump, _settings("left", "transhumeral"))
    d = np.load(dump)
    names = list(d["joint_names"])
    sh = stage_to_engine_point(d["phantom"][:, names.index("shoulder")])
    el = stage_to_engine_point(d["phantom"][:, names.index("elbow")])
    upper = (el - sh) / np.linalg.norm(el - sh, axis=-1, keepdims=True)
    expected = np.array([0.0, np.sin(angle), -np.cos(angle)])   # rest (0,0,-1) flexed forward
    assert np.abs(upper[20:] - expected).max() < 1e-3
    length = SegmentLengths.from_height(1.75).upper_arm
    assert np.allclose(np.linalg.norm(el - sh, axis=-1), length, atol=1e-6)


def test_lost_controller_holds_then_hides_the_phantom():
    replay = make_scripted_replay("reach", 4.0, RATE, intact_side="right")
    valid = replay.right_valid.copy()
    valid[180:] = False                       # controller lost after 2 s
    replay.right_valid[:] = valid
    s = _settings("left", "transradial", **{"tracking.hold_s": 0.5, "tracking.fade_s": 0.5})
    pipe = CorePipeline(s, ReplaySource(replay, time_origin=0.0))
    vis, wrists, phantom = [], [], []
    for i in range(len(replay.t)):
        pipe.step(float(replay.t[i]), 1 / RATE)
        vis.append(pipe.phantom_visibility)
        wrists.append(pipe.intact.target[:3].copy())
        phantom.append(pipe.phantom.positions[2].copy())
    vis = np.array(vis)
    assert vis[100:180].min() == 1.0
    assert vis[180 + 40] == 1.0                      # holding (0.44 s after loss)
    assert 0.0 < vis[180 + 70] < 1.0                 # fading
    assert vis[180 + 100:].max() == 0.0              # gone after hold + fade
    held = np.array(wrists[180:180 + 45])
    assert np.ptp(held, axis=0).max() < 1e-9         # the held pose does not move ...
    mirrored = np.array(phantom[180:180 + 45])       # ... its mirror only follows the torso
    assert np.ptp(mirrored, axis=0).max() < 0.01


def test_nan_glitch_never_reaches_the_limb():
    replay = make_scripted_replay("reach", 2.0, RATE, intact_side="right")
    replay.right_grip[50:53] = np.nan
    replay.right_grip[90, :3] += 1.5                  # a 1.5 m one-frame jump
    pipe = CorePipeline(_settings("left", "transradial"), ReplaySource(replay, time_origin=0.0))
    for i in range(len(replay.t)):
        pipe.step(float(replay.t[i]), 1 / RATE)
        assert np.isfinite(pipe.phantom.positions).all()
        if i > 30:
            step = np.linalg.norm(pipe.phantom.positions[2] - prev, axis=-1)
            assert step < 0.05, f"frame {i}: the phantom wrist jumped {step:.3f} m"
        prev = pipe.phantom.positions[2].copy()


def test_cli_replay_dump_and_malformed_file(tmp_path):
    good = tmp_path / "good.npz"
    save_replay(good, make_scripted_replay("reach", 1.0, RATE, intact_side="left"))
    out = tmp_path / "out.npz"
    res = subprocess.run([sys.executable, "-m", "vrgmi", "replay", str(good), "--side", "right",
                          "--level", "elbow_disarticulation", "--dump", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert np.load(out)["phantom"].shape == (90, 28, 3)
    bad = tmp_path / "bad.npz"
    np.savez(bad, t=np.arange(3.0), head=np.zeros((3, 6)))
    res = subprocess.run([sys.executable, "-m", "vrgmi", "replay", str(bad), "--side", "left",
                          "--level", "transradial", "--dump", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "bad.npz" in res.stderr and "Traceback" not in res.stderr


def test_stage_positions_round_trip():
    p = np.random.default_rng(1).normal(size=(10, 3))
    assert np.allclose(stage_to_engine_point(engine_to_stage_point(p)), p)


def test_cli_record_writes_a_loadable_replay(tmp_path):
    from vrgmi.tracking.replay import load_replay
    out = tmp_path / "rec.npz"
    res = subprocess.run([sys.executable, "-m", "vrgmi", "record", str(out), "--motion",
                          "fist_open", "--seconds", "2", "--rate", "72", "--intact", "left"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    replay = load_replay(out)
    assert len(replay.t) == 144 and replay.left_valid.all() and not replay.right_valid.any()
    assert replay.left_hand_joints is not None
    res = subprocess.run([sys.executable, "-m", "vrgmi", "record", str(out), "--motion",
                          "juggle"], capture_output=True, text=True)
    assert res.returncode == 2 and "unknown scripted motion 'juggle'" in res.stderr
