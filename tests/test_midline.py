"""The phantom never passes through the intact limb (docs/mirror-tasks.md, "The midline"):
on the joints of the core, arm and leg, both sides, and on offscreen renders."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.app import Engine
from vrgmi.body.mirror import keep_clear_kernel
from vrgmi.core import CorePipeline, warmup
from vrgmi.mirror.lower import foot_targets
from vrgmi.mirror.reach import reach_targets
from vrgmi.render.display import grab_rgba, save_png
from vrgmi.scenes.bilateral import Bilateral
from vrgmi.settings import load_settings
from vrgmi.tracking.replay import Replay, ReplaySource
from vrgmi.tracking.scripted import (LEG_MOTIONS, MOTIONS, _min_jerk, make_scripted_replay)

RATE = 90.0
CLEARANCE = load_settings().mirror.midline_clearance_m
OTHER = {"left": "right", "right": "left"}


def _settings(limb: str, intact: str, clearance: float = CLEARANCE):
    return load_settings(overrides={
        "patient.amputation_level": "transradial" if limb == "arm" else "transtibial",
        "patient.amputation_side": OTHER[intact], "mirror.midline_clearance_m": clearance})


def _crossing(limb: str, intact: str, reach_m: float) -> Replay:
    """The intact hand (or foot) at rest, sweeping ``reach_m`` across the body's midline
    into the phantom's half within 2.4 s and back (minimum jerk), over 6 s."""
    motion = "rest" if limb == "arm" else "foot_tap"
    arrays = {k: np.array(v, copy=True)
              for k, v in make_scripted_replay(motion, 6.0, RATE, intact).arrays().items()}
    t = arrays["t"]
    u = np.where(t < 3.0, t / 3.0, (6.0 - t) / 3.0)
    toward_phantom = -1.0 if intact == "right" else 1.0
    key = f"{intact}_grip" if limb == "arm" else f"tracker_{intact}_foot"
    arrays[key][:, 0] += toward_phantom * reach_m * _min_jerk(u / 0.8)
    return Replay.from_arrays(arrays)


def _segment_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest distance between the bones (joint k-1 to k, along the chain to the end
    effector) of two limbs' joint positions (J, 3), sampled every 5 % of each bone."""
    s = np.linspace(0.0, 1.0, 21)[None, :, None]

    def points(p):
        chain = p[:6]                        # shoulder/hip .. the hand's / foot's first joints
        return (chain[:-1, None] + s * (chain[1:, None] - chain[:-1, None])).reshape(-1, 3)
    pa, pb = points(a), points(b)
    return float(np.sqrt(((pa[:, None] - pb[None]) ** 2).sum(-1)).min())


def _run(core: CorePipeline, seconds: float) -> dict[str, float]:
    """Step the core; the smallest joint-joint and bone-bone gap between the limbs, the
    phantom's closest joint to the midline (+ = on its own side), the largest shift."""
    sign = 1.0 if core.amputated == 1 else -1.0
    out = {"joints": np.inf, "bones": np.inf, "phantom_side": np.inf, "shift": 0.0, "t": 0.0}
    for i in range(int(seconds * RATE)):
        core.step(i / RATE, 1 / RATE)
        a, b = core.intact.positions, core.phantom.positions
        d = float(np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min())
        if d < out["joints"]:
            out["joints"], out["t"] = d, i / RATE
        out["bones"] = min(out["bones"], _segment_gap(a, b))
        right = core.torso.sagittal_plane()[1]
        u = sign * (b - core.torso.pose[:3]) @ right
        out["phantom_side"] = min(out["phantom_side"], float(u.min()))
        out["shift"] = max(out["shift"], core.midline_shift_m)
    return out


@pytest.fixture(scope="module", autouse=True)
def _warm():
    warmup()


