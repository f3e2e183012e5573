"""Nothing grows with the frames: Panda3D's state caches are freed every engine frame (the
headless and headset loops never ran ShowBase's collector, and a long demo grew by gigabytes),
and the soak figures `vrgmi bench` prints are measured on the real session and render paths."""
from __future__ import annotations

from panda3d.core import RenderState, TransformState

from vrgmi.app import Engine, scripted_source
from vrgmi.bench import TARGETS, format_table
from vrgmi.settings import load_settings
from vrgmi.soak import rss_bytes, soak_session


def _states() -> int:
    return TransformState.get_num_states() + RenderState.get_num_states()


def test_engine_frames_do_not_grow_panda_state_caches(display):
    """Every frame poses each joint anew (a new TransformState each); 600 frames, drawn now
    and then, must leave the cache as large as after the first 100."""
    settings = load_settings(None, {})
    engine = Engine(settings, scripted_source(settings), display)
    try:
        for i in range(100):
            engine.frame(i / 90.0, 1 / 90.0, render=i % 50 == 0)
        after_warmup = _states()
        for i in range(100, 700):
            engine.frame(i / 90.0, 1 / 90.0, render=i % 50 == 0)
        grown = _states() - after_warmup
    finally:
        engine.close()
    # without the per-frame collection this grows by ~10 states a frame (6,000 here)
    assert grown < 100, grown


def test_session_soak_reports_flat_files_threads_and_states(display):
    r = soak_session(frames=900, display=display)
    assert r["soak_session_frames"] == 900
    assert r["soak_session_open_files_growth"] <= 0
    assert r["soak_session_threads_growth"] <= 0
    assert r["soak_session_panda_states_growth"] < 100
    assert r["soak_session_events_kept"] > 0          # the session really ran: NRS answered
    table = format_table(r)
    assert "soak_session_rss_mib_per_hour" in table and "soak_session_open_files_growth" in table
    assert TARGETS["soak_session_rss_mib_per_hour"][0] == "<="


def test_drawn_frames_do_not_queue_in_the_gl_driver(display):
    """An offscreen buffer has no buffer swap to pace the loop: without a glFinish per frame
    (vrgmi.render.display) Mesa llvmpipe queued frames, keeping each one's binned triangles:
    +60 MB over these 60 frames at 256 x 256; ~2 MB a frame at 1280 x 720, up to ~1.9 GB."""
    settings = load_settings(None, {"patient.amputation_side": "left",
                                     "patient.amputation_level": "transradial"})
    engine = Engine(settings, scripted_source(settings), display)
    try:
        for i in range(3):
            engine.frame(i / 90.0, 1 / 90.0)
        after_warmup = rss_bytes()
        for i in range(3, 63):
            engine.frame(i / 90.0, 1 / 90.0)
        grown = rss_bytes() - after_warmup
    finally:
        engine.close()
    assert grown < 12 * 2 ** 20, grown / 2 ** 20
