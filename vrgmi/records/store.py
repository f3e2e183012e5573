"""``RecordSink``: stores a session's events in the records database, off the frame thread.

``put(event)`` (frame thread) only appends to a queue. A writer thread commits each event
in its own transaction as it arrives, so every completed trial is on disk when the next one
starts: a crash (even SIGKILL or a power cut with SQLite ``synchronous=FULL``) loses at most
the event in flight.

If the database fails (server gone, file locked past the busy timeout, disk full) no event
is dropped: the failed event and every later one are appended, fsync'ed, to a *spill file*
(JSON Lines, one ``{"uid", "event"}`` object a line) and the writer retries with back-off
(0.5 s doubling to 30 s). When the database answers again the spill file is replayed in order
and removed; a leftover spill file (a crash while the database was down) is replayed when the
next ``RecordSink`` opens on the same database. Rows carry the event's ``event_uid``, so a
replayed event that was in fact committed is skipped. An event that can never be stored (an
invalid patient id, a trial for an unknown session with no default patient) goes to a
``.rejected.jsonl`` file next to the spill file and :attr:`RecordSink.error` says why.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session as OrmSession

from vrgmi.errors import VrgmiError
from vrgmi.events import Event
from vrgmi.paths import data_dir
from vrgmi.records.db import Database, RecordsError
from vrgmi.records.schema import (GateDecision, Patient, QuestionnaireAnswer, SceneRun, Session,
                                  SessionEvent, Trial, check_patient_id)

#: ``param_changed`` names that change the patient row (vrgmi.session's therapist controls)
PATIENT_PARAMS = {"patient.side": "amputation_side", "patient.amputation_level":
                  "amputation_level", "patient.height_m": "height_m",
                  "patient.skin_tone": "skin_tone"}
#: ``param_changed`` names ``limb_shape.<key>`` go to the patient's ``limb_shape`` values
SHAPE_PREFIX = "limb_shape."
_BACKOFF_S = (0.5, 30.0)


class UnstorableEvent(VrgmiError):
    """An event that no retry can store (kept in the rejected file)."""


def event_uid(event: Event) -> str:
    """A stable id of an event (SHA-1 of its JSON line): the key that makes replays idempotent."""
    return hashlib.sha1(event.to_json().encode("utf-8")).hexdigest()


def default_spill_path(db: Database) -> Path:
    """Where events wait while ``db`` is unreachable: next to a SQLite file, else in the
    user data directory (one file per server URL)."""
    if db.backend == "sqlite":
        return Path(str(db.url.database) + ".spill.jsonl")
    key = hashlib.sha1(db.where.encode()).hexdigest()[:12]
    return data_dir() / f"records-spill-{key}.jsonl"


def _wall(event: Event) -> datetime:
    return datetime.fromtimestamp(event.wall, timezone.utc)


def _clean(event: Event) -> dict[str, Any]:
    """The event's data as strict JSON values (NaN and infinities as None)."""
    return json.loads(event.to_json())["data"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _is_seed(value: Any) -> bool:
    """Whether ``value`` is a session seed (vrgmi.seeding: an int in 1 .. 2**63 - 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2 ** 63


def trial_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The typed copies of a trial's values: ``correct``, ``rt_ms``, ``side``.

    ``rt_ms`` is taken from ``rt_ms``, else ``rt_s`` x 1000; ``side`` from ``side``, else
    ``stimulus_side`` / ``limb_side`` / ``answer_side``, when it is ``left`` or ``right``.
    """
    correct = data.get("correct")
    rt = _number(data.get("rt_ms"))
    if rt is None and _number(data.get("rt_s")) is not None:
        rt = _number(data["rt_s"]) * 1000.0
    side = next((data[k] for k in ("side", "stimulus_side", "limb_side", "shown_side")
                 if data.get(k) in ("left", "right")), None)
    return {"correct": correct if isinstance(correct, bool) else None, "rt_ms": rt, "side": side}


class EventWriter:
    """Turns one event into rows, in the caller's transaction (used by RecordSink and tests).

    ``patient`` is the pseudonym used for a session that was never announced by a
    ``session_started`` event (e.g. a scene run on its own).
    """

    def __init__(self, patient: str | None = None) -> None:
        self.patient = patient

    def write(self, s: OrmSession, event: Event, uid: str) -> None:
        """Add the rows for ``event``; a no-op if they are there already."""
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is None:
            handler = self._on_session_event
        handler(s, event, uid, _clean(event))

    # --- sessions -----------------------------------------------------------------------
    def _session(self, s: OrmSession, event: Event) -> Session:
        if not event.session:
            raise UnstorableEvent(f"records: {event.kind} event has no session id")
        row = s.get(Session, event.session)
        if row is not None:
            return row
        if self.patient is None:
            raise UnstorableEvent(f"records: {event.kind} event of session {event.session!r} "
                                  "came before its session_started, and no patient is set")
        self._patient(s, self.patient, "", "")
        row = Session(id=event.session, patient_id=self.patient, started=_wall(event))
        s.add(row)
        s.flush()
        return row

    @staticmethod
    def _patient(s: OrmSession, pid: Any, side: str, level: str) -> Patient:
        check_patient_id(pid)
        row = s.get(Patient, pid)
        if row is None:
            row = Patient(id=pid, amputation_side=side or "", amputation_level=level or "")
            s.add(row)
            s.flush()
        return row

    def _on_session_started(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        """The session row, with its seed (vrgmi.seeding) when the event carries one."""
        if not event.session:
            raise UnstorableEvent("records: session_started event has no session id")
        if s.get(Session, event.session) is not None:
            return
        pid = d.get("patient") or self.patient
        self._patient(s, pid, str(d.get("side", "")), str(d.get("level", "")))
        program = d.get("program") if isinstance(d.get("program"), dict) else {}
        s.add(Session(id=event.session, patient_id=pid, started=_wall(event),
                      phase=str(d.get("phase", "")), side=str(d.get("side", "")),
                      level=str(d.get("level", "")), program=program,
                      seed=d["seed"] if _is_seed(d.get("seed")) else None))

    def _on_session_finished(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        row = self._session(s, event)
        row.ended = _wall(event)
        row.reason_ended = str(d.get("reason", ""))
        row.minutes = _number(d.get("minutes"))

    # --- scene runs ---------------------------------------------------------------------
    @staticmethod
    def _open_run(s: OrmSession, session_id: str, scene: str,
                  unfinished: bool = False) -> SceneRun | None:
        q = select(SceneRun).where(SceneRun.session_id == session_id, SceneRun.scene == scene)
        if unfinished:
            q = q.where(SceneRun.ended.is_(None))
        return s.scalars(q.order_by(SceneRun.id.desc()).limit(1)).first()

    def _run(self, s: OrmSession, event: Event, uid: str, unfinished: bool = False) -> SceneRun:
        """The scene's latest run (``unfinished``: the latest still open), else a new one (a
        trial with no scene_started, a block skipped before it started)."""
        session = self._session(s, event)
        run = self._open_run(s, session.id, event.scene, unfinished)
        if run is None:
            run = SceneRun(session_id=session.id, event_uid=_derived(uid, "run"),
                           scene=event.scene, phase=session.phase, started=_wall(event),
                           t_start=event.t)
            s.add(run)
            s.flush()
        return run

    def _on_scene_started(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        if _exists(s, SceneRun, uid):
            return
        session = self._session(s, event)
        s.add(SceneRun(session_id=session.id, event_uid=uid, scene=event.scene,
                       phase=str(d.get("phase", "")), params=d.get("params") or {},
                       started=_wall(event), t_start=event.t))

    def _on_scene_finished(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        if s.scalar(select(SceneRun.id).where(            # a replayed end: stored already
                SceneRun.session_id == event.session, SceneRun.scene == event.scene,
                SceneRun.t_end == event.t, SceneRun.ended == _wall(event))) is not None:
            return
        run = self._run(s, event, uid, unfinished=True)
        run.ended = _wall(event)
        run.t_end = event.t
        run.summary = d.get("summary") or {}
        run.reason = str(d.get("reason", ""))

    # --- measurements -------------------------------------------------------------------
    def _on_trial(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        if _exists(s, Trial, uid):
            return
        run = self._run(s, event, uid)
        index = d.get("index")
        s.add(Trial(scene_run_id=run.id, session_id=run.session_id, event_uid=uid,
                    scene=event.scene, index=int(index) if _number(index) is not None else -1,
                    block=-1 if d.get("practice") else
                    int(d["block"]) if _number(d.get("block")) is not None else 0,
                    t=event.t, completed=_wall(event), data=d, **trial_columns(d)))

    def _on_questionnaire(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        if _exists(s, QuestionnaireAnswer, uid):
            return
        session = self._session(s, event)
        answers = d.get("answers")
        s.add(QuestionnaireAnswer(
            patient_id=session.patient_id, session_id=session.id, event_uid=uid,
            instrument=str(d.get("instrument", "")), moment=str(d.get("moment", "")),
            t=event.t, answered=_wall(event),
            answers=answers if isinstance(answers, list) else [],
            scores=d.get("scores") if isinstance(d.get("scores"), dict) else {}))

    def _on_gate_decision(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        if _exists(s, GateDecision, uid):
            return
        session = self._session(s, event)
        reasons = d.get("reasons")
        s.add(GateDecision(patient_id=session.patient_id, session_id=session.id,
                           event_uid=uid, phase=str(d.get("phase", "")),
                           advance=bool(d.get("advance")), override=bool(d.get("override")),
                           criteria=d.get("criteria") if isinstance(d.get("criteria"), dict)
                           else {}, decided=_wall(event),
                           next_phase=_text(d.get("next_phase"), 16),
                           reasons=[str(r) for r in reasons] if isinstance(reasons, list)
                           else None, by=_text(d.get("by"), 64),
                           reason=_text(d.get("reason"), 2000)))

    def _on_param_changed(self, s: OrmSession, event: Event, uid: str, d: dict) -> None:
        """A difficulty change (a SessionEvent row); a ``patient.*`` change (side, level,
        height, skin tone, limb shape) also updates the patient row and the session's side /
        level."""
        session = self._on_session_event(s, event, uid, d)
        name, new = str(d.get("name")), d.get("new")
        column = PATIENT_PARAMS.get(name)
        if session is not None and name.startswith(SHAPE_PREFIX) and _number(new) is not None:
            patient = s.get(Patient, session.patient_id)       # a new dict: JSON columns
            patient.limb_shape = {**(patient.limb_shape or {}),  # track assignment only
                                  name[len(SHAPE_PREFIX):]: _number(new)}
        if session is None or column is None or new is None:
            return
        setattr(s.get(Patient, session.patient_id), column,
                _number(new) if column == "height_m" else str(new))
        if column in ("amputation_side", "amputation_level"):
            setattr(session, "side" if column == "amputation_side" else "level", str(new))

    def _on_session_event(self, s: OrmSession, event: Event, uid: str,
                          d: dict) -> Session | None:
        """A SessionEvent row (any kind without its own handler); returns the session, or
        None when the event is stored already."""
        if _exists(s, SessionEvent, uid):
            return None
        session = self._session(s, event)
        run = self._open_run(s, session.id, event.scene) if event.scene else None
        s.add(SessionEvent(session_id=session.id, scene_run_id=run.id if run else None,
                           event_uid=uid, kind=event.kind, scene=event.scene, t=event.t,
                           wall=_wall(event), data=d))
        return session


def _text(value: Any, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def _exists(s: OrmSession, model: Any, uid: str) -> bool:
    return s.scalar(select(model.id).where(model.event_uid == uid)) is not None


def _derived(uid: str, what: str) -> str:
    return hashlib.sha1(f"{uid}:{what}".encode()).hexdigest()


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class RecordSink:
    """An :class:`vrgmi.events.EventSink` that commits each event to the records database.

    ``patient``: the pseudonym for events of a session that was never started with a
    ``session_started`` event. ``spill_path``: where events wait while the database is
    down (default :func:`default_spill_path`).
    """

    def __init__(self, db: Database, patient: str | None = None,
                 spill_path: Path | None = None) -> None:
        self.db = db
        self.writer = EventWriter(patient)
        self.spill_path = Path(spill_path) if spill_path else default_spill_path(db)
        self.rejected_path = self.spill_path.with_name(
            self.spill_path.name.replace(".spill.jsonl", "").replace(".jsonl", "")
            + ".rejected.jsonl")
        self.error: str | None = None
        self.written = 0
        self.spilled = 0
        self.rejected = 0
        self._queue: queue.SimpleQueue[Event | _Flush | None] = queue.SimpleQueue()
        self._backoff = _BACKOFF_S[0]
        self._retry_at = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="vrgmi-records", daemon=True)
        self._thread.start()

    # --- frame thread -------------------------------------------------------------------
    def put(self, event: Event) -> None:
        """Queue ``event`` for the writer (never blocks)."""
        self._queue.put(event)

    @property
    def spilling(self) -> bool:
        """True while events wait in the spill file for the database to come back."""
        return self.spill_path.exists() and self.spill_path.stat().st_size > 0

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is committed (or spilled)."""
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self) -> None:
        """Write what is queued (or spill it if the database is down), then stop. Idempotent."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    # --- writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        if self.spilling:
            self._replay()
        while True:
            timeout = None if not self.spilling else max(0.0, self._retry_at - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._replay()
                continue
            if item is None:
                if self.spilling:
                    self._replay()
                return
            if isinstance(item, _Flush):
                item.done.set()
                continue
            self._handle(item)

    def _handle(self, event: Event) -> None:
        uid = event_uid(event)
        if self.spilling:                       # keep order: behind what already waits
            self._spill(event, uid)
            if time.monotonic() >= self._retry_at:
                self._replay()
            return
        try:
            self._commit(event, uid)
        except UnstorableEvent as exc:
            self._reject(event, uid, str(exc))
        except RecordsError as exc:
            self.error = str(exc)
            self._spill(event, uid)
            self._schedule_retry()

    def _commit(self, event: Event, uid: str) -> None:
        try:
            with self.db.session() as s:
                self.writer.write(s, event, uid)
        except RecordsError as exc:
            cause = exc.__cause__
            if isinstance(cause, OperationalError) or (
                    isinstance(cause, DBAPIError) and cause.connection_invalidated):
                raise
            raise UnstorableEvent(str(exc)) from None
        except VrgmiError as exc:               # invalid patient id and the like
            raise UnstorableEvent(str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise UnstorableEvent(f"records: {event.kind} event cannot be stored ({exc})") \
                from None
        self.written += 1

    def _schedule_retry(self) -> None:
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2.0, _BACKOFF_S[1])

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _spill(self, event: Event, uid: str) -> None:
        try:
            self._append(self.spill_path, {"uid": uid, "event": json.loads(event.to_json())})
            self.spilled += 1
        except OSError as exc:
            self.error = (f"records: database down and cannot write {self.spill_path} "
                          f"({exc.strerror}); events of this session are only in memory")

    def _reject(self, event: Event, uid: str, why: str) -> None:
        self.error = why
        self.rejected += 1
        try:
            self._append(self.rejected_path, {"uid": uid, "why": why,
                                              "event": json.loads(event.to_json())})
        except OSError as exc:
            self.error = f"{why}; and cannot write {self.rejected_path} ({exc.strerror})"

    def _replay(self) -> None:
        """Commit the spill file in order; remove it when every line is stored."""
        lines = _read_spill(self.spill_path)
        for n, record in enumerate(lines):
            event = Event(**record["event"])
            try:
                self._commit(event, record["uid"])
            except UnstorableEvent as exc:
                self._reject(event, record["uid"], str(exc))
            except RecordsError as exc:
                self.error = str(exc)
                _rewrite_spill(self.spill_path, lines[n:])
                self._schedule_retry()
                return
        try:
            self.spill_path.unlink(missing_ok=True)
        except OSError:
            pass
        self.error = None
        self._backoff = _BACKOFF_S[0]


def _read_spill(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:    # torn last line: the event in flight
                    continue
                if isinstance(record, dict) and "event" in record and "uid" in record:
                    out.append(record)
    except FileNotFoundError:
        pass
    return out


def _rewrite_spill(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
