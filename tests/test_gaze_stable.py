"""The phantom stays where the body is (issue 10): looking at it must not move it, a chair
turn moves it only on body evidence. Every figure runs through `vrgmi replay --dump`
(``dump_replay``) on replays written from scripted head, hand, foot and chair motions."""
from __future__ import annotations

import numpy as np
import pytest
from panda3d.core import Point2, Point3

from vrgmi.body import LEVELS, mirror_points
from vrgmi.core import CorePipeline, dump_replay
from vrgmi.render.display import grab_rgba
from vrgmi.settings import load_settings
from vrgmi.spatial import quat_from_axis_angle, quat_mul, quat_rotate, stage_to_engine_point
from vrgmi.tracking.replay import Replay, ReplaySource, save_replay
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 30.0
X, Z = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
#: a real head: the eyes 11 cm in front of and 9 cm above the neck joint they pivot about
#: (not the engine's own estimate, EYE_FROM_NECK, on purpose)
EYES_FROM_PIVOT = np.array([0.0, 0.11, 0.09])
EYES = np.array([0.0, 0.0, 1.2])                    # the scripted patient's eyes at rest
PIVOT = EYES - EYES_FROM_PIVOT
#: the chair's swivel axis (engine x, y): under the seat, 11 cm in front of the neck joint
CHAIR = np.array([0.0, 0.0])
#: a waist tracker on the belt buckle, strapped on with its y axis up
WAIST = np.r_[0.0, 0.12, 0.95, quat_from_axis_angle(X, np.pi / 2)]
CONFIGS = [("transradial", "left"), ("transradial", "right"), ("transhumeral", "right"),
           ("transtibial", "left"), ("transtibial", "right"), ("transfemoral", "left")]
STILL_S = 2.0                                       # before anything moves (filters settle)


def min_jerk(u):
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10 - 15 * u + 6 * u * u)


def ramp_hold(peak, ramp_s, hold_s):
    """A segment going to ``peak`` (min-jerk), holding, and coming back."""
    total = 2 * ramp_s + hold_s

    def f(t):
        return peak * (min_jerk(t / ramp_s) - min_jerk((t - ramp_s - hold_s) / ramp_s))
    return total, f


def head_segments():
    """(name, seconds, f(t) -> yaw, pitch, translation (3,)) for head-only motions."""
    zero = np.zeros(3)
    segs = []
    for deg in (90, -90):
        n, f = ramp_hold(np.radians(deg), 1.5, 60.0)
        segs.append((f"yaw {deg:+d} deg held 60 s", n, lambda t, f=f: (f(t), 0.0, zero)))
    n, f = ramp_hold(np.radians(-60), 1.0, 5.0)
    segs.append(("pitch down 60 deg", n, lambda t, f=f: (0.0, f(t), zero)))
    segs.append(("nods +-25 deg at 1.5 Hz", 6.0,
                 lambda t: (0.0, np.radians(25) * np.sin(2 * np.pi * 1.5 * t), zero)))
    segs.append(("sweeps +-60 deg at 0.2 Hz", 15.0,
                 lambda t: (np.radians(60) * np.sin(2 * np.pi * 0.2 * t), 0.0, zero)))
    for axis, name in ((0, "sideways"), (1, "forward"), (2, "down")):
        for sign in (1, -1):
            n, f = ramp_hold(0.08 * sign, 1.0, 2.0)
            segs.append((f"head {name} {8 * sign:+d} cm", n,
                         lambda t, f=f, axis=axis: (0.0, 0.0, np.eye(3)[axis] * f(t))))
    n, f = ramp_hold(1.0, 1.0, 3.0)
    segs.append(("lean 8 cm and look 45 deg down at the phantom", n,
                 lambda t, f=f: (np.radians(45) * f(t), np.radians(-30) * f(t),
                                 np.array([0.0, 0.08, -0.04]) * f(t))))
    return segs


def head_pose(yaw, pitch, shift):
    q = quat_mul(quat_from_axis_angle(Z, yaw), quat_from_axis_angle(X, pitch))
    return np.r_[PIVOT + shift + quat_rotate(q, EYES_FROM_PIVOT), q]


