"""The records schema (SQLAlchemy 2.0 declarative): one table per kind of thing a clinic keeps.

Every table hangs off ``patients`` through foreign keys with ``ON DELETE CASCADE`` (and the
ORM relationships are ``passive_deletes``), so deleting a patient row removes every row that
belongs to that patient in one statement. Wall-clock times are timezone-aware UTC
``DateTime`` columns (SQLite hands them back naive: :func:`vrgmi.records.queries` treats
those as UTC); ``t`` columns are display-clock seconds of the session. Rows that come from a
session event carry ``event_uid`` (unique), so replaying a spilled event is harmless.
The migrations in ``migrations/versions/`` (0001 initial, 0002 the full program and gate
details, 0003 the session's seed, 0004 the outcome plans and answers) match these models
(a test checks that autogenerate finds no difference).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index,
                        Integer, MetaData, String, Text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from vrgmi.errors import VrgmiError
from vrgmi.ids import PATIENT_ID_RULE, is_patient_id, shown_id


NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s",
          "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


class PatientIdError(VrgmiError, ValueError):
    """A patient id is not a pseudonym of letters, digits, - and _."""


def check_patient_id(value: Any) -> str:
    """``value`` if it is a valid pseudonymous id, else a one-line :class:`PatientIdError`."""
    if not is_patient_id(value):
        raise PatientIdError(f"records: patient id {shown_id(value)} {PATIENT_ID_RULE}")
    return value


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (the same on SQLite and PostgreSQL)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON,
                           datetime: DateTime(timezone=True)}


def _patient_fk() -> Any:
    return ForeignKey("patients.id", ondelete="CASCADE")


def _session_fk() -> Any:
    return ForeignKey("sessions.id", ondelete="CASCADE")


class Patient(Base):
    """A patient, known only by a pseudonymous id."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    amputation_side: Mapped[str] = mapped_column(String(8))             # left | right
    amputation_level: Mapped[str] = mapped_column(String(32))           # settings.py levels
    height_m: Mapped[float | None] = mapped_column(Float)
    segment_lengths: Mapped[dict[str, Any]] = mapped_column(default=dict)  # name -> metres
    skin_tone: Mapped[str] = mapped_column(String(32), default="III")
    limb_shape: Mapped[dict[str, Any]] = mapped_column(default=dict)   # [limb_shape] key -> value
    notes: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(default=utcnow)

    programs: Mapped[list[Program]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Program.id")
    sessions: Mapped[list[Session]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Session.started")

    @validates("id")
    def _check_id(self, _key: str, value: str) -> str:
        return check_patient_id(value)


class Program(Base):
    """A patient's GMI program; the newest row is the one in force."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(_patient_fk(), index=True)
    phase: Mapped[str] = mapped_column(String(16))                      # laterality|imagery|mirror
    sessions_per_day: Mapped[int] = mapped_column(Integer, default=3)
    minutes_per_session: Mapped[float] = mapped_column(Float, default=15.0)
    gating: Mapped[dict[str, Any]] = mapped_column(default=dict)       # criteria settings
    phase_started: Mapped[datetime] = mapped_column(default=utcnow)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    #: the whole vrgmi.program.Program (steps, gates, overrides) as JSON; None for rows
    #: written by queries.set_program (then the columns above are the program)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    patient: Mapped[Patient] = relationship(back_populates="programs")


class Session(Base):
    """One sitting: from ``session_started`` to ``session_finished``."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(_patient_fk(), index=True)
    started: Mapped[datetime] = mapped_column(default=utcnow)
    ended: Mapped[datetime | None] = mapped_column()
    phase: Mapped[str] = mapped_column(String(16), default="")
    side: Mapped[str] = mapped_column(String(8), default="")
    level: Mapped[str] = mapped_column(String(32), default="")
    program: Mapped[dict[str, Any]] = mapped_column(default=dict)      # snapshot at the start
    reason_ended: Mapped[str] = mapped_column(String(32), default="")
    minutes: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int | None] = mapped_column(BigInteger)   # replays the session's stimuli

    patient: Mapped[Patient] = relationship(back_populates="sessions")
    scene_runs: Mapped[list[SceneRun]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SceneRun.id")


class SceneRun(Base):
    """One scene played within a session (``scene_started`` .. ``scene_finished``)."""

    __tablename__ = "scene_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(_session_fk(), index=True)
    event_uid: Mapped[str] = mapped_column(String(40), unique=True)
    scene: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(16), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started: Mapped[datetime] = mapped_column(default=utcnow)
    ended: Mapped[datetime | None] = mapped_column()
    t_start: Mapped[float] = mapped_column(Float, default=0.0)
    t_end: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(32), default="")

    session: Mapped[Session] = relationship(back_populates="scene_runs")
    trials: Mapped[list[Trial]] = relationship(
        back_populates="scene_run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Trial.id")


class Trial(Base):
    """One trial with every measured value (``data``) and a few typed copies to query on."""

    __tablename__ = "trials"
    __table_args__ = (Index("ix_trials_session_id_scene", "session_id", "scene"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scene_run_id: Mapped[int] = mapped_column(
        ForeignKey("scene_runs.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(_session_fk())
    event_uid: Mapped[str] = mapped_column(String(40), unique=True)
    scene: Mapped[str] = mapped_column(String(64))
    index: Mapped[int] = mapped_column(Integer)
    block: Mapped[int] = mapped_column(Integer, default=0)
    t: Mapped[float] = mapped_column(Float)
    completed: Mapped[datetime] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    rt_ms: Mapped[float | None] = mapped_column(Float)
    side: Mapped[str | None] = mapped_column(String(8))                 # stimulus / limb side

    scene_run: Mapped[SceneRun] = relationship(back_populates="trials")


class QuestionnaireAnswer(Base):
    """One questionnaire filled in (NRS, SSQ, KVIQ, PCS) with its items and scores."""

    __tablename__ = "questionnaire_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(_patient_fk(), index=True)
    session_id: Mapped[str | None] = mapped_column(_session_fk(), index=True)
    event_uid: Mapped[str] = mapped_column(String(40), unique=True)
    instrument: Mapped[str] = mapped_column(String(16))                 # nrs|ssq|kviq|pcs
    moment: Mapped[str] = mapped_column(String(16))                     # pre|post|trial
    t: Mapped[float] = mapped_column(Float, default=0.0)
    answered: Mapped[datetime] = mapped_column(default=utcnow)
    answers: Mapped[list[Any]] = mapped_column(default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SessionEvent(Base):
    """The other things a session records: blocks finished, difficulty changes, pauses."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(_session_fk(), index=True)
    scene_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("scene_runs.id", ondelete="CASCADE"), index=True)
    event_uid: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(32))   # block_finished|param_changed|session_paused..
    scene: Mapped[str] = mapped_column(String(64), default="")
    t: Mapped[float] = mapped_column(Float, default=0.0)
    wall: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class GateDecision(Base):
    """A program gate: advance to the next phase or not, on criteria or a therapist override."""

    __tablename__ = "gate_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(_patient_fk(), index=True)
    session_id: Mapped[str | None] = mapped_column(_session_fk(), index=True)
    event_uid: Mapped[str] = mapped_column(String(40), unique=True)
    phase: Mapped[str] = mapped_column(String(16))
    advance: Mapped[bool] = mapped_column(Boolean)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decided: Mapped[datetime] = mapped_column(default=utcnow)
    next_phase: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any] | None] = mapped_column(JSON)           # plain-language lines
    by: Mapped[str | None] = mapped_column(String(64))                # who decided (override)
    reason: Mapped[str | None] = mapped_column(Text)                  # an override's why


class CommandLog(Base):
    """The audit log: every command a therapist (or token) sent, accepted or rejected."""

    __tablename__ = "command_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wall: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    by: Mapped[str] = mapped_column(String(64))                         # token id / who
    command: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    command_id: Mapped[str] = mapped_column(String(32), default="")
    patient_id: Mapped[str | None] = mapped_column(_patient_fk(), index=True)
    session_id: Mapped[str | None] = mapped_column(_session_fk(), index=True)


class TherapistNote(Base):
    """A free-text note a therapist wrote about a patient (optionally about one session)."""

    __tablename__ = "therapist_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(_patient_fk(), index=True)
    session_id: Mapped[str | None] = mapped_column(_session_fk(), index=True)
    written: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(64), default="therapist")
    text: Mapped[str] = mapped_column(Text)


class OutcomePlan(Base):
    """A patient's outcome plan (vrgmi.outcomes): the battery the therapist chose, the
    follow-up months, and the day treatment ended (follow-ups are counted from it)."""

    __tablename__ = "outcome_plans"

    patient_id: Mapped[str] = mapped_column(_patient_fk(), primary_key=True)
    measures: Mapped[list[Any]] = mapped_column(default=list)
    followup_months: Mapped[list[Any]] = mapped_column(default=list)
    treatment_ended: Mapped[date | None] = mapped_column(Date)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class OutcomeAnswer(Base):
    """One outcome measure answered at one time point (baseline, a phase change, the end of
    treatment or a follow-up), with its answers as given and its scores."""

    __tablename__ = "outcome_answers"
    __table_args__ = (Index("ix_outcome_answers_patient_id_timepoint", "patient_id",
                            "timepoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(_patient_fk())
    timepoint: Mapped[str] = mapped_column(String(16))      # baseline|phase_imagery|end|fu_3m..
    measure: Mapped[str] = mapped_column(String(24))
    answered: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(64), default="")
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)


#: every table, children first (the order deletion counts are reported in)
TABLES = ("outcome_answers", "outcome_plans", "command_log", "therapist_notes",
          "gate_decisions", "session_events",
          "questionnaire_answers", "trials", "scene_runs", "sessions", "programs", "patients")
