"""The records store on SQLite and on a real PostgreSQL server (tests/pg_server.py)."""
from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

import pg_server
from pg_server import pg_url  # noqa: F401  (fixture)
from records_data import SEED0, fill_history
from vrgmi.events import EVENT_KINDS, Event, EventBus
from vrgmi.outcomes.store import record_visit
from vrgmi.records import RecordSink, RecordsError, UnknownPatient, open_database
from vrgmi.records import queries as q
from vrgmi.records.db import current_revision, head_revision
from vrgmi.records.schema import (TABLES, Base, CommandLog, GateDecision, PatientIdError,
                                  QuestionnaireAnswer, SessionEvent, Trial)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'records.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    database = open_database(url)
    yield database
    database.close()


def _store(db, tmp_path, pid="P01", n=4):
    sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
    count = fill_history(sink, pid, n)
    sink.close()
    assert sink.error is None and sink.written == count
    return count


def test_migrations_reach_head_and_match_the_models(db):
    assert current_revision(db) == head_revision() == "0005"
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    assert set(inspect(db.engine).get_table_names()) == set(TABLES) | {"alembic_version"}


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2      # FULL
    database.close()


def test_round_trip_of_a_patient_history(db, tmp_path):
    q.upsert_patient(db, "P01", side="left", level="transradial", height_m=1.7,
                     segment_lengths={"forearm": 0.26}, skin_tone="IV")
    q.set_program(db, "P01", "imagery", sessions_per_day=4, minutes_per_session=12)
    _store(db, tmp_path, "P01", 4)
    p = q.get_patient(db, "P01")
    assert (p["amputation_side"], p["height_m"], p["segment_lengths"], p["skin_tone"]) == \
        ("left", 1.7, {"forearm": 0.26}, "IV")
    assert p["program"]["phase"] == "imagery" and p["program"]["sessions_per_day"] == 4
    assert (p["sessions"], p["trials"]) == (4, 4 * 20 + 4)
    sessions = q.list_sessions(db, "P01")
    assert [s["id"] for s in sessions] == ["P01-s01", "P01-s02", "P01-s03", "P01-s04"]
    assert sessions[0]["started"] == "2026-03-02T09:00:00+00:00"
    assert sessions[3]["scenes"] == ["laterality", "imagery"]
    assert (sessions[2]["nrs_pre"], sessions[2]["nrs_post"]) == (5.0, 4.0)
    assert sessions[0]["reason_ended"] == "completed" and sessions[0]["minutes"] == 15.0
    assert [s["seed"] for s in sessions] == [SEED0 + k for k in range(4)]   # --seed replays
    trials = q.session_trials(db, "P01-s01")
    assert len(trials) == 20 and trials[1]["data"]["rotation_deg"] == 30
    assert (trials[1]["side"], trials[1]["correct"], trials[1]["rt_ms"]) == \
        ("right", True, pytest.approx(3010.0))


def test_progress_figures_by_hand(db, tmp_path):
    _store(db, tmp_path, "P01", 4)
    prog = q.progress(db, "P01")
    lat = {(p["session"], p["side"]): p for p in prog["laterality"]}
    # session 1: left correct 5/10 (i = 0, 2, .., 8: RT 2.80..2.88 -> median 2.84 s);
    # right 6/10 (i = 1, 3, .., 11: RT 3.01..3.11 -> median 3.06 s)
    assert lat[("P01-s01", "left")]["accuracy"] == 0.5
    assert lat[("P01-s01", "left")]["rt_s"] == pytest.approx(2.84)
    assert lat[("P01-s01", "right")]["accuracy"] == 0.6
    assert lat[("P01-s01", "right")]["rt_s"] == pytest.approx(3.06)
    # session 4 (k = 3): left 6/10, right 7/10
    assert lat[("P01-s04", "left")]["accuracy"] == 0.6
    assert lat[("P01-s04", "right")]["accuracy"] == 0.7
    # imagery from session 4: ratios 4.0..4.3 / 3.2 -> median (4.1 + 4.2) / 2 / 3.2
    assert [p["session"] for p in prog["imagery"]] == ["P01-s04"]
    assert prog["imagery"][0]["ratio"] == pytest.approx(4.15 / 3.2)
    assert prog["kviq"][0]["visual"] == 18 and prog["kviq"][0]["kinesthetic"] == 15
    assert [(p["pre"], p["post"]) for p in prog["nrs"]] == [(6, 5), (6, 5), (5, 4), (5, 4)]
    assert prog["ssq"][0]["total"] == pytest.approx(7.48)
    assert prog["norms"] == {"accuracy_min": 0.8, "rt_mean_s": 2.0, "rt_sd_s": 0.5,
                             "max_side_rt_diff_s": 0.3, "max_side_accuracy_diff": 0.1}
    assert prog["mirror"] == []