def test_keep_clear_kernel_moves_the_target_out_by_what_is_missing():
    torso = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    target = np.array([-0.10, 0.4, 0.9, 0.0, 0.0, 0.0, 1.0])
    # intact right limb reaching to 2 cm from the midline: the mirror image would be 2 cm
    # on the left; it must stay 6 cm out, so it moves 4 cm further left
    intact = np.array([[0.19, 0.0, 1.0], [0.02, 0.4, 0.9]])
    shift = keep_clear_kernel(intact, torso, -1.0, 0.06, target)
    assert shift == pytest.approx(0.04) and target[0] == pytest.approx(-0.14)
    # crossed 5 cm into the phantom's half: the phantom keeps 6 cm beyond it
    target[:3] = (0.05, 0.4, 0.9)
    intact[1, 0] = -0.05
    assert keep_clear_kernel(intact, torso, -1.0, 0.06, target) == pytest.approx(0.16)
    assert target[0] == pytest.approx(-0.11)
    # far from the midline nothing moves; clearance 0 is a pure mirror
    target[:3] = (-0.3, 0.4, 0.9)
    intact[1, 0] = 0.3
    assert keep_clear_kernel(intact, torso, -1.0, 0.06, target) == 0.0
    intact[1, 0] = -0.05
    assert keep_clear_kernel(intact, torso, -1.0, 0.0, target) == 0.0
    assert target[0] == -0.3 and target[6] == 1.0


@pytest.mark.parametrize("motion", [m for m in MOTIONS if m not in LEG_MOTIONS] + list(LEG_MOTIONS))
@pytest.mark.parametrize("intact", ["right", "left"])
def test_scripted_motions_keep_the_hands_apart_without_help(motion, intact):
    """The scripted patient never reaches into the clearance: the phantom is the pure mirror
    image and the limbs stay two clearances apart."""
    limb = "leg" if motion in LEG_MOTIONS else "arm"
    core = CorePipeline(_settings(limb, intact), ReplaySource(
        make_scripted_replay(motion, MOTIONS[motion], RATE, intact), time_origin=0.0))
    got = _run(core, MOTIONS[motion])
    assert got["shift"] == 0.0, got
    assert got["joints"] >= 2 * CLEARANCE and got["phantom_side"] >= CLEARANCE, got


@pytest.mark.parametrize("limb", ["arm", "leg"])
@pytest.mark.parametrize("intact", ["right", "left"])
def test_a_limb_crossing_the_midline_never_meets_the_phantom(limb, intact):
    replay = _crossing(limb, intact, 0.40 if limb == "arm" else 0.30)
    mirrored = _run(CorePipeline(_settings(limb, intact, 0.0),
                                 ReplaySource(replay, time_origin=0.0)), 6.0)
    assert mirrored["joints"] < 0.01          # a pure mirror passes through the intact limb
    kept = _run(CorePipeline(_settings(limb, intact), ReplaySource(replay, time_origin=0.0)),
                6.0)
    assert kept["shift"] > 0.2, kept          # the phantom made way
    # the closest joints are the thumb tips (5.4 cm with the relaxed open thumb)
    assert kept["joints"] >= 0.85 * CLEARANCE, kept
    assert kept["bones"] >= 0.8 * CLEARANCE, kept
    assert kept["phantom_side"] >= 0.5 * CLEARANCE, kept     # and stayed on its own side


def _masks(engine: Engine, display) -> tuple[np.ndarray, np.ndarray]:
    """The intact and the phantom limb's pixels in the patient's own view, each drawn alone
    (nothing else under ``render``, not even what an earlier test may have left there)."""
    others = [n for n in display.base.render.get_children()
              if n != engine.world and not n.is_hidden()]
    for node in others:
        node.hide()
    engine.room.root.hide()
    for rig in engine.seated.rigs:
        rig.root.hide()
    masks = []
    for show, hide in ((engine.intact_rig, engine.phantom_rig),
                       (engine.phantom_rig, engine.intact_rig)):
        show.root.show()
        hide.root.hide()
        masks.append(grab_rgba(display.base)[..., :3].max(axis=-1) > 8)
    engine.intact_rig.root.show()
    for node in others:
        node.show()
    return masks[0], masks[1]