def still_patient(level, side, seconds):
    """A replay (engine space) of a seated patient whose intact hand / foot does not move;
    the head looks ahead. Channels: the intact grip (arm levels) or foot tracker (legs)."""
    intact = "right" if side == "left" else "left"
    motion = "rest" if LEVELS[level].limb == "arm" else "foot_tap"
    r = make_scripted_replay(motion, seconds, RATE, intact_side=intact)
    arrays = r.arrays()
    for key in (f"{intact}_grip", f"tracker_{intact}_foot"):
        if key in arrays:
            arrays[key][:] = arrays[key][0]
    arrays["head"][:] = head_pose(0.0, 0.0, np.zeros(3))
    return arrays, intact


def dump(arrays, level, side, tmp_path, name):
    """Write the replay and run it through the `vrgmi replay --dump` path; engine-space
    phantom joints (N, J, 3), turn flags (N,), body yaw (N,), t (N,)."""
    path = tmp_path / f"{name}.npz"
    save_replay(path, Replay.from_arrays(arrays))
    out = tmp_path / f"{name}-dump.npz"
    settings = load_settings(overrides={"patient.amputation_side": side,
                                        "patient.amputation_level": level})
    dump_replay(path, out, settings)
    d = np.load(out)
    return (stage_to_engine_point(d["phantom"]), d["turn_suspected"], d["body_yaw"], d["t"],
            d["phantom_visible"])


@pytest.mark.parametrize("level, side", CONFIGS)
def test_only_the_head_moves_the_phantom_stays_within_1_cm(level, side, tmp_path):
    segs = head_segments()
    seconds = STILL_S + sum(n for _, n, _ in segs)
    arrays, _ = still_patient(level, side, seconds)
    t = arrays["t"]
    head = arrays["head"]
    spans, start = [], STILL_S
    for name, n, f in segs:
        idx = np.nonzero((t >= start) & (t < start + n))[0]
        for i in idx:
            yaw, pitch, shift = f(t[i] - start)
            head[i] = head_pose(yaw, pitch, shift)
        spans.append((name, idx))
        start += n
    phantom, suspected, body_yaw, _, visible = dump(arrays, level, side, tmp_path, "head")
    assert visible[int(RATE):].all()
    ref = phantom[int(STILL_S * RATE) - 1]
    moved = {name: float(np.linalg.norm(phantom[idx] - ref, axis=-1).max()) for name, idx in spans}
    worst = max(moved, key=moved.get)
    assert moved[worst] <= 0.01, f"{worst}: the phantom moved {100 * moved[worst]:.1f} cm"
    assert not suspected.any()                      # looking is not turning: no flag either
    assert np.ptp(body_yaw) == 0.0


def chair_turn(level, side, angle_deg, waist, turn_at=STILL_S, turn_s=1.0, after_s=4.0):
    """A still patient whose chair swivels by ``angle_deg`` about CHAIR from ``turn_at`` over
    ``turn_s``: head, neck, intact hand / foot (and the waist tracker) turn as one body."""
    seconds = turn_at + turn_s + after_s
    arrays, intact = still_patient(level, side, seconds)
    t = arrays["t"]
    psi = np.radians(angle_deg) * min_jerk((t - turn_at) / turn_s)
    axis = np.r_[CHAIR, 0.0]
    keys = ["head", f"{intact}_grip", f"tracker_{intact}_foot"]
    if waist:
        arrays["tracker_waist"] = np.tile(WAIST, (len(t), 1))
        arrays["tracker_waist_valid"] = np.ones(len(t), dtype=bool)
        keys.append("tracker_waist")
    for key in keys:
        if key not in arrays:
            continue
        poses = arrays[key]
        for i, a in enumerate(psi):
            q = quat_from_axis_angle(Z, a)
            poses[i, :3] = axis + quat_rotate(q, poses[i, :3] - axis)
            poses[i, 3:] = quat_mul(q, poses[i, 3:])
    return arrays


