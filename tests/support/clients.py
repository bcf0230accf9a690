"""A Flask test client that gives every request its own application context."""

from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.extensions import db


class FreshClient(FlaskClient):
    """A test client whose every request runs in a new application context.

    Like a real server, where each request has its own ``g`` and database session: the
    signed-in user Flask-Login keeps in ``g`` cannot leak into another request. The test's
    own session (the outer context's) then ends its transaction, so that it reads what the
    request committed rather than its earlier snapshot.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        """Run the request in an application context of its own."""
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.rollback()
        return response
