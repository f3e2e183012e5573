"""Patient input on the display clock: queue order, hysteresis, scripted input."""
import math

import pytest

from vrgmi.input import AxisToActions, ButtonToAction, InputEvent, InputQueue, ScriptedInput


def test_unknown_action_is_one_line_error():
    with pytest.raises(ValueError, match="unknown action 'jump'"):
        InputEvent("jump", 0.0)


def test_drain_returns_events_up_to_the_frame_time_in_time_order():
    q = InputQueue()
    q.push("right", 1.2)
    q.push("left", 1.0)
    q.push("select", 2.5)
    assert [e.action for e in q.drain(1.5)] == ["left", "right"]
    assert q.drain(1.5) == []
    assert [(e.action, e.t) for e in q.drain(3.0)] == [("select", 2.5)]


def test_axis_fires_once_per_push_and_rearms_after_release():
    q, axis = InputQueue(), AxisToActions("left", "right")
    for t, v in [(0.0, 0.0), (0.1, 0.7), (0.2, 1.0), (0.3, 0.5), (0.4, 0.2), (0.5, -0.9),
                 (0.6, math.nan)]:
        axis.update(v, t, q, "controller_right")
    assert [(e.action, e.t) for e in q.drain(1.0)] == [("right", 0.1), ("left", 0.5)]


def test_button_fires_on_press_only():
    q, trig = InputQueue(), ButtonToAction("left")
    for t, v in [(0.0, 0.1), (0.1, 0.9), (0.2, 1.0), (0.3, 0.5), (0.4, 0.1), (0.5, 0.8)]:
        trig.update(v, t, q, "controller_left")
    assert [e.t for e in q.drain(1.0)] == [0.1, 0.5]


def test_scripted_input_keeps_its_own_times():
    q, script = InputQueue(), ScriptedInput([(0.734, "left"), (0.2, "mark")])
    script.feed(q, 0.5)
    script.feed(q, 1.0)
    assert [(e.action, e.t, e.device) for e in q.drain(1.0)] == [
        ("mark", 0.2, "script"), ("left", 0.734, "script")]
