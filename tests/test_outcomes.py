"""Outcomes (issue 17): the battery's scoring, the follow-up schedule, the responder analysis
on a simulated clinic (tests/patient_sim.py), and the exports (FHIR validated with
fhir.resources, CSV, the clinic report PDF rendered)."""
from __future__ import annotations

import csv
import io
import json
import re
import statistics
import subprocess
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from patient_sim import CLINIC_PAIN, DAY0, fill_clinic
from vrgmi.export.clinic_report import PAGE_COUNT, clinic_report_bytes
from vrgmi.export.csv_export import csv_files
from vrgmi.export.fhir import CODE_SYSTEM, LOINC, bundle_dict, build_bundle
from vrgmi.export.outcomes_csv import clinic_csv_files
from vrgmi.outcomes.battery import (MEASURES, OutcomeError, battery, load_item_texts, score)
from vrgmi.outcomes.schedule import (Rules, add_months, check_timepoint, parse_months,
                                     timepoints, visits)
from vrgmi.outcomes.store import (clinic_outcomes, get_plan, patient_outcomes, record_visit,
                                  set_plan)
from vrgmi.program import Program
from vrgmi.records import open_database
from vrgmi.records.programs import save_program
from vrgmi.records.queries import upsert_patient
from vrgmi.settings import OutcomesSettings, load_settings

START = datetime.fromtimestamp(DAY0, timezone.utc)
END = START + timedelta(days=28)
#: judged long after the 3-month follow-ups: a missed visit is a drop-out by then
TODAY = add_months(END.date(), 3) + timedelta(days=70)


# --- scoring ---------------------------------------------------------------------------------
def test_pcs_total_and_subscales_follow_clinical_md():
    answers = {str(k): v for k, v in zip(range(1, 14), (1, 2, 3, 4, 0, 4, 3, 2, 1, 0, 4, 3, 2))}
    clean, scores = score("pcs", answers)
    assert clean == answers
    # rumination items 8-11, magnification 6, 7, 13, helplessness 1-5 and 12 (CLINICAL.md)
    assert scores == {"rumination": 2 + 1 + 0 + 4, "magnification": 4 + 3 + 2,
                      "helplessness": 1 + 2 + 3 + 4 + 0 + 3, "total": 29}
    assert score("pcs", {str(k): 4 for k in range(1, 14)})[1]["total"] == 52
    with pytest.raises(OutcomeError, match="pcs 3 = 5 is outside 0..4"):
        score("pcs", {**answers, "3": 5})


def test_psfs_is_the_mean_of_the_named_activities():
    clean, scores = score("psfs", {"activities": [
        {"name": "  Carrying\tshopping ", "rating": 3}, {"name": "Driving", "rating": 8},
        {"name": "Gardening", "rating": 4}]})
    assert scores == {"mean": 5.0}
    assert clean["activities"][0]["name"] == "Carrying shopping"      # control chars folded
    assert score("psfs", {"activities": [{"name": "Typing", "rating": 0}]})[1] == {"mean": 0.0}
    for bad, why in (([], "at least one"), ([{"name": "a", "rating": 1}] * 6, "at most 5"),
                     ([{"name": "a", "rating": 1}, {"name": "A", "rating": 2}], "different"),
                     ([{"name": "a", "rating": 11}], "outside 0..10"),
                     ([{"name": "a", "rating": None}], "must be a number"),
                     ([{"name": 5, "rating": 1}], "must be text")):
        with pytest.raises(OutcomeError, match=why):
            score("psfs", {"activities": bad})


def test_items_measures_check_every_value():
    assert score("interference", {"sleep": 6, "mood": 3, "activity": 3})[1] == {
        "sleep": 6, "mood": 3, "activity": 3, "mean": 4.0}
    assert score("prosthesis", {"hours": 7.5})[1] == {"hours": 7.5}
    assert score("medication", {"rows": [{"name": "pregabalin", "dose": "75 mg"}],
                                "text": ""})[1] == {"count": 1}
    for mid, answers, why in (
            ("pain", {"average": 3}, "needs an answer for each"),
            ("pain", {"average": 3, "worst": float("inf")}, "must be a number"),
            ("pain", {"average": True, "worst": 3}, "must be a number"),
            ("pain", {"average": 3.5, "worst": 3}, "steps of 1"),
            ("prosthesis", {"hours": 7.25}, "steps of 0.5"),
            ("episodes", {"per_day": -1, "duration_min": 3}, "outside 0..100"),
            ("medication", {"rows": [{"name": "x", "dose": "d" * 41}]}, "at most 40"),
            ("medication", {"rows": {}}, "list of at most 10"),
            ("nope", {}, "unknown measure")):
        with pytest.raises(OutcomeError, match=why):
            score(mid, answers)


