"""Open the records database from a URL and bring its schema to the current migration.

* empty URL: a SQLite file in the user data directory (:func:`vrgmi.paths.default_database_url`),
  opened in WAL mode with ``synchronous=FULL`` (a committed trial survives a crash or a
  power cut) and foreign keys on (so deleting a patient cascades);
* ``postgresql+psycopg://user:password@host:5432/vrgmi``: a clinic's shared server.

Alembic migrations ship inside the package (``vrgmi/records/migrations``) and run to head on
every open (under a PostgreSQL advisory lock, so several headsets starting at once do not
race). Every failure is one line: a :class:`RecordsError`.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vrgmi.errors import VrgmiError
from vrgmi.paths import default_database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: an arbitrary constant: the PostgreSQL advisory lock held while migrating
_MIGRATION_LOCK = 7_263_911
_SQLITE_BUSY_S = 15.0


class RecordsError(VrgmiError):
    """The records database cannot be opened, reached or written (one line)."""


def resolve_url(url: str | None) -> URL:
    """The SQLAlchemy URL for ``url`` (empty: the default SQLite file), or a RecordsError."""
    text_url = url or default_database_url()
    try:
        parsed = make_url(text_url)
    except (ArgumentError, ValueError):
        raise RecordsError(f"records: {_redact_text(text_url)!r} is not a database URL "
                           "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise RecordsError(f"records: database {backend!r} is not supported "
                           "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise RecordsError("records: an in-memory SQLite database would lose every record; "
                           "give a file: sqlite:///PATH")
    return parsed


def _redact_text(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("@")[-1] if "@" in url else url


class Database:
    """An open records database: an SQLAlchemy engine and a session factory.

    Thread-safe: the record writer, the companion and the CLI each use :meth:`session`.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url
        self.backend = engine.url.get_backend_name()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """Where the data lives, for messages (the file, or the server without password)."""
        if self.backend == "sqlite":
            return str(self.url.database)
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed if the block finishes, rolled back if it raises.

        Database failures come out as one-line :class:`RecordsError`s.
        """
        s = self._sessions()
        try:
            yield s
            s.commit()
        except SQLAlchemyError as exc:
            s.rollback()
            raise RecordsError(describe_db_error(exc, self)) from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()


def describe_db_error(exc: BaseException, db: Database | None = None,
                      url: URL | None = None) -> str:
    """One line saying what went wrong with the database, without a password."""
    where = db.where if db is not None else (
        str(url.database) if url is not None and url.get_backend_name() == "sqlite"
        else url.render_as_string(hide_password=True) if url is not None else "the database")
    orig = getattr(exc, "orig", None) or exc
    detail = " ".join(str(orig).split())[:200]
    low = detail.lower()
    if "file is not a database" in low or "malformed" in low:
        return f"records: {where} is not a readable SQLite database (damaged?); move it aside"
    if "database is locked" in low:
        return f"records: {where} is locked by another program; close it and try again"
    if "unable to open database" in low or "readonly" in low or "read-only" in low:
        return f"records: cannot open {where} for writing ({detail})"
    if "connection refused" in low or "could not connect" in low or "timeout" in low \
            or "name or service not known" in low or "connection failed" in low:
        return f"records: cannot reach the database server {where} ({detail})"
    if "password authentication failed" in low or "authentication" in low:
        return f"records: the database server {where} refused the login (check the user and password)"
    if "does not exist" in low and isinstance(exc, DBAPIError) and "database" in low:
        return f"records: {detail} on {where} (create it: createdb)"
    return f"records: database error on {where}: {detail}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_S * 1000)}")
    finally:
        cur.close()


def create_db_engine(url: URL) -> Engine:
    """An SQLAlchemy engine for a resolved URL, with the SQLite pragmas set on every connect."""
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database)).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordsError(f"records: cannot create {path.parent} ({exc.strerror})") from None
        engine = create_engine(url.set(database=str(path)),
                               connect_args={"timeout": _SQLITE_BUSY_S,
                                             "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    except (ArgumentError, NoSuchModuleError) as exc:
        raise RecordsError(f"records: cannot use {url.drivername} ({exc})") from None
    except ImportError as exc:              # a driver SQLAlchemy knows that is not installed
        raise RecordsError(f"records: the database driver {url.drivername} is not installed "
                           f"({exc.name or exc}); use postgresql+psycopg://") from None


def alembic_config(connection: Any = None) -> Any:
    """A programmatic Alembic config pointing at the migrations inside the package."""
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration this version of vrgmi ships."""
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    """The migration the database is at (None for an empty database)."""
    from alembic.migration import MigrationContext
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(db: Database) -> None:
    """Upgrade the schema to head (a no-op when it is there already)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    with db.engine.begin() as conn:
        if db.backend == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        from alembic.migration import MigrationContext
        at = MigrationContext.configure(conn).get_current_revision()
        if at is not None and at not in known:
            raise RecordsError(f"records: {db.where} was written by a newer vrgmi (schema "
                               f"revision {at}); update vrgmi on this machine")
        command.upgrade(alembic_config(conn), "head")


def open_database(url: str | None = None, *, upgrade: bool = True) -> Database:
    """Open (creating if needed) the records database at ``url`` and migrate it to head.

    ``url`` empty or None: the default SQLite file in the user data directory. Raises a
    one-line :class:`RecordsError` for a bad URL, an unreachable server, a locked or damaged
    file, or a schema newer than this version.
    """
    resolved = resolve_url(url)
    db = Database(create_db_engine(resolved))
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if upgrade:
            migrate(db)
    except SQLAlchemyError as exc:
        db.close()
        raise RecordsError(describe_db_error(exc, url=resolved)) from None
    except RecordsError:
        db.close()
        raise
    return db
