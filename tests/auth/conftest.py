"""Every client of these tests gives each request its own application context."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.auth.helpers import browsers


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client whose requests do not share ``g`` (see tests/auth/helpers.py)."""
    browsers(app)
    return app.test_client()
