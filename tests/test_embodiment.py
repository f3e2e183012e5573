"""Embodiment questionnaire and proprioceptive drift (docs/embodiment.md): scoring and the
clinic's item file; a whole session on the headless path with a patient answering at a
human pace (each measure under 90 s of session time); every item in the records, the PDF
report, the CSV and the FHIR Bundle (validated with fhir.resources)."""
from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.embodiment_patient import ANSWERS, EmbodimentPatient
from tests.mirror_patient import SeatedPatient
from vrgmi.app import Engine
from vrgmi.export import plots
from vrgmi.export.csv_export import csv_files
from vrgmi.export.fhir import bundle_dict, build_bundle
from vrgmi.export.report_pdf import PAGE_COUNT, report_bytes
from vrgmi.measures.drift import drift_rows, felt_position
from vrgmi.measures.embodiment import (
    BUILTIN_ITEMS, SUBSCALES, EmbodimentError, load_items, score,
)
from vrgmi.program import Program, SceneStep
from vrgmi.records import open_database, queries
from vrgmi.records.store import EventWriter, event_uid
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings

DT = 1.0 / 30.0
#: what the scripted patient feels (body frame): the phantom 10 cm closer to the body than
#: it is drawn before the mirror block, 4 cm after
FELT = {"pre": (0.0, -0.10, 0.0), "post": (0.0, -0.04, 0.0)}


# --- scoring and the clinic's items ----------------------------------------------------------

def test_builtin_items_cover_every_subscale_and_score_reverse_keyed_items():
    assert {i.subscale for i in BUILTIN_ITEMS.items} == set(SUBSCALES)
    assert len({i.id for i in BUILTIN_ITEMS.items}) == len(BUILTIN_ITEMS.items)
    s = score(BUILTIN_ITEMS, list(ANSWERS))
    # ownership: 2, 3 and the reverse-keyed -1 -> +1; agency 3, 2, -(-2); location 1,
    # -(-1), 2; appearance 0, 1
    assert s["ownership"] == pytest.approx(2.0) and s["agency"] == pytest.approx(7 / 3, abs=1e-4)
    assert s["location"] == pytest.approx(4 / 3, abs=1e-4) and s["appearance"] == pytest.approx(0.5)
    assert s["embodiment"] == pytest.approx((2.0 + 7 / 3 + 4 / 3 + 0.5) / 4, abs=1e-4)
    for bad, why in (([0] * 3, "3 answers given"), ([4] + [0] * 10, "outside -3..3"),
                     ([0.5] + [0] * 10, "whole number"), ("abc", "list of numbers")):
        with pytest.raises(EmbodimentError, match=why) as err:
            score(BUILTIN_ITEMS, bad)
        assert "\n" not in str(err.value)


def test_the_clinics_item_file_is_loaded_and_every_mistake_is_one_line(tmp_path):
    good = {"items": [{"id": "q1", "subscale": "ownership", "text": "Licensed text one."},
                      {"id": "q2", "subscale": "agency", "text": "Licensed  text\ntwo.",
                       "reverse": True}],
            "anchors": ["nein", "ja"]}
    path = tmp_path / "items.json"
    path.write_text(json.dumps(good), encoding="utf-8")
    items = load_items(path)
    assert [i.text for i in items.items] == ["Licensed text one.", "Licensed text two."]
    assert items.source == "items.json" and not items.translate
    assert items.anchors == ("nein", "ja") and items.items[1].reverse
    s = score(items, [3, 3])
    assert (s["ownership"], s["agency"], s["location"], s["embodiment"]) == (3, -3, None, 0.0)
    assert load_items("") is BUILTIN_ITEMS
    cases = [
        ("{", "not valid JSON"),
        ('{"items": []}', "0 items"),
        ('{"items": [{"id": "a", "subscale": "mood", "text": "x"}]}', "subscale 'mood'"),
        ('{"items": [{"id": "a", "subscale": "agency", "text": "x"},'
         ' {"id": "a", "subscale": "agency", "text": "y"}]}', "used twice"),
        ('{"items": [{"id": "a", "subscale": "agency", "text": ""}]}', "non-empty text"),
        ('{"items": [{"id": "a", "subscale": "agency", "text": "' + "x" * 300 + '"}]}',
         "300 characters"),
        ('{"items": [{"id": "a", "subscale": "agency", "text": "x", "reverse": 1}]}',
         "true or false"),
        ('{"items": [{"id": "a", "subscale": "agency", "text": "x"}], "scale": 5}',
         "unknown key 'scale'"),
    ]
    for text, why in cases:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(EmbodimentError, match=re.escape(why)) as err:
            load_items(path)
        assert "\n" not in str(err.value)
    with pytest.raises(EmbodimentError, match="does not exist"):
        load_items(tmp_path / "missing.json")


