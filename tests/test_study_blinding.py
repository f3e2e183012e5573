"""Study conditions and phantom shaping through real sessions (docs/study-conditions.md,
docs/phantom-shaping.md): each session runs the condition the patient's randomisation
schedule allocates, the shape's schedule steps toward the mirror, every change is recorded,
and the companion (live status, patient page, page files) and blinded exports show only
condition codes; unblinded exports, asked for explicitly, name the conditions."""
from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

import vrgmi.companion
from session_steps import step_until
from vrgmi.app import Engine
from vrgmi.companion.live import dumps
from vrgmi.companion.records import DatabaseRecords
from vrgmi.control import Command, CommandQueue, StatusBoard
from vrgmi.export import export_patient
from vrgmi.program import Program, SceneStep
from vrgmi.records import RecordSink, open_database
from vrgmi.records import queries as q
from vrgmi.records.db import RecordsError
from vrgmi.records.programs import load_program, save_program
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.ssq import SSQ
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.shaping import ShapingPlan
from vrgmi.study.allocation import StudyPlan, schedule
from vrgmi.tracking.scripted import ScriptedSource

#: the control conditions' names (treatment "mirror" and "imagery" are also a phase and
#: scene words, so the blinded outputs are checked for these)
HIDDEN = ("delayed", "frozen", "replay", "delay_s")
REGISTRY = {c.name: c for c in (PainNRS, SSQ, FreeMirror)}


def _answer(runner, t, n=1):
    for _ in range(n):
        for action in ("right", "select"):       # the lowest answer
            runner.engine.inputs.push(action, t, "script")


def _session(display, db, tmp_path, check, patient="P07"):
    settings = load_settings(None, {"safety.ssq_baseline": False})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    program = load_program(db, patient)
    sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
    runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                           registry=REGISTRY, sinks=[sink], max_block_s=3.0,
                           on_program_change=lambda p: save_program(db, p))
    try:
        runner.start(0.0)
        _answer(runner, 0.1)
        t = step_until(runner, 0.0, lambda: runner.scene is not None
                       and runner.scene.name == "free_mirror")
        check(runner, engine, t)
        t = step_until(runner, t, lambda: runner.scene is not None
                       and runner.scene.name == "pain_nrs")
        _answer(runner, t)
        t = step_until(runner, t, lambda: runner.scene is not None and runner.scene.name == "ssq")
        _answer(runner, t, 16)
        step_until(runner, t, lambda: runner.done)
        runner.close()
    finally:
        engine.close()
    assert sink.error is None
    return runner