def test_every_event_kind_is_stored(db, tmp_path):
    count = _store(db, tmp_path, "P01", 7)      # session 7 has a mirror scene
    sink = RecordSink(db, spill_path=tmp_path / "spill-stroke.jsonl")   # a touch task's stroke
    sink.put(Event("stroke", 1.0, {"surface": "residual", "delay_s": 0.0}, "touch_phantom",
                   "P01-s07"))
    # the phantom's shape, its schedule and the study condition's code (vrgmi/phantom_setup)
    sink.put(Event("phantom_shaped", 1.5, {"old": {"weight": 0.0}, "new": {"weight": 1.0},
                                           "by": "schedule", "step": 0}, "", "P01-s07"))
    sink.put(Event("study_condition", 1.6, {"code": "K7QD", "index": 0}, "", "P01-s07"))
    sink.put(Event("shaping_decision", 2.0, {"step": 0, "advance": False}, "", "P01-s07"))
    sink.close()
    assert sink.error is None and sink.written == 4
    with db.session() as s:
        kinds = {k for (k,) in s.execute(select(SessionEvent.kind).distinct())}
        assert kinds == {"block_finished", "param_changed", "session_paused",
                         "session_resumed", "recenter", "body_turned",
                         "body_turn_suspected", "body_turn_cleared", "pain_check",
                         "pain_flare", "ssq_alert", "dose_warning", "phase_step_back",
                         "patient_stop", "progression", "stroke", "phantom_shaped",
                         "study_condition", "shaping_decision"}
        assert s.scalar(select(func.count(GateDecision.id))) == 1
        assert s.scalar(select(func.count(QuestionnaireAnswer.id))) == 7 * 3 + 4
        assert s.scalar(select(func.count(Trial.id))) == 7 * 20 + 4 * 4 + 5
        changed = s.scalars(select(SessionEvent).where(SessionEvent.kind == "param_changed")).one()
        assert changed.data == {"name": "speed", "old": 1, "new": 2, "by": "therapist"}
        assert changed.scene_run_id is not None
    session = q.list_sessions(db, "P01")[6]
    assert session["scenes"] == ["laterality", "imagery", "mirror_reach"]
    assert session["ended"] is not None and session["reason_ended"] == "completed"
    with db.session() as s:
        from vrgmi.records.schema import SceneRun
        finished = s.scalars(select(SceneRun).where(SceneRun.session_id == "P01-s07")).all()
        assert [(r.params, r.reason, r.t_end is not None) for r in finished][0] == \
            ({"max_rotation_deg": 90}, "completed", True)
    assert q.gate_history(db, "P01")[0]["advance"] is True
    stored = kinds | {"session_started", "session_finished", "scene_started", "scene_finished",
                      "trial", "questionnaire", "gate_decision"}
    assert stored == set(EVENT_KINDS) and count > 0


def test_replaying_an_event_stores_it_once(db, tmp_path):
    events = []

    class Keep:
        def put(self, e):
            events.append(e)
    fill_history(Keep(), "P01", 1)
    sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
    for e in events + events:
        sink.put(e)
    sink.close()
    assert q.get_patient(db, "P01")["trials"] == 20 and sink.error is None


