"""The companion's outcome pages over real HTTP against a real server thread and records
database: the battery form round trip (what the form posts is scored and stored, and read
back), the plan, hostile bodies refused and audited once, the clinic's analysis, charts and
exports, and every route behind the token."""
import http.client
import io
import json
import zipfile

import pytest

from vrgmi.companion import Companion
from vrgmi.companion.records import DatabaseRecords
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.outcomes.battery import MEASURES
from vrgmi.outcomes.store import patient_answers, record_visit
from vrgmi.records import open_database
from vrgmi.records.queries import list_commands, upsert_patient

PCS = {str(k): v for k, v in zip(range(1, 14), (4, 3, 2, 1, 0, 2, 3, 4, 4, 3, 2, 1, 0))}
VISIT = {"pain": {"average": 6, "worst": 9},
         "episodes": {"per_day": 5, "duration_min": 12},
         "sensation": {"phantom_sensation": 7, "residual_pain": 3},
         "interference": {"sleep": 6, "mood": 4, "activity": 5},
         "pcs": PCS,
         "psfs": {"activities": [{"name": "Tying shoelaces", "rating": 2},
                                 {"name": "Cycling", "rating": 5}]},
         "medication": {"rows": [{"name": "gabapentin", "dose": "300 mg",
                                  "frequency": "three times a day"}],
                        "text": "ibuprofen on bad days"},
         "prosthesis": {"hours": 7.5}}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('outc') / 'r.sqlite3'}")
    upsert_patient(db, "P01", side="left", level="transradial")
    upsert_patient(db, "P02", side="right", level="transtibial")
    yield db
    db.close()


@pytest.fixture(scope="module")
def server(records):
    companion = Companion(StatusBoard(), CommandQueue(), records=DatabaseRecords(records),
                          port=0, pair_rate=(1000.0, 1000.0))
    companion.start()
    yield companion
    companion.stop()


@pytest.fixture(scope="module")
def token(server):
    pairing = server.tokens.new_pairing_token()
    return server.tokens.pair(pairing, "pytest")[0]


def call(server, method, path, body=None, token=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, data, headers)
    reply = conn.getresponse()
    return reply.status, dict(reply.getheaders()), reply.read()


def audits(server, records):
    assert server.audit.flush(20.0)
    return list_commands(records, limit=1000)


ROUTES = [("GET", "/api/outcomes"), ("GET", "/api/outcomes/battery"),
          ("GET", "/api/outcomes/plots/responders.png"), ("GET", "/api/outcomes/export/pdf"),
          ("GET", "/api/patients/P01/outcomes"), ("POST", "/api/patients/P01/outcomes"),
          ("POST", "/api/patients/P01/outcomes/plan"),
          ("GET", "/api/patients/P01/outcomes/plot.png")]


def test_every_outcome_route_needs_a_token(server):
    for method, path in ROUTES:
        body = {"timepoint": "baseline", "answers": VISIT} if method == "POST" else None
        status, _h, text = call(server, method, path, body, "not-a-token")
        assert status == 401 and b"P01" not in text, (method, path)
    assert patient_answers(server.records.db, "P01") == []


def test_the_battery_form_round_trip(server, token, records):
    status, _h, body = call(server, "GET", "/api/outcomes/battery", token=token)
    form = json.loads(body)
    assert status == 200 and [m["id"] for m in form["measures"]] == list(MEASURES)
    pcs = next(m for m in form["measures"] if m["id"] == "pcs")
    assert len(pcs["items"]) == 13 and pcs["licensed_text"]
    ids = [t["id"] for t in form["timepoints"]]
    assert ids[:1] + ids[-3:] == ["baseline", "fu_1m", "fu_3m", "fu_6m"]
    # what the form posts: every measure at baseline
    before = len(audits(server, records))
    status, _h, body = call(server, "POST", "/api/patients/P01/outcomes",
                            {"timepoint": "baseline", "answers": VISIT}, token)
    assert status == 201, body
    stored = {r["measure"]: r for r in json.loads(body)["stored"]}
    assert stored["pcs"]["scores"] == {"total": 29, "rumination": 13, "magnification": 5,
                                       "helplessness": 11}
    assert stored["psfs"]["scores"] == {"mean": 3.5}
    assert stored["interference"]["scores"]["mean"] == 5.0
    assert stored["medication"]["scores"] == {"count": 1}
    assert stored["prosthesis"]["scores"] == {"hours": 7.5}
    rows = audits(server, records)
    assert len(rows) == before + 1 and rows[0]["command"] == "outcome_visit" and rows[0]["accepted"]
    assert "gabapentin" not in json.dumps(rows[0]["args"])          # no answers in the audit
    # read back: the patient's outcomes page
    status, _h, body = call(server, "GET", "/api/patients/P01/outcomes", token=token)
    page = json.loads(body)
    assert status == 200 and page["record"]["baseline"]["pcs.total"] == 29
    assert page["answers"][0]["by"].startswith("companion:")
    assert page["laterality"] == {"end": None, "after": []}         # treatment not ended
    assert next(v for v in page["visits"] if v["timepoint"] == "baseline")["status"] == "done"
    status, headers, png = call(server, "GET", "/api/patients/P01/outcomes/plot.png",
                                token=token)
    assert status == 200 and png[:4] == b"\x89PNG" and headers["Content-Type"] == "image/png"