def rotated(points, angle):
    """Points (..., 3) turned by ``angle`` about the chair axis."""
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    axis = np.r_[CHAIR, 0.0]
    return axis + (points - axis) @ turn.T


@pytest.mark.parametrize("level, side", CONFIGS)
def test_a_45_degree_chair_turn_with_a_waist_tracker_is_followed_smoothly(level, side,
                                                                          tmp_path):
    angle = 45.0 if side == "left" else -45.0
    arrays = chair_turn(level, side, angle, waist=True)
    phantom, suspected, body_yaw, t, _ = dump(arrays, level, side, tmp_path, "chair")
    k0 = int(STILL_S * RATE) - 1
    # the new body frame is the old one turned with the chair: so is the mirror image
    expected = rotated(phantom[k0], np.radians(angle))
    err = np.linalg.norm(phantom - expected, axis=-1).max(axis=-1)
    off = np.nonzero(err > 0.01)[0]
    settled_s = t[off[-1] + 1] - STILL_S
    assert settled_s <= 2.0, f"the phantom is the new mirror only {settled_s:.2f} s after"
    jump = np.linalg.norm(np.diff(phantom[int(RATE):], axis=0), axis=-1).max()
    assert jump <= 0.05, f"the phantom jumped {100 * jump:.1f} cm in a frame"
    assert np.degrees(body_yaw[-1] - body_yaw[0]) == pytest.approx(angle, abs=0.5)
    assert not suspected.any()                      # the tracker says it: nothing to ask


@pytest.mark.parametrize("level, side", CONFIGS)
def test_the_same_chair_turn_without_a_tracker_is_flagged_within_2_s(level, side, tmp_path):
    angle = 45.0 if side == "left" else -45.0
    arrays = chair_turn(level, side, angle, waist=False)
    phantom, suspected, body_yaw, t, _ = dump(arrays, level, side, tmp_path, "chair")
    flagged = np.nonzero(suspected)[0]
    assert len(flagged), "the chair turn was not flagged"
    assert t[flagged[0]] - STILL_S <= 2.0
    assert suspected[flagged[0]:].all()             # until the therapist recenters
    assert np.ptp(body_yaw) == 0.0                  # the frame itself is not swung


def test_a_recenter_after_a_flagged_turn_puts_the_mirror_in_the_new_frame():
    """The therapist's Recenter (companion) answers the flag: from the next frame the phantom
    is the mirror in the turned body frame, the flag is down, and the notes say why."""
    level, side, angle = "transradial", "left", 45.0
    arrays = chair_turn(level, side, angle, waist=False)
    settings = load_settings(overrides={"patient.amputation_side": side,
                                        "patient.amputation_level": level})
    core = CorePipeline(settings, ReplaySource(Replay.from_arrays(arrays), time_origin=0.0))
    t = arrays["t"]
    k0, k_ask = int(STILL_S * RATE) - 1, int((STILL_S + 3.0) * RATE)
    for i in range(k_ask):
        core.step(float(t[i]), 1 / RATE)
        if i == k0:
            before = core.phantom.positions.copy()
    assert core.torso.turn_suspected
    core.torso.request_recenter("companion")
    core.step(float(t[k_ask]), 1 / RATE)
    assert not core.torso.turn_suspected
    err = np.linalg.norm(core.phantom.positions - rotated(before, np.radians(angle)), axis=-1)
    assert err.max() < 0.01
    kinds = [(k, d.get("source", d.get("evidence"))) for k, d in core.torso.notes]
    assert kinds == [("recenter", "session_start"), ("body_turn_suspected", "limb"),
                     ("recenter", "companion")]


# --- on screen -------------------------------------------------------------------------------

#: moves the scripted hand in front (``fist_open``) to 32 cm right, 32 cm ahead of the eyes
HAND_SHIFT = np.array([0.10, -0.04, -0.04])
#: a fixed camera in front of the patient, above the table, looking at both hands
FRONT_VIEW = ((0.0, 1.1, 1.45), (0.0, 0.25, 0.8))


