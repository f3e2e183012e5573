"""Alembic environment for the records database, driven programmatically by
:func:`vrgmi.records.db.migrate` (the connection arrives in ``config.attributes``)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vrgmi.records.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate over the caller's connection (or a URL given as ``sqlalchemy.url``)."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("vrgmi records: offline (SQL script) migrations are not supported")
run_migrations_online()
