"""The patient's own controls: the menu hold (recentre at 1.0 s, stop at 2.5 s), the stop
key, and the button edges they are built from (no rendering)."""
from __future__ import annotations

import pytest

from vrgmi.control import CommandQueue
from vrgmi.input import ButtonToAction, InputQueue
from vrgmi.patient_controls import MenuHold, PatientControls
from vrgmi.settings import SafetySettings, load_settings


def _run(controls, inputs, until, dt=1 / 90):
    """Step the controls frame by frame to ``until``; every command sent, with its frame."""
    sent, t = [], 0.0
    while t <= until:
        controls.step(inputs, t)
        sent += [(round(t, 3), c) for c in controls.commands.drain()]
        t += dt
    return sent


def test_menu_hold_recentres_at_one_second_then_stops_at_two_and_a_half():
    inputs, queue = InputQueue(), CommandQueue()
    controls = PatientControls(SafetySettings(), queue)
    inputs.push("menu", 0.5, "controller_left")
    inputs.push("menu_release", 3.5, "controller_left")
    sent = _run(controls, inputs, 4.0)
    assert [(c.name, c.args, c.by) for _, c in sent] == [
        ("recenter", {"source": "menu_hold"}, "patient"),
        ("patient_stop", {"source": "menu_hold"}, "patient")]
    (t_recenter, _), (t_stop, _) = sent
    assert t_recenter == pytest.approx(1.5, abs=0.012)       # 1.0 s after the press
    assert t_stop == pytest.approx(3.0, abs=0.012)           # 2.5 s after the press
    assert not [e for e in inputs.drain(10.0) if e.action in ("menu", "menu_release")]


def test_a_short_press_does_nothing_and_a_medium_one_only_recentres():
    inputs, queue = InputQueue(), CommandQueue()
    controls = PatientControls(SafetySettings(), queue)
    inputs.push("menu", 0.1)
    inputs.push("menu_release", 0.7)              # 0.6 s: a brush of the button
    inputs.push("menu", 1.0)
    inputs.push("menu_release", 2.8)              # 1.8 s: recentre, not stop
    sent = _run(controls, inputs, 6.0)
    assert [c.name for _, c in sent] == ["recenter"]
    assert controls.notice(6.0) is None


def test_the_hold_thresholds_come_from_the_settings():
    safety = load_settings(None, {"safety.recenter_hold_s": "0.5",
                                  "safety.stop_hold_s": "1.5"}).safety
    inputs, queue = InputQueue(), CommandQueue()
    controls = PatientControls(safety, queue)
    inputs.push("menu", 0.0)
    sent = _run(controls, inputs, 2.0)
    assert [(round(t, 1), c.name) for t, c in sent] == [(0.5, "recenter"),
                                                       (1.5, "patient_stop")]


def test_the_notice_shows_the_hold_progress():
    inputs, queue = InputQueue(), CommandQueue()
    controls = PatientControls(SafetySettings(), queue)
    inputs.push("menu", 0.0)
    controls.step(inputs, 0.1)
    assert controls.notice(0.1) is None                       # too brief to show
    controls.step(inputs, 0.5)
    text, progress = controls.notice(0.5)
    assert "recentre" in text.lower() and progress == pytest.approx(0.2)
    controls.step(inputs, 1.2)
    text, progress = controls.notice(1.2)
    assert text == "Recentred - keep holding to stop" and progress == pytest.approx(0.48)


def test_the_stop_key_stops_at_once_and_only_once():
    inputs, queue = InputQueue(), CommandQueue()
    controls = PatientControls(SafetySettings(), queue)
    inputs.push("pause", 0.2)
    inputs.push("pause", 0.3)
    inputs.push("select", 0.2)                    # the scene's answer stays in the queue
    sent = _run(controls, inputs, 1.0)
    assert [(c.name, c.args) for _, c in sent] == [("patient_stop", {"source": "key"})]
    assert [e.action for e in inputs.drain(1.0)] == ["select"]


def test_button_edges_give_press_and_release_actions():
    queue = InputQueue()
    menu = ButtonToAction("menu", release_action="menu_release")
    for t, v in ((0.0, 0.0), (0.1, 1.0), (0.2, 1.0), (1.4, 0.0), (1.5, 0.0)):
        menu.update(v, t, queue, "controller_left")
    assert [(e.action, e.t) for e in queue.drain(2.0)] == [("menu", 0.1), ("menu_release", 1.4)]


def test_menu_hold_rejects_thresholds_out_of_order():
    with pytest.raises(ValueError):
        MenuHold(2.0, 1.0)