def looking_at_the_phantom(turn_at=2.0, hold_s=8.0, yaw_deg=45.0, pitch_deg=-35.0):
    """A left transradial patient, intact right hand still on the table in front, who looks
    ahead, then turns the head 45 deg toward the phantom and down at it, and holds."""
    seconds = turn_at + 1.0 + hold_s
    r = make_scripted_replay("fist_open", seconds, RATE, intact_side="right")
    arrays = r.arrays()
    for key in ("right_grip", "right_hand_joints", "right_trigger", "right_squeeze"):
        arrays[key][:] = arrays[key][0]
    # the hand 32 cm to the right of and in front of the eyes: its mirror image is 45 deg off
    arrays["right_grip"][:, :3] += HAND_SHIFT
    arrays["right_hand_joints"][..., :3] += HAND_SHIFT
    t = arrays["t"]
    u = min_jerk((t - turn_at) / 1.0)
    for i in range(len(t)):
        arrays["head"][i] = head_pose(np.radians(yaw_deg) * u[i], np.radians(pitch_deg) * u[i],
                                      np.zeros(3))
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial"})
    return settings, Replay.from_arrays(arrays)


def limb_mask(display, engine, show, camera=None):
    """Pixels of one limb ('intact' or 'phantom') alone, from the first-person camera or a
    fixed ``camera`` (eye, look-at)."""
    base = display.base
    saved = base.camera.get_transform()
    hidden = [engine.room.root, *(rig.root for rig in engine.seated.rigs),
              (engine.intact_rig if show == "phantom" else engine.phantom_rig).root]
    for node in hidden:
        node.hide()
    try:
        if camera is not None:
            base.camera.set_pos(*camera[0])
            base.camera.look_at(*camera[1])
        return grab_rgba(base)[..., :3].max(axis=-1) > 8
    finally:
        base.camera.set_transform(saved)
        for node in hidden:
            node.show()


def on_screen(display, point):
    """(row, col) of a world point in the first-person image."""
    base = display.base
    film = Point2()
    assert base.cam.node().get_lens().project(
        base.cam.get_relative_point(base.render, Point3(*point)), film)
    h, w = base.win.get_y_size(), base.win.get_x_size()
    return int((1 - film[1]) * 0.5 * h), int((film[0] + 1) * 0.5 * w)


def test_the_drawn_phantom_stays_put_and_in_view_while_the_patient_looks_at_it(display, scene):
    from vrgmi.app import Engine

    settings, replay = looking_at_the_phantom()
    engine = Engine(settings, ReplaySource(replay, time_origin=0.0), display)
    try:
        t = replay.t
        masks, first_person = [], []
        for i in range(len(t)):
            engine.frame(float(t[i]), 1 / RATE, render=False)
            if i in (int(1.9 * RATE), len(t) - 1):      # head straight; looking at it, 8 s on
                masks.append(limb_mask(display, engine, "phantom", FRONT_VIEW))
                first_person.append(limb_mask(display, engine, "phantom"))
        straight, turned = masks
        assert straight.sum() > 0.005 * straight.size
        iou = (straight & turned).sum() / (straight | turned).sum()
        assert iou > 0.98, f"the drawn phantom moved: overlap {iou:.3f}"
        # looking at it, the patient sees it: the phantom hand is drawn near the view's centre
        core = engine.core
        seen = first_person[1]
        h, w = seen.shape
        row, col = on_screen(display, core.phantom.positions[core.joint_names.index("palm")])
        assert abs(col - w / 2) < 0.15 * w and abs(row - h / 2) < 0.15 * h
        assert seen[row - 3:row + 4, col - 3:col + 4].all()
        # and it is the mirror image of the intact limb in the body frame
        mirrored = np.empty_like(core.intact.positions)
        mirror_points(core.intact.positions, core.torso.pose, mirrored)
        np.testing.assert_allclose(core.phantom.positions[2:], mirrored[2:], atol=0.005)
    finally:
        engine.close()