def test_the_clinics_licensed_texts_load_from_a_file(tmp_path):
    assert all("Statement" in i.text for i in MEASURES["pcs"].items)   # no licensed text ships
    path = tmp_path / "texts.toml"
    path.write_text('[pcs]\nprompt = "Licensed instructions"\n"1" = "Licensed item one"\n',
                    encoding="utf-8")
    texts = load_item_texts(path)
    measures = battery(texts)
    assert measures["pcs"].items[0].text == "Licensed item one"
    assert measures["pcs"].prompt == "Licensed instructions"
    assert measures["pcs"].items[1].text == MEASURES["pcs"].items[1].text
    settings = load_settings(overrides={"outcomes.item_texts_file": str(path)})
    from vrgmi.outcomes.battery import battery_from_settings
    assert battery_from_settings(settings)["pcs"].items[0].text == "Licensed item one"
    path.write_text('[pcs]\n"14" = "x"\n', encoding="utf-8")
    with pytest.raises(OutcomeError, match="pcs has no item '14'"):
        load_item_texts(path)
    (tmp_path / "t.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(OutcomeError, match="is not valid JSON"):
        load_item_texts(tmp_path / "t.json")


# --- scheduling ------------------------------------------------------------------------------
def test_time_points_and_months():
    assert parse_months("6, 1,3") == (1, 3, 6) and parse_months([12]) == (12,)
    for bad in ("0", "1,x", "25", "", [True]):
        with pytest.raises(OutcomeError):
            parse_months(bad)
    assert timepoints((1, 3, 6)) == ["baseline", "phase_imagery", "phase_mirror", "end",
                                     "fu_1m", "fu_3m", "fu_6m"]
    assert check_timepoint("fu_12m") == "fu_12m"
    for bad in ("fu_0m", "fu_25m", "phase_laterality", "later", 3):
        with pytest.raises(OutcomeError):
            check_timepoint(bad)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert Rules.from_settings(OutcomesSettings(followup_months="2,4")).followup_months == (2, 4)


def _status(result, tp):
    return next(v for v in result if v.timepoint == tp).status


def test_follow_ups_are_due_then_overdue_then_missed_after_the_end():
    rules = Rules()           # due 7 days before, overdue after 14, missed after 60
    end = date(2026, 3, 2)
    done = {"baseline": date(2026, 1, 5), "end": end}
    at = {d: visits(done, d, rules, phase="mirror", phase_started=date(2026, 2, 16),
                    treatment_ended=end) for d in
          (date(2026, 3, 20), date(2026, 3, 26), date(2026, 4, 16), date(2026, 4, 17),
           date(2026, 6, 1), date(2026, 6, 2))}
    fu1 = date(2026, 4, 2)
    assert [v.date for v in at[date(2026, 3, 20)] if v.timepoint.startswith("fu_")] == [
        fu1, date(2026, 6, 2), date(2026, 9, 2)]
    assert _status(at[date(2026, 3, 20)], "fu_1m") == "upcoming"
    assert _status(at[date(2026, 3, 26)], "fu_1m") == "due"          # a week before
    assert _status(at[date(2026, 4, 16)], "fu_1m") == "due"          # 14 days after
    assert _status(at[date(2026, 4, 17)], "fu_1m") == "overdue"
    assert _status(at[date(2026, 6, 1)], "fu_1m") == "overdue"       # 60 days after
    assert _status(at[date(2026, 6, 2)], "fu_1m") == "missed"
    assert _status(at[date(2026, 6, 2)], "fu_3m") == "due"
    assert _status(at[date(2026, 6, 2)], "phase_mirror") == "missed"  # dated: the phase start
    assert _status(at[date(2026, 6, 2)], "phase_imagery") == "due"   # a past phase: no date
    assert _status(at[date(2026, 6, 2)], "end") == "done"


def test_the_end_is_projected_from_the_last_phase_until_the_therapist_records_it(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    upsert_patient(db, "P01", side="left", level="transradial")
    save_program(db, Program("P01", "mirror", phase_started=date(2026, 2, 16)))
    set_plan(db, "P01", followup_months=[1, 3, 6])
    page = patient_outcomes(db, "P01", date(2026, 2, 20))
    assert [(v["timepoint"], v["status"]) for v in page["visits"]] == [
        ("baseline", "due"), ("phase_imagery", "due"), ("phase_mirror", "due"),
        ("end", "upcoming")]
    assert page["visits"][-1]["date"] == "2026-03-02"       # mirror start + 14 days
    assert patient_outcomes(db, "P01", date(2026, 2, 24))["visits"][-1]["status"] == "due"
    record_visit(db, "P01", "end", {"pain": {"average": 2, "worst": 4}}, "t",
                 datetime(2026, 3, 4, 10, tzinfo=timezone.utc))
    assert get_plan(db, "P01")["treatment_ended"] == "2026-03-04"
    page = patient_outcomes(db, "P01", date(2026, 4, 20))
    assert {v["timepoint"]: (v["date"], v["status"]) for v in page["visits"]
            if v["timepoint"].startswith("fu_")} == {
        "fu_1m": ("2026-04-04", "overdue"), "fu_3m": ("2026-06-04", "upcoming"),
        "fu_6m": ("2026-09-04", "upcoming")}
    due = clinic_outcomes(db, date(2026, 4, 20))["due"]
    assert [(d["patient"], d["timepoint"], d["status"]) for d in due][:1] == [
        ("P01", "fu_1m", "overdue")]
    db.close()


# --- the responder analysis on a simulated clinic ------------------------------------------
@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('clinic') / 'r.sqlite3'}")
    fill_clinic(db)
    yield db
    db.close()


def _expected(tp: str, share: float) -> tuple[int, int, int]:
    """(responders, evaluable, drop-outs) at ``tp`` counted straight from CLINIC_PAIN."""
    k = n = drop = 0
    for pains in CLINIC_PAIN.values():
        if pains.get(tp) is None:
            drop += 1
            continue
        if pains["baseline"] == 0:
            continue
        n += 1
        k += (pains["baseline"] - pains[tp]) / pains["baseline"] >= share
    return k, n, drop


def test_responder_rates_median_and_iqr_on_a_simulated_clinic(clinic):
    data = clinic_outcomes(clinic, TODAY)
    s = data["summary"]
    assert s["patients"] == s["with_baseline"] == len(CLINIC_PAIN)
    rows = {r["timepoint"]: r for r in s["timepoints"]}
    for tp in ("end", "fu_1m", "fu_3m"):
        for key, share in (("30", 0.30), ("50", 0.50)):
            k, n, drop = _expected(tp, share)
            r = rows[tp]["responders"][key]
            assert (r["n"], rows[tp]["evaluable"], rows[tp]["dropouts"]) == (k, n, drop)
            assert r["rate"] == pytest.approx(k / n, abs=1e-4)
            assert r["rate_itt"] == pytest.approx(k / (n + drop), abs=1e-4)
        changes = [p[tp] - p["baseline"] for p in CLINIC_PAIN.values()
                   if p.get(tp) is not None]
        q1, med, q3 = statistics.quantiles(changes, n=4, method="inclusive")
        c = rows[tp]["change"]["pain.average"]
        assert c["n"] == len(changes)
        assert (c["q1"], c["median"], c["q3"]) == pytest.approx((q1, med, q3), abs=1e-4)
    # by hand: at the end C01 -50 %, C02 -17 %, C03 -60 %, C04 0 %, C06 -33 %, C07 -50 %
    assert rows["end"]["responders"]["30"]["rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert rows["end"]["responders"]["50"]["rate"] == pytest.approx(3 / 6, abs=1e-4)
    assert rows["end"]["pain_pct"]["median"] == pytest.approx(-41.6667, abs=1e-3)
    assert rows["fu_3m"]["dropouts"] == 2 and rows["fu_1m"]["dropouts"] == 1
    assert rows["fu_3m"]["responders"]["30"]["rate_itt"] == pytest.approx(2 / 6, abs=1e-4)
    # PSFS (10 - pain) rises as pain falls: its median change mirrors the pain's
    assert rows["end"]["change"]["psfs.mean"]["median"] == -rows["end"]["change"][
        "pain.average"]["median"]
    # a filtered set of patients
    sub = clinic_outcomes(clinic, TODAY, ids=["C01", "C03"])["summary"]
    assert sub["patients"] == 2
    assert next(r for r in sub["timepoints"] if r["timepoint"] == "fu_3m")["dropouts"] == 1
    # the simulated sessions are there too: the visits know the phase
    assert {p["id"]: p["missed"] for p in data["patients"]}["C06"] == ["fu_1m", "fu_3m"]


def test_a_patients_change_from_baseline(clinic):
    page = patient_outcomes(clinic, "C01", TODAY)
    rows = {r["timepoint"]: r for r in page["change"]["pain.average"]}
    assert rows["end"] == {"timepoint": "end", "value": 4, "change": -4, "pct": -50.0}
    assert rows["fu_1m"]["pct"] == -62.5
    assert [r["timepoint"] for r in page["change"]["pain.worst"]] == [
        "baseline", "end", "fu_1m", "fu_3m"]
    assert page["plan"]["treatment_ended"] == END.date().isoformat()


# --- exports ---------------------------------------------------------------------------------
def test_fhir_outcome_resources_validate_and_carry_loinc_where_it_exists(clinic, tmp_path):
    record_visit(clinic, "C07", "fu_3m", {
        "pcs": {str(k): 2 for k in range(1, 14)},
        "medication": {"rows": [{"name": "gabapentin", "dose": "300 mg",
                                 "frequency": "at night"}], "text": "less than before"},
        "prosthesis": {"hours": 10.5}, "interference": {"sleep": 1, "mood": 2, "activity": 2}},
        "t", END + timedelta(days=95))
    bundle = build_bundle(clinic, "C07")            # validated by fhir.resources
    data = bundle_dict(clinic, "C07")
    resources = [e["resource"] for e in data["entry"]]
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"
                 and "outcomes-" in r["questionnaire"]]
    observations = [r for r in resources if r["resourceType"] == "Observation"
                    and "derivedFrom" in r]
    assert len(responses) == 2 * 4 + 4      # pain and PSFS at 4 visits, 4 measures more at 3 m
    for r in responses:
        QuestionnaireResponse.model_validate(r)
    for o in observations:
        Observation.model_validate(o)
    pain = [o for o in observations if any(c["system"] == LOINC for c in o["code"]["coding"])]
    assert pain and all(o["code"]["coding"][0]["code"] == "72514-3" for o in pain)
    assert {c["code"] for o in pain for c in o["code"]["coding"] if c["system"] == CODE_SYSTEM} \
        == {"outcome-pain-average", "outcome-pain-worst"}
    pcs = next(o for o in observations if o["code"]["coding"][0]["code"] == "outcome-pcs-total")
    assert pcs["valueInteger"] == 26 and pcs["code"]["coding"][0]["system"] == CODE_SYSTEM
    hours = next(o for o in observations
                 if o["code"]["coding"][0]["code"] == "outcome-prosthesis-hours")
    assert hours["valueQuantity"] == {"value": 10.5, "unit": "h/day",
                                      "system": "http://unitsofmeasure.org", "code": "h/d"}
    mean = next(o for o in observations
                if o["code"]["coding"][0]["code"] == "outcome-interference-mean")
    assert mean["valueQuantity"]["value"] == pytest.approx(5 / 3, abs=1e-4)
    med = next(r for r in responses if r["questionnaire"].endswith("outcomes-medication"))
    assert med["item"][0]["item"][0]["answer"] == [{"valueString": "gabapentin"}]
    assert len({r["id"] for r in resources}) == len(resources)
    assert Bundle.model_validate_json(bundle.model_dump_json()).entry


def test_csv_tables_of_a_patient_and_of_the_clinic(clinic):
    text = csv_files(clinic, "C01")["C01-outcomes.csv"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["timepoint"], r["score"], r["value"]) for r in rows if r["measure"] == "pain"} \
        >= {("baseline", "average", "8"), ("end", "average", "4")}
    files = clinic_csv_files(clinic, TODAY)
    responders = list(csv.DictReader(io.StringIO(files["outcomes-responders.csv"])))
    end = next(r for r in responders if r["timepoint"] == "end" and not r["score"])
    assert (end["responders_30"], end["evaluable"], end["dropouts"]) == ("4", "6", "0")
    assert float(end["rate_50"]) == pytest.approx(0.5)
    scores = list(csv.DictReader(io.StringIO(files["outcomes-scores.csv"])))
    c03 = next(r for r in scores if r["patient"] == "C03" and r["timepoint"] == "end"
               and r["score"] == "pain.average")
    assert (c03["value"], c03["baseline"], c03["change"], c03["pct_change"]) == (
        "2", "5", "-3", "-60.0")
    visits_ = list(csv.DictReader(io.StringIO(files["outcomes-visits.csv"])))
    assert {(r["patient"], r["timepoint"], r["status"]) for r in visits_} >= {
        ("C06", "fu_1m", "missed"), ("C01", "fu_3m", "done")}