def test_deleting_a_patient_removes_every_row(db, tmp_path):
    _store(db, tmp_path, "P01", 7)
    _store(db, tmp_path, "P02", 2)
    q.set_program(db, "P01", "mirror")
    q.add_note(db, "P01", "Calm today; asked for shorter blocks.", session_id="P01-s02")
    q.log_command(db, command="pause", by="tok-1", accepted=True, patient_id="P01",
                  session_id="P01-s03")
    q.log_command(db, command="stop", by="tok-1", accepted=True, patient_id="P02")
    record_visit(db, "P01", "end", {"pain": {"average": 3, "worst": 5}}, "tok-1")
    before = q.patient_row_counts(db, "P01")
    assert all(before[t] > 0 for t in TABLES), before
    other = q.patient_row_counts(db, "P02")
    removed = q.delete_patient(db, "P01", by="tok-1")
    assert removed == before
    assert all(v == 0 for v in q.patient_row_counts(db, "P01").values())
    assert q.patient_row_counts(db, "P02") == other
    with db.session() as s:                      # nothing of P01 anywhere, by raw counts
        for table in TABLES:
            model = next(m for m in Base.registry.mappers if m.local_table.name == table).class_
            n = s.scalar(select(func.count()).select_from(model))
            expected = other[table] + (1 if table == "command_log" else 0)  # the deletion audit
            assert n == expected, table
        audit = s.scalars(select(CommandLog).where(CommandLog.command == "delete_patient")).one()
        assert audit.patient_id is None and "P01" not in json.dumps(audit.args)
    with pytest.raises(UnknownPatient, match="no patient 'P01'"):
        q.get_patient(db, "P01")


def test_notes_and_audit_log(db):
    q.upsert_patient(db, "P07", side="right", level="transtibial")
    q.add_note(db, "P07", "first")
    q.add_note(db, "P07", "second")
    assert [n["text"] for n in q.list_notes(db, "P07")] == ["second", "first"]
    with pytest.raises(RecordsError, match="1..10000 characters"):
        q.add_note(db, "P07", "  ")
    q.log_command(db, command="set_param", by="tok-a", accepted=False,
                  args={"name": "time_limit_s", "value": 99}, reason="out of range 1..10",
                  patient_id="P07", session_id="not-yet-written")
    q.log_command(db, command="pause", by="tok-a", accepted=True, patient_id="P07")
    log = q.list_commands(db)
    assert [c["command"] for c in log] == ["pause", "set_param"]
    assert log[1]["accepted"] is False and log[1]["reason"] == "out of range 1..10"
    assert log[1]["args"] == {"name": "time_limit_s", "value": 99} and log[1]["session"] is None
    assert [c["command"] for c in q.list_commands(db, patient_id="P07", limit=1)] == ["pause"]


def test_bad_patient_values_are_one_line_errors(db):
    with pytest.raises(PatientIdError, match="pseudonym, never a name"):
        q.upsert_patient(db, "Jane Doe")
    with pytest.raises(RecordsError, match="side 'up' must be left or right"):
        q.upsert_patient(db, "P09", side="up")
    with pytest.raises(UnknownPatient):
        q.set_program(db, "P404", "laterality")
    with pytest.raises(RecordsError, match="phase = 'dance' is not one of"):
        q.set_program(db, "P404", "dance")


def test_an_unstorable_event_is_kept_in_the_rejected_file(db, tmp_path):
    sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
    bus = EventBus("S-x", [sink])
    bus.emit("session_started", 0, {"patient": "Jane Doe", "phase": "laterality"})
    bus.emit("trial", 1, {"index": 0}, "laterality")
    sink.close()
    assert sink.rejected == 2 and "came before its session_started" in sink.error
    lines = [json.loads(x) for x in sink.rejected_path.read_text().splitlines()]
    assert [r["event"]["kind"] for r in lines] == ["session_started", "trial"]