def test_the_session_records_recenters_with_their_source_and_asks_about_a_turn(
        display, scene, tmp_path, caplog):
    """Through the session: the flag reaches the companion's status and the console, every
    recenter and the suspected turn are events, a recenter answers the flag."""
    from vrgmi.app import Engine
    from vrgmi.control import Command
    from vrgmi.program import Program, SceneStep
    from vrgmi.scenes.free_mirror import FreeMirror
    from vrgmi.scenes.nrs import PainNRS
    from vrgmi.session import SessionRunner

    arrays = chair_turn("transradial", "left", 45.0, waist=False)
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial"})
    engine = Engine(settings, ReplaySource(Replay.from_arrays(arrays), time_origin=0.0),
                    display)
    program = Program("p01", phase="mirror", breathing_between_blocks=False,
                      steps={"mirror": [SceneStep("free_mirror", 1.0)]})
    runner = SessionRunner(engine, program, tmp_path,
                           registry={c.name: c for c in (PainNRS, FreeMirror)})
    try:
        t = arrays["t"]
        with caplog.at_level("WARNING", logger="vrgmi.session"):
            for i in range(int((STILL_S + 2.0) * RATE)):
                runner.step(float(t[i]), 1 / RATE, render=False)
        assert runner.board.status()[1]["turn_suspected"]
        assert sum("may have turned" in r.getMessage() for r in caplog.records) == 1
        runner.commands.put(Command("recenter"))                       # the companion
        runner.step(float(t[i + 1]), 1 / RATE, render=False)
        assert not runner.board.status()[1]["turn_suspected"]
        runner.commands.put(Command("recenter", {"source": "menu_hold"}, by="patient"))
        runner.step(float(t[i + 2]), 1 / RATE, render=False)
        body = [(e.kind, e.data.get("source") or e.data.get("evidence"))
                for e in runner.events.history
                if e.kind in ("recenter", "body_turn_suspected", "body_turned")]
        assert body == [("recenter", "session_start"), ("body_turn_suspected", "limb"),
                        ("recenter", "companion"), ("recenter", "menu_hold")]
        runner.close()
        # the next session on the same engine starts with a recenter of its own
        runner = SessionRunner(engine, program, tmp_path,
                               registry={c.name: c for c in (PainNRS, FreeMirror)})
        runner.step(float(t[i + 3]), 1 / RATE, render=False)
        assert [(e.kind, e.data["source"]) for e in runner.events.history
                if e.kind == "recenter"] == [("recenter", "session_start")]
    finally:
        try:
            runner.close()
        finally:
            engine.close()


def test_the_companion_asks_the_therapist_to_recenter(tmp_path):
    """In a real browser (Debian's Chromium): the flag shows "The patient may have turned"
    with a Recenter button, the button queues the recenter, the flag hides when it is down."""
    from playwright.sync_api import expect, sync_playwright

    from vrgmi.companion import Companion
    from vrgmi.control import CommandQueue, EngineStatus, StatusBoard

    board, queue = StatusBoard(), CommandQueue()
    board.publish(EngineStatus(state="running", scene="free_mirror", turn_suspected=True))
    companion = Companion(board, queue, port=0)
    companion.start()
    token, _ = companion.pairing()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(companion.url + "/")
            page.fill("#token", token.lower())
            page.click("button[type=submit]")
            expect(page.locator("#link")).to_have_text("connected")
            flag = page.locator("#turn")
            expect(flag).to_be_visible()
            expect(flag).to_contain_text("The patient may have turned")
            page.screenshot(path=str(tmp_path / "companion-turn.png"))
            flag.get_by_role("button", name="Recenter?").click()
            sent = []
            for _ in range(50):
                sent += queue.drain()
                if sent:
                    break
                page.wait_for_timeout(100)
            assert [(c.name, c.args) for c in sent] == [("recenter", {})]
            board.publish(EngineStatus(state="running", scene="free_mirror"))
            expect(flag).to_be_hidden()
            browser.close()
    finally:
        companion.stop()