def test_the_plan_and_the_end_of_treatment(server, token):
    status, _h, body = call(server, "POST", "/api/patients/P02/outcomes/plan",
                            {"measures": ["psfs", "pain"], "followup_months": [6, 3]}, token)
    assert status == 200 and json.loads(body) == {"measures": ["pain", "psfs"],
                                                  "followup_months": [3, 6],
                                                  "treatment_ended": None}
    status, _h, body = call(server, "POST", "/api/patients/P02/outcomes",
                            {"timepoint": "end", "answers": {"pain": {"average": 2,
                                                                      "worst": 4}}}, token)
    assert status == 201
    page = json.loads(call(server, "GET", "/api/patients/P02/outcomes", token=token)[2])
    assert page["plan"]["treatment_ended"] is not None
    assert [v["timepoint"] for v in page["visits"]] == ["baseline", "end", "fu_3m", "fu_6m"]


@pytest.mark.parametrize("body", [
    {"timepoint": "baseline", "answers": {"pain": {"average": 11, "worst": 3}}},
    {"timepoint": "baseline", "answers": {"pain": {"average": True, "worst": 3}}},
    {"timepoint": "baseline", "answers": {"pain": {"average": 2.5, "worst": 3}}},
    {"timepoint": "baseline", "answers": {"pain": {"average": 2}}},
    {"timepoint": "baseline", "answers": {"pain": {"average": 2, "worst": 3, "x": 1}}},
    {"timepoint": "yesterday", "answers": {"pain": {"average": 2, "worst": 3}}},
    {"timepoint": "fu_99m", "answers": {"pain": {"average": 2, "worst": 3}}},
    {"timepoint": "baseline", "answers": {"nope": {}}},
    {"timepoint": "baseline", "answers": []},
    {"timepoint": "baseline",
     "answers": {"psfs": {"activities": [{"name": "a", "rating": 1}] * 6}}},
    {"timepoint": "baseline", "answers": {"psfs": {"activities": [{"name": "", "rating": 1}]}}},
    {"timepoint": "baseline", "answers": {"medication": {"rows": [{"name": "x" * 81}]}}},
    {"timepoint": "baseline", "answers": {"prosthesis": {"hours": 24.25}}},
    # a good measure with a bad one: nothing is stored
    {"timepoint": "end", "answers": {"pain": {"average": 2, "worst": 3},
                                     "pcs": {str(k): 5 for k in range(1, 14)}}},
])
def test_hostile_visits_are_refused_stored_never_and_audited_once(server, token, records, body):
    before_rows = len(patient_answers(records, "P01"))
    before = len(audits(server, records))
    status, _h, text = call(server, "POST", "/api/patients/P01/outcomes", body, token)
    assert status == 400 and "outcomes:" in json.loads(text)["error"]
    assert len(patient_answers(records, "P01")) == before_rows
    rows = audits(server, records)
    assert len(rows) == before + 1 and not rows[0]["accepted"]


@pytest.mark.parametrize("path,raw", [
    ("/api/patients/P01/outcomes", b'{"timepoint":"baseline","answers":' + b"[" * 40 + b"]" * 40
     + b"}"),
    ("/api/patients/P01/outcomes", b'{"timepoint":"baseline","answers":{"pain":{"average":NaN,'
     b'"worst":1}}}'),
    ("/api/patients/P01/outcomes/plan", b'{"measures":["pain"],"treatment_ended":"2026-13-40"}'),
    ("/api/patients/P01/outcomes/plan", b'{"followup_months":[0]}'),
    ("/api/patients/P01/outcomes/plan", b'{"owner":"me"}'),
    ("/api/patients/P-nl%0A/outcomes", b'{"timepoint":"baseline","answers":{}}'),
])
def test_malformed_bodies_are_one_line_400s(server, token, records, path, raw):
    before = len(audits(server, records))
    status, _h, text = call(server, "POST", path, token=token, raw=raw)
    assert status == 400 and "\n" not in json.loads(text)["error"]
    assert len(audits(server, records)) == before + 1


def test_clinic_analysis_charts_and_exports(server, token, records):
    # P01's baseline, whichever test worker runs this (the round trip stores the same visit)
    if not any(a["timepoint"] == "baseline" for a in patient_answers(records, "P01")):
        record_visit(records, "P01", "baseline", VISIT, by="pytest")
    status, _h, body = call(server, "GET", "/api/outcomes", token=token)
    data = json.loads(body)
    assert status == 200 and {p["id"] for p in data["patients"]} == {"P01", "P02"}
    assert data["summary"]["with_baseline"] == 1                 # P02 has no baseline
    assert any(d["patient"] == "P02" and d["timepoint"] == "baseline" for d in data["due"])
    status, _h, body = call(server, "GET", "/api/outcomes?patients=P02", token=token)
    assert [p["id"] for p in json.loads(body)["patients"]] == ["P02"]
    assert call(server, "GET", "/api/outcomes?patients=P02,..%2F", token=token)[0] == 400
    for plot in ("responders", "change"):
        status, _h, png = call(server, "GET", f"/api/outcomes/plots/{plot}.png", token=token)
        assert status == 200 and png[:4] == b"\x89PNG"
    assert call(server, "GET", "/api/outcomes/plots/nope.png", token=token)[0] == 404
    status, headers, data = call(server, "GET", "/api/outcomes/export/csv", token=token)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == [
        "outcomes-responders.csv", "outcomes-scores.csv", "outcomes-visits.csv"]
    status, headers, data = call(server, "GET", "/api/outcomes/export/pdf", token=token)
    assert status == 200 and data[:5] == b"%PDF-"
    assert headers["Content-Disposition"].startswith('attachment; filename="vrgmi-clinic-')
