"""BIDS events from a scripted laterality session's log, written by ``vrgmi bids`` and
read back and checked with the BIDS library (pybids: layout, validator, schema)."""
from __future__ import annotations

import json

import pytest
from bids import BIDSLayout
from bids_validator import BIDSValidator
from bidsschematools import schema as bids_schema

from vrgmi.app import Engine
from vrgmi.cli import main
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.errors import VrgmiError
from vrgmi.events import read_events
from vrgmi.export.bids_events import COLUMNS, bids_label, events_table
from vrgmi.program import Program, SceneStep
from vrgmi.records import RecordSink, RecordsError, open_database
from vrgmi.records.session_events import stored_events
from vrgmi.research.markers import MarkerMaker
from vrgmi.scenes.breathing import Breathing, CalmView
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.ssq import SSQ
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

RATE = 90.0
REGISTRY = {c.name: c for c in (PainNRS, SSQ, Breathing, CalmView, LateralityScene)}


@pytest.fixture(scope="module")
def session_log(display, tmp_path_factory):
    """A scripted session: pre NRS, 6 laterality trials (one wrong, one missed), post NRS
    and SSQ; its events log (and, beside it, the records database it was stored in,
    records.db)."""
    out = tmp_path_factory.mktemp("session")
    settings = load_settings(None, ["ui.instructions=false", "practice.laterality_trials=0",
                                    "safety.ssq_baseline=false", "patient.id=p-07"])
    program = Program("p-07", phase="laterality", steps={"laterality": [SceneStep(
        "laterality", 1.0, {"block_length": 6, "blocks": 1, "feedback": False,
                            "iti_ms": 300, "iti_jitter_ms": 0, "adaptive": False,
                            "probe_trials": 0, "time_limit_ms": 1500})]})
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display)
    sink = RecordSink(open_database(f"sqlite:///{out / 'records.db'}"),
                      spill_path=out / "spill.jsonl")
    runner = SessionRunner(engine, program, out, CommandQueue(), StatusBoard(),
                           registry=REGISTRY, sinks=[sink])
    answered, k, trial = set(), 0, 0
    try:
        while runner.step(k / RATE, 1 / RATE, render=False):
            t = k / RATE
            assert t < 120.0
            scene = runner.scene
            if scene is not None and id(scene) not in answered:
                answered.add(id(scene))
                for action in {"pain_nrs": ["right", "select"], "laterality": ["select"],
                               "ssq": ["right", "select"] * 16}.get(scene.name, []):
                    engine.inputs.push(action, t, "script")
            task = getattr(getattr(scene, "inner", None), "task", None)
            if task is not None and task.phase == "stimulus" and task.onset not in answered:
                answered.add(task.onset)
                side = task.stimulus.side
                if trial != 4:                     # trial 4 is missed (times out)
                    wrong = "left" if side == "right" else "right"
                    engine.inputs.push(wrong if trial == 2 else side,
                                       task.onset + 0.4 + 0.1 * trial, "script")
                trial += 1
            k += 1
    finally:
        runner.close()
        engine.close()
        sink.close()
        sink.db.close()
    return runner.log_path


