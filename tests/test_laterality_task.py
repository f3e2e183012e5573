"""The laterality trial state machine on the display clock (no rendering)."""
from __future__ import annotations

import pytest

from vrgmi.input import InputEvent
from vrgmi.laterality.staircase import STEP_UP
from vrgmi.laterality.task import MIN_REST_S, LateralityTask, TaskConfig, TaskError


def _task(**kw):
    cfg = dict(block_length=4, blocks=2, feedback=False, iti_ms=1000.0, iti_jitter_ms=0.0,
               adaptive=False, rotation_max_deg=90.0)
    cfg.update(kw)
    trials, blocks = [], []
    task = LateralityTask(TaskConfig(**cfg), trials.append,
                          lambda b, f: blocks.append((b, f)))
    return task, trials, blocks


def _run(task, until, step=0.1):
    """Frames every ``step`` s up to ``until`` (exclusive), no input."""
    t = task._last_t
    while t + step < until - 1e-9:
        t = round(t + step, 6)
        task.update(t, [])


def _start(task):
    task.update(0.0, [InputEvent("select", 0.0, "script")])   # fixation until t = 1.0
    assert task.phase == "fixation"
    task.update(0.5, [])
    task.update(1.0, [])                                       # first frame showing it
    assert task.phase == "stimulus" and task.onset == 1.0


def test_rt_is_measured_from_the_display_time_of_the_onset_frame():
    task, trials, _ = _task()
    _start(task)
    side = task.stimulus.side
    _run(task, 1.8)
    # the answer happened at 1.734; the code learns of it in the frame at 2.0
    task.update(2.0, [InputEvent(side, 1.734, "script")])
    (record,) = trials
    assert record["onset_t"] == 1.0 and record["response_t"] == 1.734
    assert record["rt_ms"] == pytest.approx(734.0)
    assert record["correct"] and not record["timeout"] and record["answer"] == side
    assert task.phase == "fixation"                            # feedback off: next trial


def test_anticipations_are_counted_and_ignored():
    task, trials, _ = _task()
    task.update(0.0, [InputEvent("select", 0.0)])
    task.update(0.9, [InputEvent("left", 0.8)])                # during the fixation
    task.update(1.0, [InputEvent("right", 0.95)])              # before the onset frame
    assert task.phase == "stimulus" and not trials
    task.update(1.1, [InputEvent("left", 1.0)])                # exactly at the onset
    assert not trials and task.anticipations == 3
    wrong = "left" if task.stimulus.side == "right" else "right"
    task.update(1.6, [InputEvent(wrong, 1.55)])
    assert trials[0]["anticipations"] == 3 and trials[0]["rt_ms"] == pytest.approx(550.0)
    assert not trials[0]["correct"]


def test_no_answer_within_the_limit_is_a_timeout_and_a_miss():
    task, trials, _ = _task(time_limit_ms=2000.0)
    _start(task)
    _run(task, 3.0)
    task.update(2.99, [])
    assert not trials
    task.update(3.0, [])
    (record,) = trials
    assert record["timeout"] and not record["correct"]
    assert record["rt_ms"] is None and record["answer"] is None


def test_an_answer_inside_the_limit_counts_even_when_its_frame_comes_later():
    task, trials, _ = _task(time_limit_ms=2000.0)
    _start(task)
    _run(task, 3.0)
    task.update(3.0, [InputEvent("left", 2.95)])
    assert not trials[0]["timeout"] and trials[0]["rt_ms"] == pytest.approx(1950.0)


def test_exposure_hides_the_stimulus_but_the_answer_is_still_taken():
    task, trials, _ = _task(exposure_ms=300.0)
    _start(task)
    task.update(1.29, [])
    assert task.stimulus_visible
    task.update(1.3, [])
    assert task.phase == "response" and not task.stimulus_visible
    _run(task, 2.01)
    task.update(2.01, [InputEvent(task.stimulus.side, 2.0)])
    assert trials[0]["correct"] and trials[0]["rt_ms"] == pytest.approx(1000.0)
    assert trials[0]["exposure_ms"] == 300.0


def test_feedback_follows_the_answer_for_its_duration():
    task, trials, _ = _task(feedback=True, feedback_ms=700.0)
    _start(task)
    task.update(1.5, [InputEvent(task.stimulus.side, 1.45)])
    assert task.phase == "feedback" and task.feedback == "correct"
    task.update(2.19, [])
    assert task.phase == "feedback"
    task.update(2.2, [])                                       # 1.5 + 0.7
    assert task.phase == "fixation" and task.feedback is None
    _run(task, 3.2)
    task.update(3.2, [])                                       # the next stimulus
    _run(task, 8.2)
    task.update(8.2, [])                                       # timeout
    assert task.feedback == "timeout"