def test_the_clinic_report_pdf_renders(clinic, tmp_path):
    pdf = clinic_report_bytes(clinic, TODAY)
    assert pdf[:5] == b"%PDF-"
    path = tmp_path / "clinic.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1) == str(PAGE_COUNT)
    subprocess.run(["pdftoppm", "-r", "40", "-f", "2", "-l", "2", "-png", str(path),
                    str(tmp_path / "page")], check=True)
    from matplotlib.image import imread
    image = imread(next(tmp_path.glob("page*.png")))
    ink = (image[..., :3].mean(axis=2) < 0.9).mean()
    assert 0.02 < ink < 0.6                      # charts drawn, not a blank page
    assert json.dumps(clinic_outcomes(clinic, TODAY)["summary"])     # JSON-ready
    assert np.isfinite(image).all()


def test_a_patients_progress_report_gains_an_outcomes_page(clinic, tmp_path):
    from vrgmi.export.report_pdf import PAGE_COUNT as REPORT_PAGES, report_bytes

    messages: list[str] = []
    path = tmp_path / "c01.pdf"
    path.write_bytes(report_bytes(clinic, "C01", progress_cb=messages.append))
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1))
    assert pages == REPORT_PAGES + 1 and "report: outcomes" in messages
    assert messages[-1] == f"report: {pages} pages written"


