"""What the companion asks of the records: patient pages, plots, notes, exports, the audit log.

:class:`CompanionRecords` is the interface the server codes against; :class:`AuditTrail`
keeps the recent audit entries for the companion's own page and forwards every one to the
records (off the asyncio loop: database writes block) through a bounded queue; repeated
rate-limited rejections are folded into one entry with a count, so a flood cannot push the
real entries out or grow the queue without end. No Panda3D here.
"""
from __future__ import annotations

import collections
import contextlib
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any, Protocol

from vrgmi.errors import VrgmiError

#: export format -> (file suffix, content type)
EXPORT_FORMATS = {"csv": ("csv.zip", "application/zip"),
                  "fhir": ("fhir.json", "application/fhir+json"),
                  "pdf": ("pdf", "application/pdf")}
MAX_PENDING = 2000          # audit entries waiting for the database, at most
FOLD_S = 1.0                # rate-limited rejections within this window make one entry


class RecordsUnavailable(VrgmiError):
    """The companion runs without records (no database configured)."""


class PatientNotFound(VrgmiError, LookupError):
    """No patient has that id."""


class CompanionRecords(Protocol):
    """The records the companion reads and writes. Patient ids are checked before a call."""

    def patients(self) -> list[dict[str, Any]]:
        """Every patient: ``id``, ``side``, ``level``, ``phase``, ``sessions``, ``last_session``."""

    def patient_page(self, patient_id: str) -> dict[str, Any]:
        """One patient's page: ``patient``, ``program`` (phase, gating criteria and where the
        patient stands on each), ``sessions`` (summaries), ``notes``; raises PatientNotFound."""

    def plot_names(self) -> tuple[str, ...]:
        """The progress plots :meth:`plot_png` can draw."""

    def plot_png(self, patient_id: str, plot: str) -> bytes:
        """One progress plot as PNG bytes."""

    def add_note(self, patient_id: str, text: str, author: str) -> dict[str, Any]:
        """Store a therapist's note; returns it as stored."""

    def export(self, patient_id: str, fmt: str) -> bytes:
        """The patient's data as ``fmt`` (a key of EXPORT_FORMATS)."""

    def audit(self, entry: dict[str, Any]) -> None:
        """Store one audit entry (``by``, ``command``, ``args``, ``accepted``, ``reason``,
        ``command_id``, ``patient``, ``session``)."""


class AuditTrail:
    """Recent audit entries in memory, each also written to the records by a writer thread.

    The queue to the writer holds at most ``max_pending`` entries; past that, entries are
    counted and one ``audit_overflow`` entry says how many were lost. :meth:`fold` gathers
    repeated entries under one key for ``fold_s`` seconds into a single entry with a
    ``count`` (and the count in its reason)."""

    def __init__(self, records: CompanionRecords | None = None, keep: int = 500,
                 max_pending: int = MAX_PENDING, fold_s: float = FOLD_S) -> None:
        self.records = records
        self.max_pending = max_pending
        self.fold_s = fold_s
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._folds: dict[Any, tuple[dict[str, Any], float]] = {}   # key -> (entry, since)
        self._wake = threading.Condition(self._lock)
        self.dropped = 0            # entries lost to a full queue, not yet reported
        self.error: str | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._write, name="vrgmi-audit", daemon=True)
        self._thread.start()

    def record(self, entry: dict[str, Any]) -> None:
        """Keep ``entry`` and queue it for the records (never blocks)."""
        with self._lock:
            self._add(entry)

    def fold(self, key: Any, entry: dict[str, Any]) -> None:
        """Count ``entry`` under ``key``: the first one of a window is kept, later ones only
        add to its count; the window's one entry is recorded when it closes."""
        with self._lock:
            held = self._folds.get(key)
            if held is not None:
                held[0]["count"] += 1
                return
            self._folds[key] = ({**entry, "count": 1}, time.monotonic())
            self._wake.notify_all()

    def recent(self, n: int = 100) -> list[dict[str, Any]]:
        """The last ``n`` entries, newest first."""
        with self._lock:
            self._release()
            return list(reversed(self._recent))[:n]

    def flush(self, timeout: float = 5.0) -> bool:
        """Close every fold window and wait until every queued entry is written; False on
        timeout."""
        with self._lock:
            self._release(force=True)
            self._wake.notify_all()
            return self._wake.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._lock:
            self._release(force=True)
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=10.0)

    def _add(self, entry: dict[str, Any]) -> None:
        """Keep and queue one entry (the lock is held)."""
        if self.records is not None and self.dropped and len(self._pending) < self.max_pending:
            report = {"by": "companion", "command": "audit_overflow", "args": {},
                      "accepted": False, "wall": time.time(),
                      "reason": f"{self.dropped} audit entries were not stored: the audit "
                                "queue was full"}
            self.dropped = 0
            self._recent.append(report)
            self._pending.append(report)
        self._recent.append(entry)
        if self.records is None:
            return
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(entry)
        self._wake.notify_all()

    def _release(self, force: bool = False) -> None:
        """Record the fold windows that have closed (all of them if ``force``); lock held."""
        now = time.monotonic()
        for key, (entry, since) in list(self._folds.items()):
            if force or now - since >= self.fold_s:
                del self._folds[key]
                if entry["count"] > 1:
                    entry["reason"] = (f"{entry['reason']} ({entry['count']} times in "
                                       f"{max(now - since, 0.0):.1f} s)")
                self._add(entry)

    def _write(self) -> None:
        while True:
            with self._lock:
                while True:
                    self._release()
                    if self._pending or (self._closed and not self._folds):
                        break
                    self._wake.wait(self.fold_s / 4 if self._folds else None)
                if not self._pending:
                    return
                entry = self._pending[0]
            try:
                self.records.audit(entry)
            except Exception as exc:   # a database outage must not take the companion down
                self.error = f"companion: audit entry not stored: {exc}"
            with self._lock:
                self._pending.popleft()
                self._wake.notify_all()