def test_drift_is_the_pointing_error_before_minus_after_per_block():
    torso = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    assert felt_position(np.array([0.2, 0.3, 0.9]), torso) == pytest.approx([-0.2, 0.3, 0.9])
    drawn = [-0.2, 0.4, 0.8]

    def pointing(moment, felt, pair=1):
        err = 100 * float(np.linalg.norm(np.subtract(felt, drawn)))
        return {"session": "s1", "data": {"moment": moment, "pair": pair, "felt": felt,
                                          "drawn": drawn, "error_cm": err, "timeout": False}}

    rows = drift_rows([pointing("pre", [-0.2, 0.30, 0.8]), pointing("pre", [-0.2, 0.28, 0.8]),
                       pointing("post", [-0.2, 0.36, 0.8]),
                       {"session": "s1", "data": {"moment": "post", "pair": 1,
                                                  "timeout": True}},
                       pointing("pre", [-0.2, 0.3, 0.8], pair=2)])
    one, two = rows
    assert (one["n_pre"], one["n_post"]) == (2, 1)
    assert one["pre_cm"] == pytest.approx(11.0) and one["post_cm"] == pytest.approx(4.0)
    assert one["drift_cm"] == pytest.approx(7.0)
    assert one["shift_toward_cm"] == pytest.approx(7.0)     # straight toward the drawn limb
    assert two["drift_cm"] is None and two["post_cm"] is None


# --- a whole session, headless ---------------------------------------------------------------

