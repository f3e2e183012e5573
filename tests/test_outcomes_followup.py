"""A follow-up visit in the headset (issue 17, docs/outcomes.md), headless with scripted
answers: the battery's 0-10 ratings then exactly one laterality block, no training; the
ratings stored as the visit's outcome answers (by the headset) and the visit done. The
companion's Start on a due visit; a skipped item leaves its measure to the companion form.
A bad item-texts file: the companion starts with the built-in texts and says why."""
from __future__ import annotations

import http.client
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from vrgmi.app import Engine
from vrgmi.clinic import ClinicServices, run_headless_day
from vrgmi.companion.commands import CommandRejected, check_command
from vrgmi.control import Command
from vrgmi.events import read_events
from vrgmi.input import ScriptedInput
from vrgmi.outcomes.battery import MEASURES, OutcomeError, load_item_texts
from vrgmi.outcomes.store import patient_answers, patient_outcomes, record_visit, set_plan
from vrgmi.program import Program, SceneStep
from vrgmi.records import open_database, queries
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

PID = "F01"
#: (measure, item) -> the rating the scripted patient gives, in the order they are asked
RATINGS = {("pain", "average"): 6, ("pain", "worst"): 8,
           ("sensation", "phantom_sensation"): 3, ("sensation", "residual_pain"): 2,
           ("interference", "sleep"): 5, ("interference", "mood"): 4,
           ("interference", "activity"): 1}
ITEM_S = 1.5        # display seconds between two items' answers (the confirm holds 0.6 s)


def rating_script(values: list[int], start: float = 0.5) -> list[tuple[float, str]]:
    """Presses that answer each item in turn: nothing is selected at first, so the first
    right selects 0 and each further right adds one; then select."""
    out: list[tuple[float, str]] = []
    for k, v in enumerate(values):
        t0 = start + k * ITEM_S
        out += [(t0 + 0.05 * j, "right") for j in range(v + 1)]
        out.append((t0 + 0.05 * (v + 2), "select"))
    return out


def program(laterality: bool = True) -> Program:
    return Program(PID, phase="mirror", breathing_between_blocks=False,
                   follow_up_laterality=laterality,
                   steps={"laterality": [SceneStep("laterality", 0.5)],
                          "imagery": [SceneStep("imagery", 0.5)],
                          "mirror": [SceneStep("free_mirror", 0.5)]})


@pytest.fixture
def clinic(display, tmp_path):
    """A patient whose treatment ended 35 days ago (the 1-month follow-up is due), with the
    baseline and end visits answered on the companion."""
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite'}")
    queries.upsert_patient(db, PID, side="left", level="transradial", height_m=1.75)
    now = datetime.now(timezone.utc)
    record_visit(db, PID, "baseline", {"pain": {"average": 7, "worst": 9}}, "companion:t",
                 now - timedelta(days=80))
    record_visit(db, PID, "end", {"pain": {"average": 5, "worst": 7}}, "companion:t",
                 now - timedelta(days=35))               # sets the end of treatment
    settings = load_settings(None, {"patient.id": PID})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    services = ClinicServices(db=db)
    yield services, engine, db, tmp_path
    engine.close()
    db.close()


def test_a_follow_up_visit_asks_the_ratings_runs_one_laterality_block_and_stores_them(clinic):
    services, engine, db, out = clinic
    visit = services.follow_up(engine.settings, program())   # the visit due
    assert visit.timepoint == "fu_1m"
    assert [m.id for m in visit.measures] == ["pain", "sensation", "interference"]
    assert set(visit.on_companion) == {"episodes", "pcs", "psfs", "medication", "prosthesis"}
    day = services.day(engine, program(), out, block_seconds=2.0, live=False,
                       stay_open=False, follow_up=visit)
    feeder = ScriptedInput(rating_script(list(RATINGS.values())))
    run_headless_day(engine.settings, day, feeder, None, 60.0, None)
    summary = day.close()
    session = summary["session"]
    assert summary["reason"] == "completed"

    events = list(read_events(out / f"events-{session}.jsonl"))
    started = next(e for e in events if e["kind"] == "session_started")["data"]
    assert started["kind"] == "follow-up" and started["visit"] == "fu_1m"
    scenes = [(e["scene"], e["data"]["phase"]) for e in events if e["kind"] == "scene_started"]
    assert scenes == [("outcome_rating", "questionnaire")] * len(RATINGS) \
        + [("laterality", "laterality")]          # one block, no training, no NRS or SSQ
    asked = [(e["data"]["measure"], e["data"]["item"], e["data"]["answers"][0])
             for e in events if e["kind"] == "questionnaire"]
    assert asked == [(m, i, v) for (m, i), v in RATINGS.items()]

    stored = [a for a in patient_answers(db, PID) if a["timepoint"] == "fu_1m"]
    assert {a["measure"] for a in stored} == {"pain", "sensation", "interference"}
    assert {a["by"] for a in stored} == {f"headset:{session}"}
    scores = {a["measure"]: a["scores"] for a in stored}
    assert scores["pain"] == {"average": 6, "worst": 8}
    assert scores["interference"] == {"sleep": 5, "mood": 4, "activity": 1, "mean": 3.3333}
    page = patient_outcomes(db, PID)
    assert {v["timepoint"]: v["status"] for v in page["visits"]}["fu_1m"] == "done"
    change = {r["timepoint"]: r["change"] for r in page["change"]["pain.average"]}
    assert change["fu_1m"] == -1                               # 7 at baseline, 6 now