def test_blocks_rest_and_finish():
    task, trials, blocks = _task()
    t = 0.0
    task.update(t, [InputEvent("select", t)])
    for block in range(2):
        for _ in range(4):
            while task.phase != "stimulus":
                t += 0.25
                task.update(t, [])
            t += 0.5
            task.update(t, [InputEvent(task.stimulus.side, t - 0.1)])
        assert len(blocks) == block + 1 and blocks[-1][0] == block
        assert blocks[-1][1]["n"] == 4 and blocks[-1][1]["accuracy"] == 1.0
        if block == 0:
            assert task.phase == "rest"
            task.update(t + 0.1, [InputEvent("left", t + 0.05)])   # too soon: ignored
            assert task.phase == "rest"
            t += MIN_REST_S + 0.2
            task.update(t, [InputEvent("right", t)])
            assert task.phase == "fixation" and task.block == 1
    assert task.finished and len(trials) == 8
    assert [r["block"] for r in trials] == [0] * 4 + [1] * 4
    summary = task.summary()
    assert summary["trials"] == 8 and summary["all"]["accuracy"] == 1.0
    assert sides_balanced(trials)


def sides_balanced(trials):
    for block in (0, 1):
        sides = [r["side"] for r in trials if r["block"] == block]
        if sides.count("left") != 2:
            return False
    return True


def test_a_pause_during_a_trial_voids_it_and_repeats_the_stimulus():
    task, trials, _ = _task()
    _start(task)
    stimulus = task.stimulus
    task.update(4.0, [InputEvent(stimulus.side, 3.9)])        # 3 s without frames
    assert not trials and task.voided == 1 and task.phase == "fixation"
    assert task.stimulus == stimulus
    task.update(5.0, [])
    task.update(5.5, [InputEvent(stimulus.side, 5.4)])
    assert trials[0]["rt_ms"] == pytest.approx(400.0)


def test_adaptive_staircase_sets_the_next_trials_range():
    task, trials, _ = _task(adaptive=True, rotation_max_deg=180.0, angle_step_deg=30.0)
    _start(task)
    assert task.rotation_max_deg == 30.0 and task.level == 0.0
    task.update(1.5, [InputEvent(task.stimulus.side, 1.4)])
    assert task.level == pytest.approx(STEP_UP)
    assert task.rotation_max_deg == pytest.approx(30.0 + STEP_UP / 0.5 * 150.0)
    assert trials[0]["level"] == 0.0 and trials[0]["rotation_max_deg"] == 30.0


def test_bad_config_is_a_one_line_error():
    for kwargs in ({"limbs": ("arm",)}, {"block_length": 0}, {"iti_jitter_ms": 2000.0},
                   {"exposure_ms": 9000.0}):
        with pytest.raises(TaskError) as err:
            TaskConfig(**kwargs)
        assert "\n" not in str(err.value)


def _answer_all(task, rt=0.4):
    """Answer every stimulus rightly after ``rt`` s and start every block, until the task is
    done."""
    t = 0.0
    task.update(t, [InputEvent("select", t)])
    while not task.finished:
        if task.phase in ("intro", "rest"):
            t = max(t, task._until) + 0.01
            task.update(t, [InputEvent("select", t)])
        elif task.phase == "stimulus":
            t = task.onset + rt
            task.update(t, [InputEvent(task.stimulus.side, t)])
        else:
            t = max(t + 0.01, task._until)
            task.update(t, [])


def test_the_probe_opens_the_session_at_the_fixed_reference_difficulty():
    task, trials, blocks = _task(probe_trials=24, block_length=6, blocks=2, adaptive=True,
                                 feedback=True, seed=11)
    feedback_seen = []
    original = task._finish_trial

    def spy(t, answer):
        original(t, answer)
        feedback_seen.append((trials[-1]["probe"], task.phase == "feedback"))

    task._finish_trial = spy
    _answer_all(task)
    probe = [r for r in trials if r["probe"]]
    assert len(probe) == 24 and all(r["block"] == 0 for r in probe)
    assert [r["block"] for r in trials[24:]] == [1] * 6 + [2] * 6
    # balanced: each side 12, every (side, view, angle) of the reference set once
    design = {(r["side"], r["view"], r["angles"][0]) for r in probe}
    assert len(design) == 24 and {r["posture"] for r in probe} == {"open"}
    assert {r["angles"][0] for r in probe} == {0.0, 60.0, -60.0, 120.0, -120.0, 180.0}
    assert all(r["exposure_ms"] == 0.0 and r["time_limit_ms"] == 5000.0 for r in probe)
    # no staircase and no feedback during the probe; both in the training blocks
    assert {r["level"] for r in probe} == {0.0} and trials[-1]["level"] > 0.0
    assert not any(fb for is_probe, fb in feedback_seen if is_probe)
    assert all(fb for is_probe, fb in feedback_seen if not is_probe)
    assert [b for b, _ in blocks] == [0, 1, 2]
    summary = task.summary()
    assert summary["probe"]["n"] == 24 and summary["probe"]["norms"]["meets"]


def test_the_probe_order_follows_the_seed():
    orders = []
    for seed in (1, 1, 2):
        task, trials, _ = _task(probe_trials=24, blocks=1, seed=seed)
        _answer_all(task)
        orders.append([(r["side"], r["view"], r["angles"][0]) for r in trials if r["probe"]])
    assert orders[0] == orders[1] and orders[0] != orders[2]
    assert sorted(orders[0]) == sorted(orders[2])            # the same set, reshuffled


def test_a_probe_must_balance_left_and_right():
    with pytest.raises(TaskError, match="even number"):
        TaskConfig(probe_trials=23)