@pytest.fixture(scope="module")
def session_run(display, tmp_path_factory):
    """A mirror session with the drift task around its block and the questionnaire after it,
    the scripted patient answering at a human pace; its events in a records database."""
    out = tmp_path_factory.mktemp("embodiment")
    settings = load_settings(None, {"embodiment.drift_every": 1,
                                    "embodiment.questionnaire_every": 1,
                                    "safety.ssq_baseline": False,
                                    "ui.speak_instructions": False,
                                    "patient.id": "E01"})
    hand = SeatedPatient("arm")
    engine = Engine(settings, hand, display)
    program = Program("E01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]})
    runner = SessionRunner(engine, program, out)
    patient = EmbodimentPatient(lambda a: engine.inputs.push(a, runner.t, "script"), hand,
                                FELT)
    t = 0.0
    try:
        while runner.step(t, DT, render=False) and t < 300.0:
            patient(runner, t)
            t += DT
        runner.close()
    finally:
        engine.close()
    db = open_database(f"sqlite:///{out / 'records.sqlite'}")
    writer = EventWriter()
    with db.session() as s:
        for e in runner.events.history:
            writer.write(s, e, event_uid(e))
    yield runner, db
    db.close()


def _span(events, scene, moment=None):
    """(start, end) display times of each run of ``scene``."""
    out, start = [], None
    for e in events:
        if e.scene != scene:
            continue
        if e.kind == "scene_started" and (moment is None
                                          or e.data["params"].get("moment") == moment):
            start = e.t
        elif e.kind == "scene_finished" and start is not None:
            out.append((start, e.t))
            start = None
    return out


def test_the_measures_run_around_the_mirror_block_each_under_90_s(session_run):
    runner, _db = session_run
    h = runner.events.history
    started = [(e.scene, e.data["params"]) for e in h if e.kind == "scene_started"]
    assert [s for s, _ in started] == ["pain_nrs", "proprioceptive_drift", "free_mirror",
                                       "proprioceptive_drift", "embodiment", "pain_nrs", "ssq"]
    assert started[1][1] == {"moment": "pre", "pair": 1}
    assert started[3][1] == {"moment": "post", "pair": 1}
    assert all(e.data["reason"] == "completed" for e in h if e.kind == "scene_finished")
    spans = {"drift pre": _span(h, "proprioceptive_drift", "pre")[0],
             "drift post": _span(h, "proprioceptive_drift", "post")[0],
             "questionnaire": _span(h, "embodiment")[0]}
    for what, (a, b) in spans.items():
        assert 5.0 < b - a < 90.0, f"{what} took {b - a:.1f} s of session time"
    print("session time (s):", {k: round(b - a, 1) for k, (a, b) in spans.items()})


def test_the_drift_task_measures_where_the_patient_points(session_run):
    runner, _db = session_run
    trials = [e.data for e in runner.events.history
              if e.kind == "trial" and e.scene == "proprioceptive_drift"]
    assert [t["moment"] for t in trials] == ["pre", "pre", "post", "post"]
    for t in trials:
        assert not t["timeout"] and 2.0 < t["rt_s"] < 3.5
        # the felt place is the pointed one mirrored in the body frame, the error its
        # distance from the drawn phantom hand: what the patient was scripted to feel
        assert t["felt"][0] == pytest.approx(-t["pointed"][0], abs=0.02)
        want = 100 * np.linalg.norm(FELT[t["moment"]])
        assert t["error_cm"] == pytest.approx(want, abs=1.0)
        assert t["forward_cm"] == pytest.approx(100 * FELT[t["moment"]][1], abs=1.0)
    (row,) = drift_rows({"session": runner.session, "data": t} for t in trials)
    assert row["drift_cm"] == pytest.approx(6.0, abs=1.0)
    assert row["shift_toward_cm"] == pytest.approx(6.0, abs=1.0)


def test_the_questionnaire_records_every_item_and_its_subscales(session_run):
    runner, _db = session_run
    (q,) = [e.data for e in runner.events.history
            if e.kind == "questionnaire" and e.data["instrument"] == "embodiment"]
    assert [a["item"] for a in q["answers"]] == [i.id for i in BUILTIN_ITEMS.items]
    assert [a["value"] for a in q["answers"]] == list(ANSWERS)
    assert q["scores"] == {**score(BUILTIN_ITEMS, list(ANSWERS)), "source": "vrgmi"}
    assert q["block"] == 1


def test_every_item_is_in_the_records_report_csv_and_fhir(session_run):
    runner, db = session_run
    prog = queries.progress(db, "E01")
    (emb,) = prog["embodiment"]
    assert [a["value"] for a in emb["answers"]] == list(ANSWERS)
    assert emb["ownership"] == pytest.approx(2.0) and emb["source"] == "vrgmi"
    (drift,) = prog["drift"]
    assert drift["drift_cm"] == pytest.approx(6.0, abs=1.0) and drift["n_pre"] == 2
    fig = plots.PLOTS["embodiment"](prog)
    lines = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) == 1]
    assert len(lines) == 5 + 3                    # 4 subscales + the mean; before, after, drift
    pdf = report_bytes(db, "E01")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == PAGE_COUNT + 1
    files = csv_files(db, "E01")
    rows = list(csv.DictReader(io.StringIO(files["E01-embodiment.csv"])))
    assert len(rows) == 1 and float(rows[0]["agency"]) == pytest.approx(7 / 3, abs=1e-3)
    assert [a["item"] for a in json.loads(rows[0]["answers"])] == \
        [i.id for i in BUILTIN_ITEMS.items]
    (d,) = csv.DictReader(io.StringIO(files["E01-drift.csv"]))
    assert float(d["drift_cm"]) == pytest.approx(drift["drift_cm"])
    pointings = [r for r in csv.DictReader(io.StringIO(files["E01-trials.csv"]))
                 if r["scene"] == "proprioceptive_drift"]
    assert len(pointings) == 4 and all("error_cm" in r["values"] for r in pointings)
    bundle = build_bundle(db, "E01")                 # validated by fhir.resources
    resources = [e["resource"] for e in bundle_dict(db, "E01")["entry"]]
    (qr,) = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"
             and "embodiment" in r["questionnaire"]]
    assert [(i["linkId"], i["answer"][0]["valueInteger"]) for i in qr["item"]] == \
        [(i.id, a) for i, a in zip(BUILTIN_ITEMS.items, ANSWERS)]
    codes = {r["code"]["coding"][0]["code"]: r for r in resources
             if r["resourceType"] == "Observation"}
    assert {f"embodiment-{s}" for s in SUBSCALES} | {"embodiment", "proprioceptive-drift"} \
        <= set(codes)
    assert codes["proprioceptive-drift"]["valueQuantity"]["value"] == drift["drift_cm"]
    assert isinstance(bundle, Bundle)


