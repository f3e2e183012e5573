"""Shaping the phantom (docs/phantom-shaping.md): a felt posture and telescoping blended with
the mirror image in the core, the schedule that normalises it over weeks, the therapist's
commands, and the shaped phantom on screen."""
from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest

from vrgmi.app import scripted_source
from vrgmi.body.shaping import ShapeError, posture_vector, telescoped_length
from vrgmi.core import CorePipeline, warmup
from vrgmi.settings import load_settings
from vrgmi.shaping import ShapingPlan, after_session
from tests.patient_sim import simulated_events

RATE = 90.0


def _core(level="transradial", frames=30, **shape):
    settings = load_settings(None, {"patient.amputation_level": level})
    warmup()
    core = CorePipeline(settings, scripted_source(settings))
    if shape:
        core.shaper.set(**shape)
    for i in range(frames):
        core.step(i / RATE, 1 / RATE)
    return core


def _joint(core, name):
    return core.phantom.positions[core.joint_names.index(name)]


def _curl(core):
    """Mean fingertip distance from the wrist (m): small for a fist."""
    tips = [_joint(core, f"{f}_tip") for f in ("index", "middle", "ring", "little")]
    return float(np.mean([np.linalg.norm(p - _joint(core, "wrist")) for p in tips]))


def test_posture_blends_hand_joints_and_keeps_the_arm():
    mirror = _core()
    fist = _core(posture="clenched_fist", weight=1.0)
    half = _core(posture="clenched_fist", weight=0.5)
    for name in ("shoulder", "elbow", "wrist"):
        assert np.allclose(_joint(fist, name), _joint(mirror, name), atol=1e-9)
    assert _curl(fist) < _curl(half) < _curl(mirror) - 0.02
    first = fist.shaper.first
    assert np.allclose(fist.phantom.angles[:first], mirror.phantom.angles[:first])
    assert np.allclose(fist.phantom.angles[first:], posture_vector("arm", "clenched_fist")[first:])


def test_telescoping_shortens_the_missing_forearm_and_shank_only():
    for level, (mid, end, hand) in (("transradial", ("elbow", "wrist", "middle_tip")),
                                    ("transhumeral", ("elbow", "wrist", "middle_tip")),
                                    ("transtibial", ("knee", "ankle", "toe_tip"))):
        mirror = _core(level)
        short = _core(level, telescoping=0.6)
        L = short.lengths.limb(short.limb)
        want = telescoped_length(short.layout, L, 0.6)
        got = np.linalg.norm(_joint(short, end) - _joint(short, mid))
        assert got == pytest.approx(want, abs=1e-9)
        assert want < L[1] - 0.05
        # the hand / foot keeps its size; the root joint stays
        for core in (mirror, short):
            core.size = np.linalg.norm(_joint(core, hand) - _joint(core, end))
        assert short.size == pytest.approx(mirror.size, abs=1e-9)
        assert np.allclose(short.phantom.positions[0], mirror.phantom.positions[0])
    # at a stump on the forearm the real part of it stays
    radial = _core("transradial", telescoping=0.8)
    assert telescoped_length(radial.layout, radial.lengths.limb("arm"), 1.0) == \
        pytest.approx(radial.layout.stump_end_offset)


def test_bad_shapes_are_one_line_and_change_nothing():
    core = _core("partial_hand", frames=2)
    for kw, text in (({"posture": "curled_toes"}, "posture"), ({"weight": 1.5}, "weight"),
                     ({"telescoping": 0.3}, "not missing"), ({"posture": "captured"}, "capture")):
        with pytest.raises(ShapeError, match=text) as err:
            core.shaper.set(**kw)
        assert "\n" not in str(err.value)
    assert core.shaper.as_dict()["weight"] == 0.0 and not core.shaper.active


def test_a_posture_captured_from_the_intact_hand():
    settings = load_settings(None, {"patient.amputation_level": "transradial",
                                    "tracking.scripted_motion": "fist_open"})
    core = CorePipeline(settings, scripted_source(settings))
    pip = core.intact.dof_names.index("middle_pip_flexion")
    t, closed = 0.0, []
    for _ in range(int(3.0 * RATE)):              # one cycle: the hand closes and opens
        core.step(t, 1 / RATE)
        t += 1 / RATE
        closed.append(core.intact.angles[pip])
    assert max(closed) > np.radians(45) > min(closed)
    while core.intact.angles[pip] < 0.95 * max(closed):    # closed again: capture it
        core.step(t, 1 / RATE)
        t += 1 / RATE
    held = core.shaper.capture(core.intact)
    first = core.shaper.first
    core.shaper.set(weight=1.0)
    for _ in range(int(1.5 * RATE)):              # the intact hand opens again
        core.step(t, 1 / RATE)
        t += 1 / RATE
    assert core.intact.angles[pip] < 0.5 * held[pip]
    assert np.allclose(core.phantom.angles[first:], held[first:])