def _closest_moment(replay: Replay, settings) -> float:
    core = CorePipeline(settings, ReplaySource(replay, time_origin=0.0))
    return _run(core, replay.duration)["t"]


@pytest.mark.parametrize("case", ["scripted_reach", "crossing"])
def test_rendered_limbs_never_overlap_at_the_crossing_moment(display, scene, tmp_path, case):
    replay = (make_scripted_replay("reach", MOTIONS["reach"], RATE, "right") if case ==
              "scripted_reach" else _crossing("arm", "right", 0.40))
    settings = _settings("arm", "right")
    t_cross = 2.4 if case == "crossing" else _closest_moment(replay, settings)
    engine = Engine(settings, ReplaySource(replay, time_origin=0.0), display)
    try:
        for i in range(int(round(t_cross * RATE)) + 1):
            engine.frame(i / RATE, 1 / RATE, render=False)
        intact, phantom = _masks(engine, display)
        save_png(np.stack([intact, phantom, 0 * intact, intact | phantom], -1)
                 .astype(np.uint8) * 255, tmp_path / f"midline-{case}.png")
        assert intact.sum() > 300 and phantom.sum() > 300
        assert not (intact & phantom).any(), "the limbs overlap on screen"
        # the phantom (left) is drawn entirely left of the intact limb in every row both use
        rows = np.flatnonzero(intact.any(axis=1) & phantom.any(axis=1))
        cols = np.arange(intact.shape[1])
        for r in rows:
            assert cols[phantom[r]].max() < cols[intact[r]].min()
    finally:
        engine.close()


def test_task_targets_stay_on_the_phantom_side():
    """Reach targets and floor discs keep their centres the given distance from the
    midline on the phantom's side (without the rule some come across)."""
    torso = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    shoulder = np.array([-0.19, 0.0, 0.95])
    args = (shoulder, torso, 0, 0.72, 0.6, 200, 0.05, 0.75)
    free = reach_targets(np.random.default_rng(1), *args)
    kept = reach_targets(np.random.default_rng(1), *args, min_lateral_m=0.155)
    assert (-free[:, 0]).min() < 0.155 <= (-kept[:, 0]).min()
    home = np.array([-0.0875, 0.62, 0.0])
    free = foot_targets(np.random.default_rng(1), home, torso, 0, 0.3, 200, 0.06, 0.5)
    kept = foot_targets(np.random.default_rng(1), home, torso, 0, 0.3, 200, 0.06, 0.5,
                        min_lateral_m=0.127)
    assert (-free[:, 0]).min() < 0.127 <= (-kept[:, 0]).min()


def test_bilateral_hands_never_cross(display, scene):
    """The bilateral scene's target pairs keep the two hands apart: a patient reaching for
    them needs no help from the core, and the limbs stay two clearances apart."""
    from mirror_patient import SeatedPatient
    from test_mirror_scenes import _reach_goal

    settings = load_settings(overrides={"patient.amputation_level": "transradial",
                                        "ui.instructions": False, "practice.mirror_trials": 0})
    bl = Bilateral(trials=4, dwell_s=0.2, distance=0.6)
    patient = SeatedPatient("arm")
    engine = Engine(settings, patient, display, scene=bl)
    patient.goal = _reach_goal(engine, bl, patient)
    core, closest, shift = engine.core, np.inf, 0.0
    try:
        for i in range(int(16 * RATE)):
            engine.frame(i / RATE, 1 / RATE, render=False)
            a, b = core.intact.positions, core.phantom.positions
            closest = min(closest, float(np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min()))
            shift = max(shift, core.midline_shift_m)
        trials = engine.events.of_kind("trial", "bilateral")
    finally:
        engine.close()
    assert len(trials) == 4 and all(ev.data["success"] for ev in trials)
    assert shift == 0.0 and closest >= 2 * CLEARANCE, (shift, closest)