def test_the_questionnaire_reads_the_clinics_texts_in_a_session(display, tmp_path):
    items = {"items": [{"id": f"c{k}", "subscale": s, "text": f"Clinic statement {k}."}
                       for k, s in enumerate(SUBSCALES)]}
    path = tmp_path / "clinic items (de).json"
    path.write_text(json.dumps(items), encoding="utf-8")
    settings = load_settings(None, {"embodiment.questionnaire_every": 1,
                                    "embodiment.items_file": str(path),
                                    "safety.ssq_baseline": False, "ui.instructions": False})
    engine = Engine(settings, SeatedPatient("arm"), display)
    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]})
    runner = SessionRunner(engine, program, tmp_path, max_block_s=1.0)
    patient = EmbodimentPatient(lambda a: engine.inputs.push(a, runner.t, "script"))
    t = 0.0
    try:
        while runner.step(t, DT, render=(int(t / DT) % 40 == 0)) and t < 120.0:
            if runner.scene is not None and runner.scene.name == "embodiment":
                shown = runner.scene.inner._statement.text.get_text()
                assert shown == f"Clinic statement {runner.scene.inner.item}."
            patient(runner, t)
            t += DT
        runner.close()
    finally:
        engine.close()
    (q,) = [e.data for e in runner.events.history
            if e.kind == "questionnaire" and e.data["instrument"] == "embodiment"]
    assert q["scores"]["source"] == "clinic items (de).json"
    assert [a["item"] for a in q["answers"]] == ["c0", "c1", "c2", "c3"]
    assert q["scores"]["ownership"] == ANSWERS[0]
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        with db.session() as s:
            for e in runner.events.history:
                EventWriter().write(s, e, event_uid(e))
        bundle = bundle_dict(db, "p01")
        build_bundle(db, "p01")                       # valid: the file name made a URI
    finally:
        db.close()
    (qr,) = [e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "QuestionnaireResponse"
             and "embodiment" in e["resource"]["questionnaire"]]
    assert qr["questionnaire"].endswith(":embodiment:clinic-items-de-.json")
    assert [i["linkId"] for i in qr["item"]] == ["c0", "c1", "c2", "c3"]


