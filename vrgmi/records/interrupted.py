"""Close the sessions a crash left open, as ``interrupted``, when the patient's next one starts.

A session killed mid-way (SIGKILL, a power cut, the machine frozen) never writes its
``session_finished``: its row keeps ``ended`` NULL and its last scene run stays open. Before a
new session of the same patient starts, :func:`close_interrupted` closes each such session
with what was logged:

1. its JSON Lines log (``events-<session>.jsonl`` in the output folder, every line fsync'ed
   when written) is replayed through the same :class:`~vrgmi.records.store.EventWriter` the
   live sink uses; rows carry the event's ``event_uid``, so what the database already holds
   is skipped and only the event in flight at the kill (at most one) is added;
2. the session ends at its last stored moment (trial, questionnaire, session event or scene
   start) with ``reason_ended = "interrupted"``, and every scene run still open ends there
   too with reason ``interrupted``.

The gate then reads the session with reason ``interrupted`` (:data:`vrgmi.program.INTERRUPTED`):
it is never counted as a completed session (docs/program.md, docs/records.md). A log that
says the session did finish (its ``session_finished`` was in flight) closes it normally. A
session whose very first event was in flight has no row at all: a log in the folder that
opens with the patient's ``session_started``, later than their newest stored session, is
stored and closed the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from vrgmi.errors import VrgmiError
from vrgmi.events import Event, read_events
from vrgmi.program import INTERRUPTED
from vrgmi.records.db import Database, RecordsError
from vrgmi.records.queries import as_utc
from vrgmi.records.schema import (QuestionnaireAnswer, SceneRun, Session, SessionEvent, Trial,
                                  check_patient_id)
from vrgmi.records.store import EventWriter, event_uid


@dataclass
class Interrupted:
    """One session closed by :func:`close_interrupted`."""

    session: str
    #: trials recovered from the JSON Lines log (not in the database before)
    recovered: int
    #: the session's stored trials after the close
    trials: int
    #: True when the log held the session's own end (it finished; only the write was lost)
    finished: bool = False

    def line(self) -> str:
        """One line for the console."""
        if self.finished:
            return (f"records: session {self.session} had finished; its last events were "
                    f"stored from its log ({self.recovered} trials recovered)")
        return (f"records: session {self.session} was interrupted (no end recorded); closed "
                f"as interrupted with {self.trials} trials ({self.recovered} recovered from "
                "its log)")


def open_sessions(db: Database, patient_id: str) -> list[str]:
    """The ids of the patient's sessions that never ended, oldest first."""
    check_patient_id(patient_id)
    with db.session() as s:
        return list(s.scalars(select(Session.id).where(Session.patient_id == patient_id,
                                                       Session.ended.is_(None))
                              .order_by(Session.started, Session.id)))


def _replay_log(db: Database, path: Path, session_id: str, patient_id: str) -> None:
    """Store the events of ``session_id`` in the log at ``path`` that the database lacks
    (each in its own transaction, as the live sink does; stored ones are skipped by uid)."""
    if not path.is_file():
        return
    writer = EventWriter(patient_id)
    for record in read_events(path):
        try:
            event = Event(**record)
        except (TypeError, ValueError):
            continue                            # not an event line: nothing to store
        if event.session != session_id:
            continue
        try:
            with db.session() as s:
                writer.write(s, event, event_uid(event))
        except RecordsError:
            raise                               # the database itself: the caller says so
        except (VrgmiError, TypeError, ValueError):
            continue                            # an event no writer can store (as the sink)


def _first_event(path: Path) -> dict | None:
    """The first event of a log (None when it has none or is unreadable)."""
    try:
        return next(read_events(path), None)
    except (OSError, UnicodeDecodeError):
        return None


def _log_only(db: Database, patient_id: str, logs_dir: Path) -> list[str]:
    """Sessions of the patient that only their logs know: a log in ``logs_dir`` opening with
    this patient's ``session_started``, later than their newest stored session, whose
    session has no row (the crash came before its first event was committed)."""
    with db.session() as s:
        newest = s.scalar(select(func.max(Session.started))
                          .where(Session.patient_id == patient_id))
        stored = set(s.scalars(select(Session.id).where(Session.patient_id == patient_id)))
    after = as_utc(newest).timestamp() if newest is not None else float("-inf")
    found = []
    for path in sorted(logs_dir.glob("events-*.jsonl")):
        first = _first_event(path)
        if (isinstance(first, dict) and first.get("kind") == "session_started"
                and isinstance(first.get("data"), dict)
                and first["data"].get("patient") == patient_id
                and isinstance(first.get("wall"), (int, float)) and first["wall"] > after
                and first.get("session") not in stored
                and path.name == f"events-{first.get('session')}.jsonl"):
            found.append(first["session"])
    return found


def _trials(db: Database, session_id: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count(Trial.id))
                            .where(Trial.session_id == session_id)) or 0)


def _last_moment(s, row: Session) -> datetime:
    """The newest wall time stored for the session (its start when nothing else is)."""
    sid = row.id
    times = [s.scalar(select(func.max(Trial.completed)).where(Trial.session_id == sid)),
             s.scalar(select(func.max(QuestionnaireAnswer.answered))
                      .where(QuestionnaireAnswer.session_id == sid)),
             s.scalar(select(func.max(SessionEvent.wall)).where(SessionEvent.session_id == sid)),
             s.scalar(select(func.max(SceneRun.started)).where(SceneRun.session_id == sid)),
             row.started]
    return max(as_utc(t) for t in times if t is not None)


def close_interrupted(db: Database, patient_id: str,
                      logs_dir: str | Path | None = None) -> list[Interrupted]:
    """Close every session of ``patient_id`` that never ended (see the module docstring);
    ``logs_dir`` is where their ``events-<session>.jsonl`` logs are looked for. Call it
    before the patient's next session starts (a patient is in one headset at a time)."""
    closed = []
    logs = Path(logs_dir) if logs_dir is not None else None
    unstored = _log_only(db, patient_id, logs) if logs is not None and logs.is_dir() else []
    for sid in unstored:
        _replay_log(db, logs / f"events-{sid}.jsonl", sid, patient_id)
    for sid in dict.fromkeys([*open_sessions(db, patient_id), *unstored]):
        before = 0 if sid in unstored else _trials(db, sid)
        if logs is not None and sid not in unstored:
            _replay_log(db, logs / f"events-{sid}.jsonl", sid, patient_id)
        with db.session() as s:
            row = s.get(Session, sid)
            if row is None:                     # a log whose events could not be stored
                continue
            finished = row.ended is not None
            if not finished:
                end = _last_moment(s, row)
                row.ended, row.reason_ended = end, INTERRUPTED
                row.minutes = round((end - as_utc(row.started)).total_seconds() / 60.0, 3)
                for run in s.scalars(select(SceneRun).where(SceneRun.session_id == sid,
                                                            SceneRun.ended.is_(None))):
                    last = s.scalars(select(Trial).where(Trial.scene_run_id == run.id)
                                     .order_by(Trial.t.desc()).limit(1)).first()
                    run.ended = as_utc(last.completed) if last is not None else end
                    run.t_end = last.t if last is not None else run.t_start
                    run.reason = INTERRUPTED
        after = _trials(db, sid)
        closed.append(Interrupted(sid, after - before, after, finished))
    return closed