def test_shaped_frames_do_not_allocate():
    import tracemalloc
    core = _core(posture="twisted_wrist", weight=0.7, telescoping=0.4)
    for i in range(30, 60):
        core.step(i / RATE, 1 / RATE)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(60, 560):
        core.step(i / RATE, 1 / RATE)
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 4096


def _sim_sessions():
    """Each simulated session's date and pain ratings (tests/patient_sim.py)."""
    out: dict[str, dict] = {}
    for e in simulated_events(weeks=6, laterality_trials=4):
        s = out.setdefault(e.session, {"session": e.session, "reason": None})
        s["date"] = datetime.fromtimestamp(e.wall, timezone.utc).date().isoformat()
        if e.kind == "questionnaire" and e.data["instrument"] == "nrs":
            s[f"nrs_{e.data['moment']}"] = e.data["scores"]["nrs"]
        if e.kind == "session_finished":
            s["reason"] = e.data["reason"]
    return list(out.values())


def test_the_schedule_reaches_the_mirror_after_the_configured_sessions():
    settings = load_settings(None, {"shaping.steps": 4, "shaping.sessions_per_step": 3})
    plan = ShapingPlan(posture="clenched_fist", telescoping=0.5)
    sessions = _sim_sessions()
    weights, telescoping = [], []
    reached = None
    for k, outcome in enumerate(sessions):
        core = _core(frames=3, **{k: v for k, v in plan.shape(settings.shaping).items()})
        weights.append(core.shaper.weight)
        telescoping.append(core.shaper.telescoping)
        after_session(plan, outcome, settings.shaping)
        if plan.done(settings.shaping) and reached is None:
            reached = k + 1
    assert reached == 12                              # 4 steps x 3 sessions
    assert weights[:13] == [1.0] * 3 + [0.75] * 3 + [0.5] * 3 + [0.25] * 3 + [0.0]
    assert telescoping[0] == 0.5 and telescoping[12] == 0.0
    assert len(plan.history) == 4 and plan.history[-1]["weight"] == 0.0
    mirror, done = _core(frames=3), _core(frames=3, **plan.shape(settings.shaping))
    assert np.allclose(done.phantom.positions, mirror.phantom.positions)


def test_a_step_waits_while_pain_rises_or_after_a_flare():
    settings = load_settings(None, {"shaping.steps": 2, "shaping.sessions_per_step": 2})
    plan = ShapingPlan()
    worse = {"reason": "completed", "nrs_pre": 3, "nrs_post": 6, "date": "2026-03-02"}
    for day in (2, 3, 4):
        decision = after_session(plan, {**worse, "date": f"2026-03-0{day}"}, settings.shaping)
    assert plan.step == 0 and not decision["advance"]
    assert decision["criteria"]["pain"]["met"] is False
    plan = ShapingPlan()
    after_session(plan, {"reason": "completed", "nrs_pre": 4, "nrs_post": 3,
                         "date": "2026-03-02", "pain_flare": True}, settings.shaping)
    decision = after_session(plan, {"reason": "completed", "nrs_pre": 4, "nrs_post": 3,
                                    "date": "2026-03-03"}, settings.shaping)
    assert plan.step == 0 and decision["criteria"]["no_pain_flare"]["met"] is False
    assert date.fromisoformat(decision["criteria"]["no_pain_flare"]["value"]).day == 2


def _phantom_pixels(engine, path):
    """The phantom rig alone, seen from in front of the patient (room, intact arm and resting
    limbs hidden): a mask, and the picture saved to ``path``."""
    from vrgmi.render.display import grab_rgba, save_png

    base = engine.display.base
    hidden = [engine.room.root, engine.intact_rig.root, *(r.root for r in engine.seated.rigs)]
    for node in hidden:
        node.hide()
    base.camera.set_pos(0.2, 1.0, 1.0)
    base.camera.look_at(-0.25, 0.3, 0.95)
    try:
        img = grab_rgba(base)
    finally:
        for node in hidden:
            node.show()
    save_png(img, path)
    return img[..., :3].max(axis=-1) > 8


