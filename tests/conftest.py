"""Fixtures: the app on a real database (SQLite and PostgreSQL), clients and test data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import HealthCheck, settings

from app import create_app
from app.auth.tokens import clear_cache
from app.config import TestingConfig
from app.extensions import db
from tests import factories
from tests.support.clients import FreshClient
from tests.support.databases import (
    TestDatabase,
    drop_postgres,
    make_postgres,
    make_sqlite,
    postgres_admin_url,
    postgres_available,
)
from tests.support.server import GunicornServer
from tests.support.services import require

settings.register_profile(
    "atelier",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("atelier")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql"),
]


def _selected_backends() -> set[str]:
    wanted = os.environ.get("ATELIER_TEST_BACKENDS", "sqlite,postgresql")
    return {name.strip() for name in wanted.split(",") if name.strip()}


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    """Each backend the suite runs on: every test using the app runs once per backend."""
    backend = request.param
    if backend not in _selected_backends():
        pytest.skip(f"backend {backend} not selected (ATELIER_TEST_BACKENDS)")
    if backend == "sqlite":
        yield make_sqlite(tmp_path_factory.mktemp("sqlite"))
        return
    require(
        postgres_available(postgres_admin_url()),
        "PostgreSQL",
        "install and start PostgreSQL (apt-get install postgresql) "
        "or set ATELIER_TEST_POSTGRES_URL",
    )
    test_db, name = make_postgres()
    try:
        yield test_db
    finally:
        drop_postgres(name)


@pytest.fixture
def database_url(database: TestDatabase, tmp_path: Path) -> str:
    """The URL of an empty, migrated database for this test."""
    return database.fresh(tmp_path)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The application on this test's database, inside an app context."""
    application = create_app(TestingConfig(database_url))
    clear_cache()
    with application.app_context():
        yield application
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the application whose requests do not share ``g``.

    The fixture ``app`` keeps an application context open for the test; a plain test
    client would run every request inside it, so what Flask-Login caches in ``g`` (the
    signed-in user) would leak from one request, or one client, to the next.
    """
    app.test_client_class = FreshClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A runner for the application's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def school(app: Flask) -> None:
    """The minimal school of tests/data/school_minimal.yaml, imported."""
    factories.load_school()


@pytest.fixture
def scanner(client: FlaskClient, school: None) -> factories.Scanner:
    """A reader bound to the welding station ST-SOUD-01."""
    return factories.Scanner(client, factories.make_token("ST-SOUD-01"))


@pytest.fixture
def live_server(app: Flask, database_url: str, tmp_path: Path) -> Iterator[GunicornServer]:
    """The real web server (gunicorn, 2 workers) on this test's database."""
    server = GunicornServer(database_url, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def school_data() -> dict[str, Any]:
    """The minimal school file, parsed, to look up badge codes by student."""
    data: dict[str, Any] = yaml.safe_load(factories.MINIMAL_SCHOOL.read_text(encoding="utf-8"))
    return data