def test_the_companions_start_on_a_due_visit_and_a_skipped_item(clinic):
    services, engine, db, out = clinic
    ok = check_command({"command": "start", "args": {"patient": PID, "follow_up": "fu_1m"}},
                       {}, {}, by="t")
    assert ok.args == {"patient": PID, "follow_up": "fu_1m"}
    with pytest.raises(CommandRejected, match="follow_up: outcomes: unknown time point"):
        check_command({"command": "start", "args": {"follow_up": "soon"}}, {}, {}, by="t")

    first = services.follow_up(engine.settings, program(laterality=False), "fu_1m")
    day = services.day(engine, program(laterality=False), out, block_seconds=2.0, live=False,
                       stay_open=True, follow_up=first)
    # pain answered, the other items skipped (back): only pain is stored
    script = rating_script([6, 8]) + [(3.5 + 1.0 * k, "back") for k in range(5)]
    feeder = ScriptedInput(script)
    t, dt = 0.0, 1.0 / 30.0
    while not day.idle:
        feeder.feed(engine.inputs, t)
        assert day.step(t, dt)
        t += dt
        assert t < 30.0, "the visit did not end"
    names = [e.scene for e in day.runner.events.history if e.kind == "scene_started"]
    assert names == ["outcome_rating"] * len(RATINGS)          # laterality switched off
    stored = [a for a in patient_answers(db, PID) if a["timepoint"] == "fu_1m"]
    assert [a["measure"] for a in stored] == ["pain"]

    services.commands.put(ok)                                  # the companion's button
    day.step(t, dt)
    assert not day.idle and day.runner.follow_up is not None
    assert day.runner.follow_up.timepoint == "fu_1m"
    day.close()


def test_nothing_to_ask_in_the_headset_is_one_line(clinic):
    services, engine, db, _out = clinic
    set_plan(db, PID, measures=["pcs", "psfs", "medication"])
    with pytest.raises(OutcomeError, match="nothing of F01's battery is asked in the headset"):
        services.follow_up(engine.settings, program(laterality=False))
    visit = services.follow_up(engine.settings, program())    # the laterality block alone
    assert visit.measures == () and visit.laterality is not None
    with pytest.raises(OutcomeError, match="unknown time point"):
        services.follow_up(engine.settings, program(), "fu_99m")


def test_a_bad_item_texts_file_leaves_the_built_in_texts_and_says_why(tmp_path, caplog):
    bad = tmp_path / "texts.toml"
    bad.write_text('[pcs]\n"14" = "not a PCS item"\n', encoding="utf-8")
    with pytest.raises(OutcomeError) as why:
        load_item_texts(bad)
    settings = load_settings(None, {
        "outcomes.item_texts_file": str(bad), "companion.port": 0,
        "data.database_url": f"sqlite:///{tmp_path / 'records.sqlite'}"})
    said: list[str] = []
    with caplog.at_level(logging.WARNING):
        services = ClinicServices.open(settings, said.append)
    try:
        assert services.companion is not None                  # it starts
        lines = [r.getMessage() for r in caplog.records if str(why.value) in r.getMessage()]
        assert len(lines) == 1 and "\n" not in lines[0]        # the console's one line
        companion = services.companion
        token = companion.tokens.pair(companion.tokens.new_pairing_token(), "pytest")[0]
        conn = http.client.HTTPConnection("127.0.0.1", companion.port, timeout=30)
        conn.request("GET", "/api/outcomes/battery",
                     headers={"Authorization": f"Bearer {token}"})
        reply = conn.getresponse()
        assert reply.status == 200
        form = json.loads(reply.read())
        assert form["texts_error"] == str(why.value)
        pcs = next(m for m in form["measures"] if m["id"] == "pcs")
        assert [i["text"] for i in pcs["items"]] == [i.text for i in MEASURES["pcs"].items]
    finally:
        services.close()


def test_vrgmi_session_follow_up_names_a_bad_visit_in_one_line(tmp_path, capsys):
    from vrgmi.cli import main

    code = main(["session", "--headless", "--follow-up", "soon", "--out", str(tmp_path),
                 "--set", f"data.database_url=sqlite:///{tmp_path / 'r.sqlite'}",
                 "--set", "companion.enabled=false", "--set", f"patient.id={PID}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "".join(err)
    assert err[-1] == "vrgmi: outcomes: unknown time point 'soon'; time points are baseline, " \
                      "end, phase_imagery, phase_mirror, fu_<months>m"