def test_the_outcomes_command_prints_the_responders_and_writes_the_clinic_files(
        clinic, tmp_path, capsys):
    from vrgmi.cli import main

    url = str(clinic.url)
    assert main(["outcomes", "--database", url, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    end = next(line for line in out.splitlines() if line.startswith("end of treatment"))
    assert end.split()[3:5] == ["7", "0"] and "4 (67 % / 67 %)" in end
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clinic-outcomes.pdf", "outcomes-responders.csv", "outcomes-scores.csv",
        "outcomes-visits.csv"]
    assert main(["outcomes", "--database", url, "--patients", "C01,C06"]) == 0
    assert "2 patients" in capsys.readouterr().out
    assert main(["outcomes", "--database", url, "--patients", "../x"]) == 2
    assert "patient id '../x'" in capsys.readouterr().err


def test_a_laterality_block_after_the_end_shows_retention(clinic):
    from vrgmi.events import Event
    from vrgmi.records.store import EventWriter, event_uid

    wall = (END + timedelta(days=31)).timestamp()
    trials = [("left", True, 1800), ("left", True, 2000), ("left", False, 2500),
              ("left", True, 2200), ("right", True, 1500), ("right", True, 1600),
              ("right", True, 1800), ("right", True, 1700)]
    events = [("session_started", {"patient": "C02", "phase": "mirror"}, ""),
              ("scene_started", {"phase": "laterality", "params": {}}, "laterality")]
    events += [("trial", {"index": i, "block": 0, "side": side, "correct": ok, "rt_ms": rt,
                          "probe": True, "timeout": False}, "laterality")
               for i, (side, ok, rt) in enumerate(trials)]
    events += [("scene_finished", {"summary": {}, "reason": "completed"}, "laterality"),
               ("session_finished", {"reason": "stopped", "minutes": 4.0}, "")]
    writer = EventWriter()
    with clinic.session() as s:
        for k, (kind, data, scene) in enumerate(events):
            e = Event(kind, 2.0 * k, data, scene, "C02-fu1", wall + 2.0 * k)
            writer.write(s, e, event_uid(e))
    ret = patient_outcomes(clinic, "C02", TODAY)["laterality"]
    assert ret["end"]["session"] == "C02-s07"          # the last session before the end
    (after,) = ret["after"]
    assert after["session"] == "C02-fu1" and after["date"] == (END + timedelta(days=31)).date(
        ).isoformat()
    assert after["sides"]["left"] == {"accuracy": 0.75, "rt_s": 2.0, "n": 4, "probe": True}
    assert after["sides"]["right"] == {"accuracy": 1.0, "rt_s": 1.65, "n": 4, "probe": True}
    assert patient_outcomes(clinic, "C05", TODAY)["laterality"]["after"] == []
