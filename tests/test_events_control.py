"""Events leave the frame loop intact; commands are checked; the status board hands out copies."""
import json
import threading

import pytest

from vrgmi.control import Command, CommandError, CommandQueue, EngineStatus, StatusBoard
from vrgmi.events import Event, EventBus, JsonlEventLog, read_events
from vrgmi.scenes.schema import Difficulty, Param, SceneParamError


def test_jsonl_log_writes_every_event_as_one_line(tmp_path):
    path = tmp_path / "events.jsonl"
    log = JsonlEventLog(path)
    bus = EventBus("s1", [log])
    for i in range(50):
        bus.emit("trial", i / 90, {"index": i, "rt_ms": float("nan") if i == 3 else 500.0 + i},
                 "laterality")
    bus.close()
    rows = list(read_events(path))
    assert [r["data"]["index"] for r in rows] == list(range(50))
    assert rows[3]["data"]["rt_ms"] is None
    assert rows[0]["session"] == "s1" and rows[0]["scene"] == "laterality"
    assert len(bus.of_kind("trial", "laterality")) == 50


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(Event("trial", 1.0, {"index": 0}).to_json() + "\n" + '{"kind": "tri')
    assert [r["data"] for r in read_events(path)] == [{"index": 0}]


def test_unknown_event_kind_rejected():
    with pytest.raises(ValueError, match="unknown kind"):
        Event("nope", 0.0, {})


def test_commands_checked_and_drained_in_order_across_threads():
    with pytest.raises(CommandError, match="unknown command 'explode'"):
        Command("explode")
    with pytest.raises(CommandError, match="unexpected argument"):
        Command("pause", {"now": True})
    q = CommandQueue()
    threads = [threading.Thread(target=q.put, args=(Command("set_param", {"name": "n",
                                                                           "value": i}),))
               for i in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(c.args["value"] for c in q.drain()) == list(range(20))
    assert q.drain() == []


def test_status_board_gives_copies_and_wakes_waiters():
    board = StatusBoard()
    seq, first = board.status()
    woke = []
    th = threading.Thread(target=lambda: woke.append(board.wait(seq, 5.0)))
    th.start()
    board.publish(EngineStatus(scene="laterality", params={"exposure_ms": 2000}))
    th.join()
    assert woke == [True]
    _, status = board.status()
    status["params"]["exposure_ms"] = 1
    assert board.status()[1]["params"]["exposure_ms"] == 2000
    json.dumps(status)


def test_difficulty_schema_enforces_types_and_bounds():
    schema = (Param("exposure_ms", "int", 2000, "how long the stimulus shows", 200, 10000, unit="ms"),
              Param("feedback", "bool", True, "show right/wrong"),
              Param("limb", "choice", "hand", "what is shown", choices=("hand", "foot")),
              Param("gain", "float", 1.0, "mirror gain", 0.5, 2.0))
    d = Difficulty(schema, {"exposure_ms": 1500.0}, "laterality")
    assert d["exposure_ms"] == 1500 and isinstance(d["exposure_ms"], int)
    assert d.set("feedback", "false") is True and d["feedback"] is False
    for name, bad, msg in [("exposure_ms", 50, "out of range 200..10000 ms"),
                           ("exposure_ms", 1.5e3 + 0.5, "whole number"),
                           ("exposure_ms", True, "must be a number"),
                           ("gain", float("nan"), "must be a finite number"),
                           ("limb", "tail", "not one of hand, foot"),
                           ("nothing", 1, "no difficulty setting 'nothing'")]:
        with pytest.raises(SceneParamError, match=msg):
            d.set(name, bad)
    assert schema[0].describe() == {"name": "exposure_ms", "kind": "int", "default": 2000,
                                    "help": "how long the stimulus shows", "lo": 200,
                                    "hi": 10000, "unit": "ms"}
