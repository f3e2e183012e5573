"""Replay format (load/save/validation), ReplaySource playback and the Recorder."""
from __future__ import annotations

import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from vrgmi.spatial import engine_to_stage_pose
from vrgmi.tracking.frame import TRACKER_INDEX, TrackingFrame
from vrgmi.tracking.record import Recorder, RecorderError, record_source
from vrgmi.tracking.replay import (
    Replay, ReplayFormatError, ReplaySource, ReplayWriteError, load_replay, save_replay,
)
from vrgmi.tracking.scripted import ScriptedSource, make_scripted_replay

N = 120


def _stage_arrays(n: int = N) -> dict[str, np.ndarray]:
    """A valid replay as file arrays (stage space) with every kind of channel."""
    rng = np.random.default_rng(1)

    def poses(*shape: int) -> np.ndarray:
        p = rng.normal(size=shape + (7,))
        p[..., 3:] /= np.linalg.norm(p[..., 3:], axis=-1, keepdims=True)
        return p

    return {
        "t": np.arange(n) / 90.0 + 3.0, "head": poses(n),
        "left_grip": poses(n), "right_grip": poses(n),
        "left_valid": rng.random(n) > 0.3, "right_valid": np.ones(n, dtype=bool),
        "right_aim": poses(n), "right_trigger": rng.random(n), "left_squeeze": rng.random(n),
        "right_hand_joints": poses(n, 26), "right_hand_valid": rng.random(n) > 0.2,
        "tracker_left_foot": poses(n), "tracker_left_foot_valid": np.ones(n, dtype=bool),
        "tracker_waist": poses(n).astype(np.float32),
        "tracker_waist_valid": rng.random(n) > 0.5,
    }


def _write(path, arrays) -> str:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return os.fspath(path)


def test_load_converts_stage_to_engine_and_save_round_trips(tmp_path):
    arrays = _stage_arrays()
    path = _write(tmp_path / "in.npz", arrays)
    rep = load_replay(path)
    # engine (x, y, z) = stage (x, -z, y), quaternion vector parts alike
    h = arrays["head"]
    np.testing.assert_array_equal(rep.head[:, [0, 1, 2]], np.stack([h[:, 0], -h[:, 2], h[:, 1]], 1))
    np.testing.assert_array_equal(rep.head[:, [3, 4, 5, 6]],
                                  np.stack([h[:, 3], -h[:, 5], h[:, 4], h[:, 6]], 1))
    assert rep.trackers["waist"].dtype == np.float64
    assert rep.left_aim is None and rep.left_hand_joints is None
    out = save_replay(tmp_path / "out.npz", rep)
    with np.load(out, allow_pickle=False) as back:
        assert sorted(back.files) == sorted(arrays)
        for k, a in arrays.items():
            np.testing.assert_allclose(back[k], a, rtol=0, atol=1e-6 if a.dtype == np.float32
                                       else 0)


