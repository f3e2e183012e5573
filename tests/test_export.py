"""Exports: CSV tables, an FHIR Bundle that fhir.resources validates, the progress PDF, the
charts the companion serves, and the `vrgmi export` / `vrgmi patients` commands."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess

import pytest
from fhir.resources.R4B.bundle import Bundle

from records_data import fill_history
from vrgmi.cli import main
from vrgmi.export import export_patient, plots
from vrgmi.export.csv_export import SESSION_COLUMNS, TRIAL_COLUMNS, sessions_csv, trials_csv
from vrgmi.export.fhir import CODE_SYSTEM, NRS_LOINC, bundle_json
from vrgmi.export.report_pdf import PAGE_COUNT, report_bytes
from vrgmi.records import RecordSink, open_database
from vrgmi.records import queries as q


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "records.sqlite3"
    database = open_database(f"sqlite:///{path}")
    sink = RecordSink(database)
    fill_history(sink, "P01", 8)
    fill_history(sink, "P02", 1)
    sink.close()
    q.set_program(database, "P01", "mirror")
    yield database
    database.close()


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_trials_csv_has_a_header_and_one_row_per_trial(db):
    rows = _rows(trials_csv(db, "P01"))
    assert tuple(rows[0]) == TRIAL_COLUMNS
    assert len(rows) - 1 == 8 * 20 + 5 * 4 + 2 * 5        # laterality, imagery, mirror
    first = dict(zip(rows[0], rows[1]))
    assert (first["patient"], first["session"], first["scene"], first["index"]) == \
        ("P01", "P01-s01", "laterality", "0")
    assert (first["correct"], first["rt_ms"], first["side"]) == ("true", "2800.0", "left")
    assert json.loads(first["values"])["rotation_deg"] == 0
    assert first["completed"].startswith("2026-03-02T09:00:")


def test_sessions_csv_columns_and_values(db):
    rows = _rows(sessions_csv(db, "P01"))
    assert tuple(rows[0]) == SESSION_COLUMNS and len(rows) == 9
    s4 = dict(zip(rows[0], rows[4]))
    assert (s4["session"], s4["phase"], s4["scenes"], s4["trials"]) == \
        ("P01-s04", "imagery", "laterality;imagery", "24")
    assert (s4["nrs_pre"], s4["nrs_post"], s4["minutes"]) == ("5.0", "4.0", "15.0")


def test_fhir_bundle_validates_and_carries_no_identity(db):
    text = bundle_json(db, "P01")
    bundle = Bundle.model_validate_json(text)              # R4B models (R4-compatible)
    resources = [e.resource for e in bundle.entry]
    kinds = [r.get_resource_type() for r in resources]
    patients = [r for r in resources if r.get_resource_type() == "Patient"]
    assert len(patients) == 1 and patients[0].identifier[0].value == "P01"
    raw = json.loads(text)
    patient_json = next(e["resource"] for e in raw["entry"]
                        if e["resource"]["resourceType"] == "Patient")
    assert set(patient_json) == {"resourceType", "id", "identifier"}   # no name, birthDate..
    nrs = [r for r in resources if r.get_resource_type() == "Observation"
           and r.code.coding[0].code == NRS_LOINC]
    assert len(nrs) == 16 and nrs[0].code.coding[0].system == "http://loinc.org"
    assert nrs[0].valueInteger == 6 and "before" in nrs[0].note[0].text
    assert nrs[1].valueInteger == 5 and "after" in nrs[1].note[0].text
    assert str(nrs[0].effectiveDateTime).startswith("2026-03-02")
    local = {r.code.coding[0].code for r in resources if r.get_resource_type() == "Observation"
             and r.code.coding[0].system == CODE_SYSTEM}
    assert local == {"laterality-accuracy", "laterality-rt", "imagery-chronometry-ratio",
                     "mirror-task-score", "ssq-total"}
    responses = [r for r in resources if r.get_resource_type() == "QuestionnaireResponse"]
    assert {r.questionnaire.rsplit(":", 1)[1] for r in responses} == {"ssq", "kviq"}
    assert len(next(r for r in responses if r.questionnaire.endswith("ssq")).item) == 16
    assert kinds.count("QuestionnaireResponse") == 8 + 5
    assert bundle_json(db, "P01") == text                  # stable ids: same export twice


def test_the_pdf_report_has_its_pages_and_renders(db, tmp_path):
    messages = []
    path = export_patient(db, "P01", "pdf", tmp_path, progress=messages.append)[0]
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == PAGE_COUNT == 7
    assert messages[0] == "report: reading the records of P01" and "7 pages" in messages[-1]
    assert shutil.which("pdftoppm"), "poppler-utils missing: run tools/system-deps.sh"
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(path), str(tmp_path / "page")],
                   check=True, capture_output=True)
    assert len(list(tmp_path.glob("page-*.png"))) == 7
    assert report_bytes(db, "P02").startswith(b"%PDF-")      # one session: still 7 pages


@pytest.mark.parametrize("name", sorted(plots.PLOTS))
def test_every_chart_renders_as_png_and_svg(db, name):
    prog = q.progress(db, "P01")
    assert plots.render(name, prog, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in plots.render(name, prog, "svg")[:2000]
    empty = q.progress(db, "P02")                            # charts with no data say so
    assert plots.render(name, empty, "png").startswith(b"\x89PNG")


def test_chart_names_and_formats_are_checked(db):
    prog = q.progress(db, "P01")
    with pytest.raises(plots.PlotError, match="no chart 'pie'"):
        plots.render("pie", prog)
    with pytest.raises(plots.PlotError, match="format 'gif'"):
        plots.render("nrs", prog, "gif")


def test_cli_export_and_patients(db, tmp_path, capsys):
    url = str(db.url)
    assert main(["export", "P01", "--format", "csv", "--out", str(tmp_path),
                 "--database", url]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == [
        "P01-outcomes.csv", "P01-questionnaires.csv", "P01-sessions.csv", "P01-trials.csv"]
    assert main(["export", "P01", "--format", "fhir", "--out", str(tmp_path / "b.json"),
                 "--database", url]) == 0
    Bundle.model_validate_json((tmp_path / "b.json").read_text())
    capsys.readouterr()
    assert main(["export", "NOBODY", "--format", "pdf", "--database", url]) == 2
    err = capsys.readouterr().err
    assert err == "vrgmi: records: no patient 'NOBODY' in the records\n"
    assert main(["export", "Jane Doe", "--database", url]) == 2
    assert "never a name" in capsys.readouterr().err
    assert main(["export", "P01", "--database", "oracle://x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["patients", "--database", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("P01") and "8 sessions" in out and "phase mirror" in out


def test_cli_delete_needs_yes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    database = open_database(url)
    sink = RecordSink(database)
    fill_history(sink, "P05", 1)
    sink.close()
    database.close()
    assert main(["patients", "delete", "P05", "--database", url]) == 2
    assert "add --yes to confirm" in capsys.readouterr().err
    assert main(["patients", "delete", "P05", "--yes", "--database", url]) == 0
    assert capsys.readouterr().out.startswith("deleted P05:")
    assert main(["patients", "show", "P05", "--database", url]) == 2
