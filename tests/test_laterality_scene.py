"""The laterality scene in the engine on the headless display: scripted answers, RT from
display time, timeouts, anticipations, feedback, events, exposure, and rendered pixels."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vrgmi.app import PATIENT_VFOV_DEG, Engine
from vrgmi.laterality.stimuli import Stimulus
from vrgmi.render.display import grab_rgba
from vrgmi.render.skin import StumpBlend, set_stump
from vrgmi.render.ui import line_height_for
from vrgmi.scenes.laterality import (BACKDROP_BEHIND_M, HINT_DEG, QUESTION_DEG,
                                     STIMULUS_DISTANCE_M, STIMULUS_SPAN_DEG, TEXT_LINE_DEG,
                                     LateralityScene)
from vrgmi.scenes.schema import SceneParamError
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

RATE = 90.0
#: these tests measure the scored trials: no instruction screen, no practice block
SCORED_ONLY = ["ui.instructions=false", "practice.laterality_trials=0"]


def _engine(display, settings=None, **params):
    params = {"block_length": 4, "blocks": 1, "feedback": False, "iti_ms": 500,
              "iti_jitter_ms": 0, "adaptive": False, "probe_trials": 0, **params}
    scene = LateralityScene(**params)
    engine = Engine(settings or load_settings(None, SCORED_ONLY),
                    ScriptedSource("rest", intact_side="right"), display, scene=scene)
    return engine, scene


def _frames(engine, start, count):
    for i in range(start, start + count):
        engine.frame(i / RATE, 1.0 / RATE)
    return start + count


def _until_stimulus(engine, scene, i, limit=400):
    for _ in range(limit):
        if scene.task.phase == "stimulus":
            return i
        i = _frames(engine, i, 1)
    raise AssertionError(f"no stimulus (phase {scene.task.phase})")


def test_scripted_block_records_rt_from_the_onset_frame(display):
    engine, scene = _engine(display)
    try:
        engine.inputs.push("select", 0.005, "script")
        i = _frames(engine, 0, 2)
        answers = []
        for k in range(4):
            i = _until_stimulus(engine, scene, i)
            onset = (i - 1) / RATE                 # the frame that first drew it
            assert scene.task.onset == pytest.approx(onset)
            side = scene.task.stimulus.side
            answer = side if k != 2 else ("left" if side == "right" else "right")
            engine.inputs.push(answer, onset + 0.734, "script")
            answers.append(answer)
            i = _frames(engine, i, int(0.9 * RATE))
        trials = [e.data for e in engine.events.of_kind("trial", "laterality")]
        assert len(trials) == 4
        for record in trials:
            assert record["rt_ms"] == pytest.approx(734.0, abs=1e-6)
            assert set(record) == set(LateralityScene.trial_fields)
        assert [r["correct"] for r in trials] == [True, True, False, True]
        assert [r["answer"] for r in trials] == answers
        (block,) = engine.events.of_kind("block_finished")
        assert block.data["block"] == 0 and block.data["accuracy"] == 0.75
        assert block.data["rt_mean_ms"] == pytest.approx(734.0)
        assert block.data["norms"]["rt"] == "faster"
        assert block.data["affected_side"] == "left"          # the default amputation side
        assert scene.finished
        summary = scene.summary()
        assert summary["trials"] == 4 and summary["all"]["accuracy"] == 0.75
    finally:
        engine.close()
    finished = engine.events.of_kind("scene_finished")[-1]
    assert finished.data["reason"] == "completed"
    assert finished.data["summary"]["trials"] == 4


def test_timeouts_anticipations_and_feedback(display):
    engine, scene = _engine(display, feedback=True, time_limit_ms=1000)
    try:
        engine.inputs.push("select", 0.005, "script")
        i = _frames(engine, 0, 2)
        engine.inputs.push("left", 0.2, "script")            # during the fixation
        i = _until_stimulus(engine, scene, i)
        i = _frames(engine, i, int(1.1 * RATE))              # no answer: timeout
        (trial,) = [e.data for e in engine.events.of_kind("trial")]
        assert trial["timeout"] and not trial["correct"] and trial["rt_ms"] is None
        assert trial["anticipations"] == 1
        assert scene.task.phase == "feedback" and scene.task.feedback == "timeout"
        assert scene._view.cross.is_hidden() is False and scene._view.tick.is_hidden()
        i = _until_stimulus(engine, scene, i)
        engine.inputs.push(scene.task.stimulus.side, (i - 1) / RATE + 0.4, "script")
        i = _frames(engine, i, int(0.5 * RATE))
        assert scene.task.feedback == "correct"
        assert not scene._view.tick.is_hidden() and scene._view.cross.is_hidden()
    finally:
        engine.close()


def test_the_patients_own_limbs_are_hidden_during_the_game(display):
    engine, scene = _engine(display)
    try:
        _frames(engine, 0, 3)
        assert engine.intact_rig.root.is_hidden() and engine.phantom_rig.root.is_hidden()
        engine.set_scene(LateralityScene())
        _frames(engine, 3, 2)
        from vrgmi.scenes.free_mirror import FreeMirror
        engine.set_scene(FreeMirror())
        assert not engine.intact_rig.root.is_hidden()
    finally:
        engine.close()


def test_limb_follows_the_amputation_and_settings_are_checked(display):
    legs = load_settings(None, ["patient.amputation_level=transtibial", *SCORED_ONLY])
    engine, scene = _engine(display, settings=legs)
    try:
        assert scene.task.config.limbs == ("foot",)
        assert set(scene._view.rigs) == {("foot", "left"), ("foot", "right")}
        scene.set_param("blocks", 2)
        assert scene.task.config.blocks == 2
        changed = engine.events.of_kind("param_changed")[-1]
        assert changed.data == {"name": "blocks", "old": 1, "new": 2, "by": "therapist"}
    finally:
        engine.close()
    with pytest.raises(SceneParamError) as err:
        LateralityScene(rotation_max_deg=270)
    assert "\n" not in str(err.value)
    assert LateralityScene(limb="both").difficulty["limb"] == "both"


def _show(engine, scene, i, stimulus):
    """Force ``stimulus`` into the next trial and render until it is on screen; returns
    the frame index and the pictures of the last frame before it and of its first frame."""
    scene.task.stimulus = stimulus
    before = None
    for _ in range(400):
        if scene.task.phase == "stimulus":
            break
        before = grab_rgba(engine.display.base)[..., :3].astype(int)
        i = _frames(engine, i, 1)
    assert scene.task.stimulus == stimulus and scene.task.phase == "stimulus"
    return i, before, grab_rgba(engine.display.base)[..., :3].astype(int)


def _iou(a, b):
    """Intersection over union of two masks after shifting ``a``'s centroid onto ``b``'s."""
    shift = np.round(np.argwhere(b).mean(axis=0) - np.argwhere(a).mean(axis=0)).astype(int)
    a = np.roll(a, tuple(shift), axis=(0, 1))
    return (a & b).sum() / (a | b).sum()


def _mask(image, backdrop):
    return np.abs(image - backdrop).sum(axis=2) > 40


def test_stimulus_is_drawn_and_left_right_are_mirror_images(display):
    engine, scene = _engine(display, block_length=8)
    try:
        engine.inputs.push("select", 0.005, "script")
        i = _frames(engine, 0, 2)
        fixation = grab_rgba(engine.display.base)[..., :3].astype(int)
        h, w = fixation.shape[:2]
        backdrop = fixation[h // 2 - 30, w // 2 - 30]       # beside the fixation cross
        masks = {}
        for side in ("right", "left"):
            i, _, image = _show(engine, scene, i, Stimulus("hand", side, "open", "back"))
            # the stimulus is centred on the gaze: compare the middle 80 x 80 pixels
            mask = _mask(image, backdrop)[h // 2 - 40:h // 2 + 40, w // 2 - 40:w // 2 + 40]
            assert mask.mean() > 0.08, f"{side} hand not visible in the centre"
            assert mask[20:60, 20:60].mean() > 0.25
            masks[side] = mask
            engine.inputs.push(side, (i - 1) / RATE + 0.3, "script")
            i = _frames(engine, i, int(0.4 * RATE))
        # the scripted head sways a few mm between the two pictures: align the silhouettes'
        # centroids before comparing them
        iou = _iou(masks["left"][:, ::-1], masks["right"])
        assert iou > 0.85
        # the thumb side differs: the unflipped silhouettes are not the same picture
        assert _iou(masks["left"], masks["right"]) < iou - 0.1
    finally:
        engine.close()


def test_exposure_hides_the_stimulus(display):
    engine, scene = _engine(display, exposure_ms=200, block_length=4)
    try:
        engine.inputs.push("select", 0.005, "script")
        i = _frames(engine, 0, 2)
        i, fixation, shown = _show(engine, scene, i, Stimulus("hand", "right", "fist", "palm"))
        onset = scene.task.onset
        i = _frames(engine, i, int(0.25 * RATE))
        assert scene.task.phase == "response"
        hidden = grab_rgba(engine.display.base)[..., :3].astype(int)
        h, w = hidden.shape[:2]
        box = (slice(h // 2 - 22, h // 2 + 22), slice(w // 2 - 22, w // 2 + 22))
        backdrop = fixation[h // 2 - 20, w // 2 - 20]
        # the stimulus covered a few hundred pixels of backdrop; once hidden, the backdrop is
        # back there (the head sways a few mm, so an edge may move by a pixel: allow 3 %)
        stimulus_pixels = _mask(shown[box], backdrop) & ~_mask(fixation[box], backdrop)
        assert stimulus_pixels.sum() > 150
        assert _mask(hidden[box], backdrop)[stimulus_pixels].mean() < 0.03
        engine.inputs.push("right", onset + 0.6, "script")
        _frames(engine, i, int(0.5 * RATE))
        (trial,) = [e.data for e in engine.events.of_kind("trial")]
        assert trial["correct"] and trial["rt_ms"] == pytest.approx(600.0)
        assert trial["exposure_ms"] == 200.0
    finally:
        engine.close()


def _skin(image):
    """Skin pixels on the card (+-24 deg around the view's centre): red well above blue
    (the slate card, the off-white text and the fixation cross are neutral or bluish)."""
    h, w = image.shape[:2]
    f = h / 2.0 / math.tan(math.radians(PATIENT_VFOV_DEG) / 2.0)
    half = int(f * math.tan(math.radians(24.0)))
    card = np.zeros((h, w), dtype=bool)
    card[h // 2 - half:h // 2 + half, w // 2 - half:w // 2 + half] = True
    return card & (image[..., 0] - image[..., 2] > 30)


def _span_deg(mask):
    """The vertical visual angle (deg) of ``mask``'s bounding box on the test display, whose
    vertical field of view is PATIENT_VFOV_DEG (focal length h / 2 / tan(fov / 2) pixels)."""
    h = mask.shape[0]
    f = h / 2.0 / math.tan(math.radians(PATIENT_VFOV_DEG) / 2.0)
    rows = np.flatnonzero(mask.any(axis=1))
    top, bottom = (h / 2.0 - rows[0]), (rows[-1] + 1 - h / 2.0)
    return math.degrees(math.atan(top / f) + math.atan(bottom / f))


@pytest.mark.parametrize("limb, stimulus", [
    ("hand", Stimulus("hand", "right", "open", "back")),
    ("foot", Stimulus("foot", "left", "neutral", "top"))])
def test_stimulus_spans_the_chosen_visual_angle(display, limb, stimulus):
    settings = None if limb == "hand" else load_settings(
        None, ["patient.amputation_level=transtibial", *SCORED_ONLY])
    engine, scene = _engine(display, settings)
    try:
        engine.inputs.push("select", 0.005, "script")
        i = _frames(engine, 0, 2)
        _, _, image = _show(engine, scene, i, stimulus)
        if limb == "foot":
            # the framed part: a foot's long shin runs out of the picture, fading (see
            # tests/test_stimulus_framing.py); drawn here only to the framed stub
            rig = scene._view.rigs[(limb, stimulus.side)]
            set_stump(rig.rig.character, StumpBlend(distance=rig.framed_from, width=0.0,
                                                    residual_alpha=0.0))
            rig.rig.model.set_two_sided(True)
            image = grab_rgba(engine.display.base)[..., :3].astype(int)
        span = _span_deg(_skin(image))
        assert 25.0 <= span <= 35.0, f"the upright {limb} spans {span:.1f} deg"
        assert abs(span - STIMULUS_SPAN_DEG) < 3.0
        # centred on the card: the skin's bounding box is around the middle of the view
        rows, cols = np.nonzero(_skin(image))
        h, w = image.shape[:2]
        assert abs((rows.min() + rows.max()) / 2 - h / 2) < 0.06 * h
        assert abs((cols.min() + cols.max()) / 2 - w / 2) < 0.06 * w
    finally:
        engine.close()


def _text_rows(image, deg):
    """Near-white (text) pixels in a band of rows around ``deg`` above the view's centre."""
    h, w = image.shape[:2]
    f = h / 2.0 / math.tan(math.radians(PATIENT_VFOV_DEG) / 2.0)
    row = int(round(h / 2.0 - f * math.tan(math.radians(deg))))
    half = int(f * math.tan(math.radians(20.0)))          # inside the card (+-25 deg)
    band = image[row - 8:row + 8, w // 2 - half:w // 2 + half]
    return (band.min(axis=2) > 170).sum()


def test_question_and_answer_hint_show_during_a_trial_only(display):
    engine, scene = _engine(display, exposure_ms=200, feedback=True)
    try:
        engine.inputs.push("select", 0.005, "script")
        i = _frames(engine, 0, 2)
        i, fixation, shown = _show(engine, scene, i, Stimulus("hand", "left", "fist", "back"))
        view = scene._view
        assert _text_rows(fixation, QUESTION_DEG) == 0 and _text_rows(fixation, HINT_DEG) == 0
        assert _text_rows(shown, QUESTION_DEG) > 15, "no question above the stimulus"
        assert _text_rows(shown, HINT_DEG) > 15, "no left / right hint below the stimulus"
        assert not view.question.is_hidden()
        i = _frames(engine, i, int(0.25 * RATE))        # exposure over: still answering
        assert scene.task.phase == "response" and not view.question.is_hidden()
        engine.inputs.push("left", (i - 1) / RATE, "script")
        i = _frames(engine, i, 2)
        assert scene.task.phase == "feedback" and view.question.is_hidden()
        assert not view.tick.is_hidden()
        # readable: each line subtends at least 1.5 deg (TEXT_LINE_DEG at the card)
        assert TEXT_LINE_DEG >= 1.5
        assert view.question_line_m == pytest.approx(
            line_height_for(STIMULUS_DISTANCE_M + BACKDROP_BEHIND_M, TEXT_LINE_DEG))
    finally:
        engine.close()