def _texts(folder):
    """Every file under ``folder`` as text (PDF streams inflated)."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            if path.suffix == ".pdf":
                raw += b"".join(zlib.decompressobj().decompress(m) for m in re.findall(
                    rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S) if m[:1] == b"x")
            out[path.name] = raw.decode("latin-1").lower()
    return out


def test_sessions_run_their_allocation_and_only_codes_are_shown(display, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    try:
        q.upsert_patient(db, "P07", side="left", level="transradial")
        study = StudyPlan(conditions=["delayed", "frozen", "replay"], seed=5)
        shaping = ShapingPlan(posture="clenched_fist", telescoping=0.3, steps=2,
                              sessions_per_step=1)
        save_program(db, Program("P07", phase="mirror", breathing_between_blocks=False,
                                 steps={"mirror": [SceneStep("free_mirror", 0.1)]},
                                 shaping=shaping, study=study))
        want = schedule(study, "P07", 3)
        seen, statuses = [], []

        def check(runner, engine, t):
            core = engine.core
            seen.append(core.condition.name)
            _, status = runner.board.status()
            statuses.append(dumps(status))
            assert status["phantom"]["study_code"] == runner.phantom.code
            if len(seen) == 1:
                assert core.shaper.weight == 1.0 and core.shaper.telescoping == 0.3
                assert engine.phantom_rig.segment_scale < 1.0
                runner.commands.put(Command("shape_phantom", {"weight": 0.8,
                                                              "reason": "feels looser"}))
                step_until(runner, t, lambda: core.shaper.weight == 0.8, 1.0)
            else:
                assert core.shaper.weight == 1.0 - (len(seen) - 1) / 2

        runners = [_session(display, db, tmp_path, check) for _ in range(3)]
        assert seen == want
        program = load_program(db, "P07")
        assert [a["condition"] for a in program.study.allocations] == want
        assert program.shaping.step == 2 and program.shaping.weight() == 0.0
        assert any(h.get("reason") is None and h["by"] == "therapist"
                   for h in program.shaping.history)
        kinds = [e.kind for r in runners for e in r.events.history]
        assert kinds.count("study_condition") == 3 and kinds.count("shaping_decision") == 3
        assert kinds.count("phantom_shaped") == 4            # 3 schedule + 1 therapist
        shaped = [e.data for e in runners[0].events.history if e.kind == "phantom_shaped"]
        assert shaped[-1]["by"] == "therapist" and shaped[-1]["new"]["weight"] == 0.8
        for r in runners:
            (cond,) = [e.data for e in r.events.history if e.kind == "study_condition"]
            assert set(cond) == {"code", "index"}

        # what the therapist and the patient see: the live status, the patient page,
        # the companion's page files, blinded exports
        shown = {f"status{i}": s.lower() for i, s in enumerate(statuses)}
        shown["page"] = dumps(DatabaseRecords(db).patient_page("P07")).lower()
        for f in (Path(vrgmi.companion.__file__).parent / "static").iterdir():
            shown[f.name] = f.read_text(encoding="utf-8").lower()
        for fmt in ("csv", "fhir", "pdf"):
            export_patient(db, "P07", fmt, tmp_path / "blinded")
        shown.update(_texts(tmp_path / "blinded"))
        codes = {a["code"].lower() for a in program.study.allocations}
        assert codes and all(c in shown["P07-study.csv"] for c in codes)
        assert all(c in shown["P07-fhir.json"] for c in codes)
        for name, text in shown.items():
            for word in HIDDEN:
                assert not re.search(rf"\b{word}\b", text), f"{word!r} shown in {name}"

        # unblinded, asked for explicitly
        for fmt in ("csv", "fhir"):
            export_patient(db, "P07", fmt, tmp_path / "unblinded", unblinded=True)
        open_ = _texts(tmp_path / "unblinded")
        for text in (open_["P07-study.csv"], open_["P07-fhir.json"]):
            assert all(c in text for c in want)
        with pytest.raises(RecordsError, match="always blinded"):
            export_patient(db, "P07", "pdf", tmp_path / "x", unblinded=True)
    finally:
        db.close()


def test_imagery_sessions_hide_the_phantom_and_capture_shapes_it(display, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    try:
        q.upsert_patient(db, "P08", side="left", level="transradial")
        save_program(db, Program("P08", phase="mirror", breathing_between_blocks=False,
                                 steps={"mirror": [SceneStep("free_mirror", 0.1)]},
                                 study=StudyPlan(conditions=["imagery"])))

        def check(runner, engine, t):
            assert engine.core.condition.name == "imagery"
            assert engine.phantom_rig.root.is_hidden()
            assert not engine.intact_rig.root.is_hidden()
            runner.commands.put(Command("capture_posture"))
            step_until(runner, t, lambda: engine.core.shaper.posture == "captured", 1.0)
            assert engine.core.shaper.weight == 1.0
            first = engine.core.shaper.first
            assert (engine.core.shaper.target[first:] != 0).any()

        _session(display, db, tmp_path, check, "P08")
        plan = load_program(db, "P08").shaping
        assert plan.posture == "captured" and len(plan.captured) > 20
        assert plan.history[-1]["by"] == "therapist"
    finally:
        db.close()