MALFORMED = {
    # name: (mutation of the valid arrays, key named in the message, text in the message)
    "wrong shape": (lambda a: a.update(left_grip=a["left_grip"][:, :6]), "left_grip",
                    "must have shape (N, 7), got (120, 6)"),
    "wrong ndim": (lambda a: a.update(right_hand_joints=a["right_hand_joints"][:, 0]),
                   "right_hand_joints", "must have shape (N, 26, 7)"),
    "int pose": (lambda a: a.update(head=a["head"].astype(np.int64)), "head",
                 "float32 or float64"),
    "float flags": (lambda a: a.update(right_valid=a["right_valid"].astype(float)),
                    "right_valid", "bool"),
    "N mismatch": (lambda a: a.update(head=a["head"][:-1]), "head",
                   "has 119 samples, but 't' has 120"),
    "t not increasing": (lambda a: a["t"].__setitem__(5, a["t"][4]), "t", "strictly increasing"),
    "t empty": (lambda a: a.update({k: v[:0] for k, v in a.items()}), "t", "empty"),
    "t NaN": (lambda a: a["t"].__setitem__(7, np.nan), "t", "NaN"),
    "trigger > 1": (lambda a: a["right_trigger"].__setitem__(3, 1.5), "right_trigger", "0..1"),
    "squeeze NaN": (lambda a: a["left_squeeze"].__setitem__(3, np.nan), "left_squeeze", "0..1"),
    "flag with no pose": (lambda a: a.pop("right_hand_joints"), "right_hand_valid", "no pose"),
    "pose with no flag": (lambda a: a.pop("tracker_waist_valid"), "tracker_waist",
                          "needs its validity flags"),
    "missing required": (lambda a: a.pop("right_grip"), "right_grip", "missing"),
    "unknown key": (lambda a: a.update(leftgrip=a["left_grip"]), "leftgrip",
                    "not part of the replay format"),
    "unknown tracker role": (lambda a: a.update(tracker_tail=a["head"],
                                                tracker_tail_valid=a["left_valid"]),
                             "tracker_tail", "not part of the replay format"),
    "pickled objects": (lambda a: a.update(head=np.array([object()] * N)), "head", "pickled"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_gives_one_line_naming_file_and_key(tmp_path, case):
    mutate, key, text = MALFORMED[case]
    arrays = _stage_arrays()
    mutate(arrays)
    path = tmp_path / "session.npz"
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=True, **arrays) if case == "pickled objects" else \
            np.savez(f, **arrays)
    with pytest.raises(ReplayFormatError) as info:
        load_replay(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert f"'{key}'" in msg
    assert text in msg


def test_example_message_of_the_contract(tmp_path, monkeypatch):
    arrays = _stage_arrays()
    arrays["left_grip"] = arrays["left_grip"][:, :6]
    _write(tmp_path / "session.npz", arrays)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReplayFormatError) as info:
        load_replay("session.npz")
    assert str(info.value) == "session.npz: key 'left_grip' must have shape (N, 7), got (120, 6)"


@pytest.mark.parametrize("content", [b"", b"hello, not a zip", b"PK\x03\x04truncated",
                                     b"\x93NUMPY fake npy"])
def test_not_a_zip_or_corrupt_archive(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ReplayFormatError) as info:
        load_replay(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg and ".npz" in msg


def test_corrupt_member_names_the_key(tmp_path):
    path = tmp_path / "c.npz"
    with open(path, "wb") as f:
        np.savez_compressed(f, **_stage_arrays())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        off = z.getinfo("head.npy").header_offset
    name_len, extra_len = np.frombuffer(bytes(data[off + 26:off + 30]), dtype="<u2")
    start = off + 30 + int(name_len) + int(extra_len)
    data[start + 10:start + 40] = b"\x00" * 30          # damage the compressed stream
    path.write_bytes(bytes(data))
    with pytest.raises(ReplayFormatError) as err:
        load_replay(path)
    assert str(err.value).startswith(f"{path}: key 'head' ") and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ReplayFormatError, match="nope.npz: file not found"):
        load_replay(tmp_path / "nope.npz")


def test_nan_in_a_valid_pose_is_not_a_format_error(tmp_path):
    arrays = _stage_arrays()
    arrays["right_grip"][10] = np.nan
    arrays["head"][11, 3:] = [0.0, 0.0, 0.0, 2.0]       # non-unit: a glitch, not a format error
    rep = load_replay(_write(tmp_path / "g.npz", arrays))
    assert np.isnan(rep.right_grip[10]).all() and rep.right_valid[10]


def test_replay_dataclass_validates_itself():
    rep = make_scripted_replay("reach", 1.0, 90.0)
    with pytest.raises(ReplayFormatError, match="^Replay: key 'right_grip' has 10 samples"):
        Replay(t=rep.t, head=rep.head, left_grip=rep.left_grip, right_grip=rep.right_grip[:10],
               left_valid=rep.left_valid, right_valid=rep.right_valid)


def test_save_is_atomic_on_crash(tmp_path, monkeypatch):
    path = tmp_path / "s.npz"
    path.write_bytes(b"previous content")
    rep = make_scripted_replay("wave", 1.0, 90.0)

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(KeyboardInterrupt):
        save_replay(path, rep)
    assert path.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


def test_save_into_missing_folder_is_one_line(tmp_path):
    with pytest.raises(ReplayWriteError) as info:
        save_replay(tmp_path / "no" / "such" / "x.npz", make_scripted_replay("rest", 0.5))
    assert "x.npz: cannot be written" in str(info.value) and "\n" not in str(info.value)


# --- ReplaySource ---

def _source_replay(tmp_path) -> Replay:
    return load_replay(_write(tmp_path / "src.npz", _stage_arrays()))


def test_poll_gives_sample_at_or_before_display_time(tmp_path):
    rep = _source_replay(tmp_path)
    src = ReplaySource(rep, time_origin=100.0)
    frame = TrackingFrame()
    rel = rep.t - rep.t[0]
    for i in (0, 1, 2, 50, 51, 119):
        for tau in (rel[i] + 1e-9, rel[i] + 0.99 / 90.0):
            assert src.poll(100.0 + tau, frame)
            assert frame.t == 100.0 + tau
            np.testing.assert_array_equal(frame.head, rep.head[i])
            np.testing.assert_array_equal(frame.grip[0], rep.left_grip[i])
            assert frame.grip_valid[0] == rep.left_valid[i]
            assert frame.aim_valid[1] == rep.right_valid[i] and not frame.aim_valid[0]
            np.testing.assert_array_equal(frame.aim[1], rep.right_aim[i])
            assert frame.trigger[1] == rep.right_trigger[i] and frame.trigger[0] == 0.0
            assert frame.squeeze[0] == rep.left_squeeze[i]
            assert frame.hand_valid[1] == rep.right_hand_valid[i] and not frame.hand_valid[0]
            np.testing.assert_array_equal(frame.hand_joints[1], rep.right_hand_joints[i])
            k = TRACKER_INDEX["waist"]
            np.testing.assert_array_equal(frame.tracker[k], rep.trackers["waist"][i])
            assert frame.tracker_valid[k] == rep.tracker_valid["waist"][i]
            assert frame.tracker_valid.sum() == 1 + int(rep.tracker_valid["waist"][i])


def test_backward_seek_end_and_loop(tmp_path):
    rep = _source_replay(tmp_path)
    dt = 1.0 / 90.0
    src = ReplaySource(rep)
    frame = TrackingFrame()
    assert src.duration == pytest.approx(N * dt)
    assert src.poll(7.0, frame)                  # first poll binds the time origin
    np.testing.assert_array_equal(frame.head, rep.head[0])
    assert src.poll(7.0 + 80.2 * dt, frame)
    np.testing.assert_array_equal(frame.head, rep.head[80])
    assert src.poll(7.0 + 10.5 * dt, frame)      # backwards
    np.testing.assert_array_equal(frame.head, rep.head[10])
    assert src.poll(7.0 + (N - 0.5) * dt, frame)
    assert not src.poll(7.0 + (N + 0.5) * dt, frame)
    np.testing.assert_array_equal(frame.head, rep.head[-1])
    looped = ReplaySource(rep, loop=True, time_origin=0.0)
    assert looped.poll((2 * N + 3.2) * dt, frame)
    np.testing.assert_array_equal(frame.head, rep.head[3])


def test_clock_at_the_sample_rate_with_a_large_offset_gets_every_sample():
    rep = make_scripted_replay("figure_eight", 30.0, 90.0)
    src = ReplaySource(rep)
    frame = TrackingFrame()
    for k in range(len(rep.t)):
        assert src.poll(86400.123 + k / 90.0, frame)
        assert frame.grip[1, 0] == rep.right_grip[k, 0]
    assert not src.poll(86400.123 + len(rep.t) / 90.0, frame)


def test_cursor_is_constant_work_for_monotonic_time(monkeypatch):
    rep = make_scripted_replay("reach", 20.0, 120.0)
    src = ReplaySource(rep, time_origin=0.0)
    frame = TrackingFrame()
    calls = []
    real = np.searchsorted
    monkeypatch.setattr(np, "searchsorted", lambda *a, **k: calls.append(1) or real(*a, **k))
    for i in range(len(rep.t)):                  # polled at the sample rate
        src.poll(i / 120.0 + 1e-9, frame)
        assert frame.grip[1, 0] == rep.right_grip[i, 0]
    assert calls == []
    for i in range(2 * len(rep.t)):              # back to the start, then twice as fast
        src.poll(i / 240.0 + 1e-9, frame)
        assert frame.grip[1, 0] == rep.right_grip[i // 2, 0]
    assert calls == [1]                          # only the jump back searched


def test_poll_allocates_no_arrays():
    src = ReplaySource(make_scripted_replay("fist_open", 30.0, 90.0), time_origin=0.0)
    frame = TrackingFrame()
    for i in range(10):
        src.poll(i / 90.0, frame)
    growth = []
    # tracemalloc also counts other threads (a worker left by an earlier test in this
    # process): an allocation in poll shows in every try, a stray thread's in one at most
    for _ in range(3):
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(10, 2000):
            src.poll(i / 90.0, frame)
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        growth.append((cur - base, peak - base))
    # a (2, 26, 7) copy alone is 2912 bytes
    assert any(cur < 512 and peak < 2048 for cur, peak in growth), growth


# --- Recorder ---

def _frames_from(source, n, rate, extra=None):
    frame = TrackingFrame()
    for k in range(n):
        source.poll(k / rate, frame)
        if extra:
            extra(k, frame)
        yield frame


def test_record_load_round_trip_same_frames(tmp_path):
    rate = 90.0
    src = ScriptedSource("wave", intact_side="left", rate_hz=rate)
    path = tmp_path / "rec.npz"
    rng = np.random.default_rng(5)
    tracker = TRACKER_INDEX["right_knee"]

    def extra(k, frame):
        frame.aim[0] = frame.grip[0] + [0, 0.05, 0, 0, 0, 0, 0]
        frame.aim_valid[0] = frame.grip_valid[0]
        frame.tracker_valid[tracker] = k % 3 != 0
        frame.tracker[tracker, :3] = rng.normal(size=3)
        frame.head_valid = k != 17

    originals = []
    with Recorder(path, chunk_frames=7) as rec:      # many chunk boundaries
        for f in _frames_from(src, 100, rate, extra):
            rec.append(f)
            c = TrackingFrame()
            c.copy_from(f)
            originals.append(c)
    assert not list(tmp_path.glob("*.tmp"))
    back = ReplaySource(path, time_origin=0.0)
    frame = TrackingFrame()
    for k, o in enumerate(originals):
        assert back.poll(k / rate, frame)
        for name in ("grip_valid", "aim_valid", "hand_valid", "tracker_valid"):
            np.testing.assert_array_equal(getattr(frame, name), getattr(o, name))
        np.testing.assert_allclose(frame.trigger, o.trigger, atol=1e-12)
        np.testing.assert_allclose(frame.squeeze, o.squeeze, atol=1e-12)
        for s in (0, 1):
            if o.grip_valid[s]:
                np.testing.assert_allclose(frame.grip[s], o.grip[s], atol=1e-9)
                np.testing.assert_allclose(frame.aim[s], o.aim[s], atol=1e-9)
            if o.hand_valid[s]:
                np.testing.assert_allclose(frame.hand_joints[s], o.hand_joints[s], atol=1e-9)
        if o.tracker_valid[tracker]:
            np.testing.assert_allclose(frame.tracker[tracker], o.tracker[tracker], atol=1e-9)
        if o.head_valid:
            np.testing.assert_allclose(frame.head, o.head, atol=1e-9)
        else:
            assert np.isnan(frame.head).all()       # the format's way to say "head lost"
    with np.load(path) as z:                        # only what was present is stored
        assert "right_hand_joints" not in z.files and "right_aim" not in z.files
        assert "tracker_right_knee" in z.files and "tracker_left_foot" not in z.files
        np.testing.assert_allclose(z["left_grip"], engine_to_stage_pose(
            np.array([o.grip[0] for o in originals])), atol=1e-12)


def test_recorder_rejects_time_going_backwards_and_append_after_close(tmp_path):
    rec = Recorder(tmp_path / "r.npz")
    f = TrackingFrame()
    f.t = 1.0
    rec.append(f)
    with pytest.raises(RecorderError, match="does not follow"):
        rec.append(f)
    assert rec.close() == tmp_path / "r.npz"
    with pytest.raises(RecorderError, match="closed"):
        rec.append(f)
    assert len(load_replay(tmp_path / "r.npz").t) == 1


def test_recorder_without_frames_writes_nothing(tmp_path):
    with Recorder(tmp_path / "empty.npz") as rec:
        assert rec.frame_count == 0
    assert not (tmp_path / "empty.npz").exists()


def test_record_source_stops_at_the_end(tmp_path):
    src = ScriptedSource("pinch", rate_hz=90.0, duration_s=1.0)
    n = record_source(src, tmp_path / "p.npz", rate_hz=90.0, seconds=5.0)
    assert n == 90
    rep = load_replay(tmp_path / "p.npz")
    assert len(rep.t) == 90 and rep.right_hand_valid.all() and not rep.left_valid.any()