def test_events_wait_in_the_spill_file_while_the_server_is_down(pg_url, tmp_path):
    srv = pg_server.server()
    name = pg_url.rsplit("/", 1)[1]
    db = open_database(pg_url)
    spill = tmp_path / "spill.jsonl"
    sink = RecordSink(db, spill_path=spill)
    events = []

    class Keep:
        def put(self, e):
            events.append(e)
    fill_history(Keep(), "P01", 2)
    half = len(events) // 2
    for e in events[:half]:
        sink.put(e)
    assert sink.flush()
    with psycopg.connect(srv.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s", (name,))
    for e in events[half:]:
        sink.put(e)
    assert sink.flush()
    assert sink.spilling and sink.error.startswith("records: ")
    spilled = spill.read_text().splitlines()
    assert len(spilled) == len(events) - half
    with psycopg.connect(srv.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    sink.close()
    assert not spill.exists() and sink.error is None
    assert q.get_patient(db, "P01")["trials"] == 40
    assert len(q.questionnaires(db, "P01")) == 6
    db.close()


def test_a_leftover_spill_file_is_replayed_on_the_next_open(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    events = []

    class Keep:
        def put(self, e):
            events.append(e)
    fill_history(Keep(), "P03", 1)
    from vrgmi.records.store import event_uid
    spill = tmp_path / "r.sqlite3.spill.jsonl"
    spill.write_text("".join(json.dumps({"uid": event_uid(e), "event": json.loads(e.to_json())})
                             + "\n" for e in events) + '{"uid": "torn', encoding="utf-8")
    db = open_database(url)
    sink = RecordSink(db)
    assert sink.spill_path == spill
    sink.close()
    assert not spill.exists() and q.get_patient(db, "P03")["trials"] == 20
    db.close()


@pytest.mark.parametrize("url, message", [
    ("not a url", "is not a database URL"),
    ("mysql://u@h/db", "database 'mysql' is not supported"),
    ("sqlite://", "in-memory SQLite database would lose every record"),
    ("sqlite:///:memory:", "in-memory SQLite database would lose every record"),
])
def test_bad_urls_are_one_line_errors(url, message):
    with pytest.raises(RecordsError, match=message) as err:
        open_database(url)
    assert "\n" not in str(err.value)


def test_an_unreachable_server_is_a_one_line_error():
    port = pg_server._free_port()
    with pytest.raises(RecordsError, match="cannot reach the database server") as err:
        open_database(f"postgresql+psycopg://vrgmi:secret@127.0.0.1:{port}/vrgmi")
    assert "\n" not in str(err.value) and "secret" not in str(err.value)


def test_a_damaged_or_newer_sqlite_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(RecordsError, match="not a readable SQLite database") as err:
        open_database(f"sqlite:///{bad}")
    assert "\n" not in str(err.value)
    newer = tmp_path / "newer.sqlite3"
    open_database(f"sqlite:///{newer}").close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(RecordsError, match="written by a newer vrgmi"):
        open_database(f"sqlite:///{newer}")


def test_a_locked_sqlite_file_is_a_one_line_error(tmp_path, monkeypatch):
    import vrgmi.records.db as dbmod
    path = tmp_path / "locked.sqlite3"
    open_database(f"sqlite:///{path}").close()
    monkeypatch.setattr(dbmod, "_SQLITE_BUSY_S", 0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RecordsError, match="is locked by another program") as err:
            open_database(f"sqlite:///{path}")
        assert "\n" not in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_writer_never_blocks_the_frame_thread(tmp_path):
    import time
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    sink = RecordSink(db)
    bus = EventBus("S1", [sink])
    bus.emit("session_started", 0.0, {"patient": "P01", "phase": "laterality"})
    worst = 0.0
    for i in range(300):
        t0 = time.perf_counter()
        bus.emit("trial", i / 90, {"index": i, "correct": True, "rt_s": 1.0}, "laterality")
        worst = max(worst, time.perf_counter() - t0)
    sink.close()
    assert worst < 0.005 and q.get_patient(db, "P01")["trials"] == 300
    db.close()