class DatabaseRecords:
    """:class:`CompanionRecords` over the records database (:mod:`vrgmi.records.queries`)
    and the exports (:mod:`vrgmi.export`)."""

    def __init__(self, db: Any, norms: dict[str, float] | None = None,
                 outcomes: Any = None) -> None:
        from vrgmi.companion.outcomes import OutcomeRecords

        self.db = db
        self.norms = norms          # the charts' norms (queries.report_norms of the settings)
        #: the outcome pages' records (vrgmi.companion.outcomes; default rules and texts)
        self.outcomes = outcomes or OutcomeRecords(db)

    def patients(self) -> list[dict[str, Any]]:
        """Every patient (see :func:`vrgmi.records.queries.list_patients`)."""
        from vrgmi.records import queries

        return queries.list_patients(self.db)

    def patient_page(self, patient_id: str) -> dict[str, Any]:
        """The patient, their program with its gating criteria, the latest gate decision
        (where the patient stands on each criterion), sessions and notes. Each session's
        ``seed`` is a string (a browser's numbers hold 53 bits, a seed 63): the therapist
        replays the session with ``--seed``."""
        from vrgmi.records import queries

        with _not_found():
            patient = queries.get_patient(self.db, patient_id)
            gates = queries.gate_history(self.db, patient_id)
            sessions = [dict(s, seed=None if s["seed"] is None else str(s["seed"]))
                        for s in queries.list_sessions(self.db, patient_id)]
            return {"patient": patient, "program": patient.pop("program"),
                    "gate": gates[-1] if gates else None, "sessions": sessions,
                    "notes": queries.list_notes(self.db, patient_id)}

    def plot_names(self) -> tuple[str, ...]:
        """The charts of :data:`vrgmi.export.plots.PLOTS`."""
        from vrgmi.export.plots import PLOTS

        return tuple(PLOTS)

    def plot_png(self, patient_id: str, plot: str) -> bytes:
        """One chart of the patient's progress as PNG bytes."""
        from vrgmi.export import plots
        from vrgmi.records import queries

        with _not_found():
            return plots.render(plot, queries.progress(self.db, patient_id, self.norms), "png")

    def add_note(self, patient_id: str, text: str, author: str) -> dict[str, Any]:
        """Store a note (see :func:`vrgmi.records.queries.add_note`)."""
        from vrgmi.records import queries

        with _not_found():
            return queries.add_note(self.db, patient_id, text, author)

    def step_back(self, patient_id: str, reason: str, by: str) -> dict[str, Any]:
        """Move the patient's program back one phase (recorded in its overrides: who, why,
        from and to); the patient and their new phase."""
        from vrgmi.events import EventBus
        from vrgmi.program import step_back
        from vrgmi.records.programs import load_program, save_program

        with _not_found():
            program = load_program(self.db, patient_id)
            if program is None:
                raise VrgmiError(f"companion: {patient_id} has no program yet")
            program = step_back(program, by, reason, EventBus())
            save_program(self.db, program)
            return {"patient": patient_id, "phase": program.phase}

    def export(self, patient_id: str, fmt: str) -> bytes:
        """CSV (a ZIP of the trials, sessions and questionnaires tables), the FHIR R4
        Bundle JSON, or the progress report PDF."""
        from vrgmi.records import queries

        with _not_found():
            queries.get_patient(self.db, patient_id)
            if fmt == "csv":
                from vrgmi.export.csv_export import csv_files

                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                    for name, text in csv_files(self.db, patient_id).items():
                        z.writestr(name, text)
                return buffer.getvalue()
            if fmt == "fhir":
                from vrgmi.export.fhir import bundle_json

                return bundle_json(self.db, patient_id).encode("utf-8")
            if fmt == "pdf":
                from vrgmi.export.report_pdf import report_bytes

                return report_bytes(self.db, patient_id, self.norms)
        raise VrgmiError(f"companion: export formats are {', '.join(EXPORT_FORMATS)}")

    def audit(self, entry: dict[str, Any]) -> None:
        """Append one entry to the records' command log."""
        from vrgmi.records import queries

        queries.log_command(self.db, command=entry["command"], by=entry["by"],
                            accepted=entry["accepted"], args=entry.get("args"),
                            reason=entry.get("reason", ""),
                            command_id=entry.get("command_id", ""),
                            patient_id=entry.get("patient"), session_id=entry.get("session"))


@contextlib.contextmanager
def _not_found() -> Iterator[None]:
    """Turn the records' unknown-patient error into :class:`PatientNotFound`."""
    from vrgmi.records.queries import UnknownPatient

    try:
        yield
    except UnknownPatient as exc:
        raise PatientNotFound(str(exc)) from None
