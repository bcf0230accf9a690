"""Plain functions that build test data through the same paths the application uses."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from app.api.auth import create_token
from app.auth import set_password
from app.data.school import import_school
from app.extensions import begin_write, db
from app.models import StaffUser, utcnow

DATA_DIR = Path(__file__).parent / "data"
MINIMAL_SCHOOL = DATA_DIR / "school_minimal.yaml"
DEMO_SCHOOL = Path(__file__).parent.parent / "app" / "data" / "demo" / "belfort.yaml"

_event_numbers = itertools.count(1)


def load_school(path: Path = MINIMAL_SCHOOL) -> None:
    """Import a school data file into the current app's database."""
    begin_write()
    import_school(path.read_text(encoding="utf-8"), path.name)
    db.session.commit()


def make_token(station: str | None = None, read: bool = False, name: str = "test") -> str:
    """Create a device token and return it in clear."""
    begin_write()
    token, _row = create_token(name, station, read)
    db.session.commit()
    return token


def make_staff(
    email: str = "prof@example.org", password: str = "un-mot-de-passe-long", role: str = "teacher"
) -> StaffUser:
    """Create a staff account with a known password that needs no change."""
    begin_write()
    user = StaffUser(email=email, name="M. Test", role=role, created_at=utcnow())
    set_password(user, password, must_change=False)
    db.session.add(user)
    db.session.commit()
    return user


def next_event_id(prefix: str = "t") -> str:
    """Return an event id never used before in this test run."""
    return f"{prefix}-{next(_event_numbers)}"


class Scanner:
    """A device posting scans to the API, as a kiosk or a reader agent does."""

    def __init__(self, client: FlaskClient, token: str, station: str | None = None) -> None:
        self.client = client
        self.token = token
        self.station = station

    def post(self, body: dict[str, Any]) -> Any:
        """Post a raw body to the scan endpoint and return the response."""
        return self.client.post(
            "/api/v1/scans", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )

    def scan(
        self,
        code: str,
        event_id: str | None = None,
        station: str | None = None,
        source: str = "barcode",
    ) -> Any:
        """Scan one code and return the response."""
        body: dict[str, Any] = {
            "event_id": event_id or next_event_id(),
            "code": code,
            "source": source,
            "scanned_at": "2026-11-26T09:20:11.400Z",
        }
        if station or self.station:
            body["station"] = station or self.station
        return self.post(body)

    def ok(self, code: str, **kwargs: Any) -> dict[str, Any]:
        """Scan a code that must be accepted; return the JSON answer."""
        response = self.scan(code, **kwargs)
        assert response.status_code == 201, (code, response.status_code, response.get_json())
        body: dict[str, Any] = response.get_json()
        return body

    def refused(self, code: str, error: str, **kwargs: Any) -> dict[str, Any]:
        """Scan a code that must be rejected with this error code; return the JSON answer."""
        response = self.scan(code, **kwargs)
        body: dict[str, Any] = response.get_json()
        assert response.status_code == 422, (code, response.status_code, body)
        assert body["error"]["code"] == error, body
        return body