def test_the_shaped_phantom_on_screen(display, scene, tmp_path):
    """A clenched fist on a telescoped forearm covers less of the picture than the mirrored
    open hand, and the forearm is drawn shorter (the hand keeps its size)."""
    from vrgmi.app import Engine
    from vrgmi.phantom_setup import PhantomSetup
    from vrgmi.tracking.scripted import ScriptedSource

    settings = load_settings(None, {"patient.amputation_level": "transhumeral"})
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display)
    try:
        setup = PhantomSetup()
        masks = {}
        for name, shape in (("mirror", {}), ("shaped", {"posture": "clenched_fist",
                                                        "weight": 1.0, "telescoping": 0.6})):
            engine.core.shaper.set(**({"posture": "open", "weight": 0.0, "telescoping": 0.0}
                                      | shape))
            setup.sync(engine)
            for i in range(3):
                engine.frame(i / RATE, 1 / RATE, render=False)
            masks[name] = _phantom_pixels(engine, tmp_path / f"phantom-{name}.png")
        assert engine.phantom_rig.segment_scale == pytest.approx(0.4)
        mirror, shaped = masks["mirror"].sum(), masks["shaped"].sum()
        assert mirror > 500 and shaped < 0.8 * mirror
        assert (masks["shaped"] & ~masks["mirror"]).sum() > 50      # the fist is elsewhere
    finally:
        engine.close()


def test_shape_commands_are_checked_against_hostile_input():
    """Whatever a companion sends, shape_phantom / capture_posture become a checked Command
    or a one-line rejection; what passes the server the engine's shaper accepts or refuses
    in one line, and never holds a value out of bounds."""
    from hypothesis import given, settings as hsettings
    from hypothesis import strategies as st

    from vrgmi.companion.commands import CommandRejected, check_command

    core = _core(frames=1)
    values = (st.none() | st.booleans() | st.integers(-10 ** 9, 10 ** 9)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=60)
              | st.sampled_from(["clenched_fist", "curled_toes", "captured", "fist", " fist ",
                                 "x" * 41, "\x00", "twisted_wrist"])
              | st.lists(st.integers(), max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                    st.integers(), max_size=2))
    keys = st.sampled_from(["posture", "telescoping", "weight", "reason", "side", "__proto__"])

    @hsettings(max_examples=300, deadline=None)
    @given(st.sampled_from(["shape_phantom", "capture_posture"]),
           st.dictionaries(keys, values, max_size=4))
    def one(name, args):
        try:
            command = check_command({"command": name, "args": args}, {}, {}, "tablet")
        except CommandRejected as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 400
            return
        a = command.args
        assert set(a) <= {"posture", "telescoping", "weight", "reason"}
        for key in ("telescoping", "weight"):
            assert key not in a or (type(a[key]) is float and 0.0 <= a[key] <= 1.0)
        try:
            core.shaper.set(a.get("posture"), a.get("telescoping"), a.get("weight"))
        except ShapeError as exc:
            assert "\n" not in str(exc)
        assert 0.0 <= core.shaper.weight <= 1.0
        assert 0.0 <= core.shaper.telescoping <= core.shaper.max_telescoping

    one()


def test_a_new_limb_keeps_the_shape_it_can_take(display, scene):
    """The therapist changes the patient's limb mid-session: the rebuilt core keeps the
    shape where it fits the new limb and falls back to the plain mirror where it does not."""
    from vrgmi.app import Engine
    from vrgmi.phantom_setup import PhantomSetup
    from vrgmi.tracking.scripted import ScriptedSource

    settings = load_settings(None, {"patient.amputation_level": "transradial"})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    try:
        setup = PhantomSetup()
        setup._core = engine.core
        engine.core.shaper.capture(engine.core.intact)
        engine.core.shaper.set(weight=0.7, telescoping=0.5)
        engine.set_patient(level="transhumeral")
        setup.sync(engine)
        assert engine.core.shaper.as_dict()["weight"] == 0.7
        assert engine.core.shaper.posture == "captured" and engine.core.shaper.telescoping == 0.5
        assert engine.phantom_rig.segment_scale == engine.core.shaper.segment_scale < 1.0
        engine.set_patient(level="transtibial")
        setup.sync(engine)
        assert not engine.core.shaper.active and engine.phantom_rig.segment_scale == 1.0
        engine.frame(0.0, 1 / RATE, render=False)
    finally:
        engine.close()