def test_vrgmi_bids_writes_a_dataset_pybids_reads_and_the_schema_accepts(session_log,
                                                                          tmp_path, capsys):
    root = tmp_path / "bids"
    assert main(["bids", str(session_log), "--out", str(root)]) == 0
    events = list(read_events(session_log))
    session = events[0]["session"]
    layout = BIDSLayout(root, validate=True)
    (tsv,) = layout.get(suffix="events", extension=".tsv")
    assert tsv.entities["subject"] == "p07" and tsv.entities["session"] == session
    assert tsv.entities["task"] == "gmi" and tsv.entities["datatype"] == "beh"
    validator = BIDSValidator()
    for path in (tsv.path, tsv.path.replace(".tsv", ".json"),
                 str(root / "dataset_description.json")):
        assert validator.is_bids("/" + str(root.joinpath(path).relative_to(root))), path
    meta = layout.get_metadata(tsv.path)
    table = tsv.get_df()
    # the schema's rules for events files: required and initial columns; the others are
    # BIDS columns of the right type or described in the sidecar
    schema = bids_schema.load_schema()
    rule = schema["rules"]["tabular_data"]["events"]["Events"]
    required = [c for c, level in rule["columns"].items() if level == "required"]
    assert list(table.columns[:len(rule["initial_columns"])]) == rule["initial_columns"]
    assert set(required) <= set(table.columns) and tuple(table.columns) == COLUMNS
    known = schema["objects"]["columns"]
    for column in table.columns:
        if column in known and known[column].get("type") == "number":
            assert table[column].dropna().map(lambda v: isinstance(v, (int, float))).all()
        assert column in meta and meta[column]["Description"], column
    # what the rows say
    trials = [e for e in events if e["kind"] == "trial"]
    t0 = events[0]["t"]
    rows = table[table.trial_type.str.startswith("laterality/")]
    assert len(rows) == len(trials) == 6
    for (_, row), e in zip(rows.iterrows(), trials):
        d = e["data"]
        assert row.onset == pytest.approx(d["onset_t"] - t0, abs=1e-6)
        assert row.duration == pytest.approx(e["t"] - d["onset_t"], abs=1e-6)
        if d["rt_ms"] is None:
            assert row.response_time != row.response_time          # n/a
        else:
            assert row.response_time == pytest.approx(d["rt_ms"] / 1000.0, abs=1e-6)
        assert row.correct == int(d["correct"])
        assert (row.response if isinstance(row.response, str) else None) == d["answer"]
        assert row.trial_type in meta["trial_type"]["Levels"]
    assert rows.correct.tolist().count(0) == 2                 # the wrong and the missed one
    # the condition codes are the LSL markers' codes for the same trials
    maker = MarkerMaker()
    codes = [json.loads(maker.markers(_as_event(e))[-1][1])["code"] for e in trials]
    assert rows.value.tolist() == codes
    assert {str(c) for c in codes} <= set(meta["value"]["Levels"])
    kinds = set(table.trial_type)
    assert {"block/pain_nrs", "block/laterality", "block/ssq",
            "questionnaire/nrs/pre", "questionnaire/nrs/post", "questionnaire/ssq/post"} <= kinds
    assert list(table.onset) == sorted(table.onset)
    assert "wrote" in capsys.readouterr().out


def test_vrgmi_bids_from_the_records_writes_the_logs_dataset(session_log, tmp_path):
    """``vrgmi bids --patient --session`` reads the stored events (vrgmi.records) and
    writes the same files as from the session's log; pybids reads and validates them."""
    url = f"sqlite:///{session_log.parent / 'records.db'}"
    session = next(iter(read_events(session_log)))["session"]
    from_log, from_db = tmp_path / "log", tmp_path / "db"
    assert main(["bids", str(session_log), "--out", str(from_log)]) == 0
    assert main(["bids", "--patient", "p-07", "--session", session, "--database", url,
                 "--out", str(from_db)]) == 0
    files = sorted(p.relative_to(from_log) for p in from_log.rglob("*") if p.is_file())
    assert len(files) == 3
    for name in files:
        assert (from_db / name).read_text() == (from_log / name).read_text(), name
    layout = BIDSLayout(from_db, validate=True)
    (tsv,) = layout.get(suffix="events", extension=".tsv", subject="p07", session=session)
    assert BIDSValidator().is_bids("/" + str(tsv.relpath))
    assert len(tsv.get_df()) == len(events_table(read_events(session_log))[0])
    # every session of the patient when --session is left out; one-line errors
    assert main(["bids", "--patient", "p-07", "--database", url, "--out",
                 str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / files[-1]).read_text() == (from_log / files[-1]).read_text()
    db = open_database(url)
    try:
        with pytest.raises(RecordsError, match="no session 'nope' of patient 'p-07'"):
            stored_events(db, "p-07", "nope")
    finally:
        db.close()
    assert main(["bids", "--session", session, "--database", url]) == 2
    assert main(["bids", "--patient", "p-99", "--database", url]) == 2


def _as_event(d):
    from vrgmi.events import Event
    return Event(d["kind"], d["t"], d["data"], d["scene"], d["session"])


def test_bids_errors_are_one_line(tmp_path):
    with pytest.raises(VrgmiError, match="no session_started"):
        events_table([])
    with pytest.raises(VrgmiError, match="no letters or digits"):
        bids_label("-_-")
    assert main(["bids", str(tmp_path / "missing.jsonl")]) == 2
