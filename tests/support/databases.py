"""Real databases for the tests: a migrated SQLite template file and a PostgreSQL database.

The suite runs on both (see the ``database`` fixture). Each test gets an empty database:
a copy of the migrated SQLite template, or the run's PostgreSQL database truncated.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.models import Base

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    """Return the URL of a PostgreSQL database we may create test databases from."""
    return os.environ.get("ATELIER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


def postgres_available(url: str) -> bool:
    """Tell whether PostgreSQL answers at the URL."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def migrate(url: str) -> None:
    """Create the schema at the URL by running every migration."""
    app = create_app(TestingConfig(url))
    with app.app_context():
        upgrade()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@dataclass
class TestDatabase:
    """One backend for the run: how to hand each test an empty, migrated database."""

    backend: str
    url: str
    template: Path | None = None

    def fresh(self, tmp_path: Path) -> str:
        """Return the URL of an empty migrated database for one test."""
        if self.template is not None:
            target = tmp_path / "atelier.db"
            shutil.copyfile(self.template, target)
            return f"sqlite:///{target}"
        truncate_all(self.url)
        return self.url


def make_sqlite(tmp_dir: Path) -> TestDatabase:
    """Migrate a SQLite template database once for the run."""
    template = tmp_dir / "template.db"
    url = f"sqlite:///{template}"
    migrate(url)
    return TestDatabase("sqlite", url, template)


def make_postgres() -> tuple[TestDatabase, str]:
    """Create and migrate a PostgreSQL database for the run; return it and its name."""
    admin_url = postgres_admin_url()
    name = f"atelier_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    return TestDatabase("postgresql", url), name


def drop_postgres(name: str) -> None:
    """Drop a test database, closing any connection left to it."""
    admin = sa.create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def truncate_all(url: str) -> None:
    """Empty every table of a PostgreSQL test database and restart its sequences."""
    engine = sa.create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
