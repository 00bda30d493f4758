"""Running Alembic from code: ``shengjing init`` upgrades to head; tests compare models and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: Any, metadata: MetaData) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = metadata
    return config


def upgrade(engine: Engine, metadata: MetaData, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(_config(connection, metadata), revision)


def downgrade(engine: Engine, metadata: MetaData, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection, metadata), revision)


def revision(engine: Engine, metadata: MetaData, message: str) -> None:
    """Autogenerate a new migration from the models (developers run ``shengjing db revision``)."""
    with engine.begin() as connection:
        command.revision(_config(connection, metadata), message=message, autogenerate=True)


def pending_differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What the models have that the migrated database lacks, or the reverse; empty when they agree."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
