"""Patient records: a SQLAlchemy database (SQLite by default, PostgreSQL for a clinic).

* :mod:`vrgmi.records.schema` - the tables (patients, programs, sessions, scene runs, trials,
  questionnaires, session events, gate decisions, the command audit log, therapist notes);
* :mod:`vrgmi.records.db` - ``open_database(url)``: open, migrate to head (Alembic), errors;
* :mod:`vrgmi.records.store` - ``RecordSink``: commits each session event off the frame thread;
* :mod:`vrgmi.records.queries` - what the companion, CLI and exports read and write.

See docs/records.md.
"""
from vrgmi.records.db import Database, RecordsError, open_database
from vrgmi.records.queries import UnknownPatient
from vrgmi.records.store import RecordSink

__all__ = ["Database", "RecordSink", "RecordsError", "UnknownPatient", "open_database"]