def test_every_nth_block_and_a_break_comes_before_the_pre_block_task(display, tmp_path):
    settings = load_settings(None, {"embodiment.drift_every": 2,
                                    "embodiment.questionnaire_every": 1,
                                    "embodiment.drift_trials": 1,
                                    "safety.ssq_baseline": False, "ui.instructions": False})
    hand = SeatedPatient("arm")
    engine = Engine(settings, hand, display)
    program = Program("p01", phase="mirror", breathing_between_blocks=True,
                      steps={"mirror": [SceneStep("free_mirror", 0.1),
                                        SceneStep("free_mirror", 0.1)]})
    runner = SessionRunner(engine, program, tmp_path, max_block_s=1.0)
    patient = EmbodimentPatient(lambda a: engine.inputs.push(a, runner.t, "script"), hand,
                                read_s=1.2, think_s=0.2, point_s=0.5)
    t = 0.0
    try:
        while runner.step(t, DT, render=False) and t < 120.0:
            patient(runner, t)
            t += DT
        runner.close()
    finally:
        engine.close()
    started = [(e.scene, e.data["params"].get("moment") or e.data["params"].get("block"))
               for e in runner.events.history if e.kind == "scene_started"]
    assert started == [("pain_nrs", "pre"), ("free_mirror", None), ("embodiment", 1),
                       ("breathing", None), ("proprioceptive_drift", "pre"),
                       ("free_mirror", None), ("proprioceptive_drift", "post"),
                       ("embodiment", 2), ("pain_nrs", "post"), ("ssq", "post")]


def test_the_drift_task_with_the_foot(display, tmp_path):
    settings = load_settings(None, {"embodiment.drift_every": 1, "embodiment.drift_trials": 1,
                                    "patient.amputation_level": "transtibial",
                                    "safety.ssq_baseline": False, "ui.instructions": False})
    foot = SeatedPatient("leg")
    engine = Engine(settings, foot, display)
    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]})
    runner = SessionRunner(engine, program, tmp_path, max_block_s=1.0)
    # body frame (x right, y forward): the left phantom foot felt nearer the midline and
    # ahead of the drawn one before the block, only ahead after it
    felt = {"pre": (0.05, 0.08, 0.0), "post": (0.0, 0.03, 0.0)}
    patient = EmbodimentPatient(lambda a: engine.inputs.push(a, runner.t, "script"), foot, felt,
                                read_s=1.2, think_s=0.2, point_s=2.0)
    t = 0.0
    try:
        while runner.step(t, DT, render=False) and t < 90.0:
            patient(runner, t)
            t += DT
        runner.close()
    finally:
        engine.close()
    trials = [e.data for e in runner.events.history if e.kind == "trial"]
    assert [(d["moment"], d["limb"], d["timeout"]) for d in trials] == [
        ("pre", "leg", False), ("post", "leg", False)]
    for d in trials:
        want = felt[d["moment"]]
        assert d["error_cm"] == pytest.approx(100 * np.linalg.norm(want), abs=1.0)
        assert d["lateral_cm"] == pytest.approx(100 * want[0], abs=1.0)
        assert d["forward_cm"] == pytest.approx(100 * want[1], abs=1.0)


def test_the_measures_of_a_block_the_minutes_leave_out_are_skipped_with_it(display, tmp_path):
    settings = load_settings(None, {"embodiment.drift_every": 1, "embodiment.drift_trials": 1,
                                    "safety.ssq_baseline": False, "ui.instructions": False})
    hand = SeatedPatient("arm")
    engine = Engine(settings, hand, display)
    program = Program("p01", phase="mirror", minutes_per_session=1.0,
                      steps={"mirror": [SceneStep("free_mirror", 1.0),
                                        SceneStep("free_mirror", 1.0)]})
    runner = SessionRunner(engine, program, tmp_path)
    patient = EmbodimentPatient(lambda a: engine.inputs.push(a, runner.t, "script"), hand,
                                read_s=1.2, think_s=0.2, point_s=0.5)
    t = 0.0
    try:
        while runner.step(t, DT, render=False) and t < 150.0:
            patient(runner, t)
            t += DT
        runner.close()
    finally:
        engine.close()
    ends = [(e.scene, e.data["reason"]) for e in runner.events.history
            if e.kind == "scene_finished"]
    # the first block uses the session's minute: the second, and the drift task around it,
    # are skipped
    assert ends == [("pain_nrs", "completed"), ("proprioceptive_drift", "completed"),
                    ("free_mirror", "completed"), ("proprioceptive_drift", "completed"),
                    ("proprioceptive_drift", "skipped"), ("free_mirror", "skipped"),
                    ("proprioceptive_drift", "skipped"), ("pain_nrs", "completed"),
                    ("ssq", "completed")]
