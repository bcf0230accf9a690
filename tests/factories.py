"""Plain functions that build test data through the same paths the application uses."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth import hash_password
from app.auth.tokens import hash_token, new_token
from app.boundary import cli_origin, submit
from app.data.school import read_school_file
from app.extensions import db
from app.ingest.events import ChangePassword, CreateStaff, CreateToken
from app.models import DeviceToken, Site, StaffUser, Station
from app.read.stations import station_statuses

DATA_DIR = Path(__file__).parent / "data"
MINIMAL_SCHOOL = DATA_DIR / "school_minimal.yaml"
DEMO_SCHOOL = Path(__file__).parent.parent / "app" / "data" / "demo" / "belfort.yaml"

_event_numbers = itertools.count(1)


def site_id(code: str | None = None) -> int:
    """Return the id of a site (the only one, when no code is given)."""
    query = select(Site.id).order_by(Site.id)
    if code is not None:
        query = query.where(Site.code == code)
    found = db.session.execute(query.limit(1)).scalar()
    assert found is not None, f"no site {code or ''}"
    return int(found)


def load_school(path: Path = MINIMAL_SCHOOL, text: str | None = None) -> dict[str, Any]:
    """Import a school data file into the current app's database, as the CLI does."""
    event = read_school_file(text if text is not None else path.read_text("utf-8"), path.name)
    existing = db.session.execute(select(Site.id).where(Site.code == event.spec.site)).scalar()
    outcome = submit(cli_origin(existing), event)
    assert outcome.accepted, outcome.body
    return outcome.body


def make_token(
    station: str | None = None, read: bool = False, name: str = "test", site: str | None = None
) -> str:
    """Create a device token and return it in clear."""
    token = new_token()
    outcome = submit(
        cli_origin(site_id(site)),
        CreateToken(name, station, read, hash_token(token), token[:12]),
    )
    assert outcome.accepted, outcome.body
    return token


def make_staff(
    email: str = "prof@example.org",
    password: str = "un-mot-de-passe-long",
    role: str = "teacher",
    site: str | None = None,
    must_change: bool = False,
) -> StaffUser:
    """Create a staff account with a known password (one to change at sign-in, if asked)."""
    origin = cli_origin(site_id(site))
    created = submit(origin, CreateStaff(email, role, "M. Test", hash_password(password)))
    assert created.accepted, created.body
    user_id = int(created.body["user"])
    if not must_change:
        changed = submit(
            cli_origin(origin.site_id), ChangePassword(user_id, hash_password(password))
        )
        assert changed.accepted, changed.body
    user = db.session.get(StaffUser, user_id)
    assert user is not None
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
        response = self.post(body)
        answer = response.get_json(silent=True) or {}
        if response.status_code == 201 and not answer.get("duplicate"):
            _check_described_as_read(self.token, answer["station"])
        return response

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


def _check_described_as_read(token: str, described: dict[str, Any]) -> None:
    """Check that a scan's answer describes its station as the read side reads it now.

    The core describes the station from what the event held, with no read after its
    writes; whatever the scan did, the read side must agree (app.read.stations' rule).
    """
    db.session.commit()  # a new read: the scan committed on its own transaction
    site = db.session.execute(
        select(DeviceToken.site_id).where(DeviceToken.token_sha256 == hash_token(token))
    ).scalar_one()
    station_id = db.session.execute(
        select(Station.id).where(Station.site_id == site, Station.code == described["code"])
    ).scalar_one()
    [read] = station_statuses(db.session(), site, [station_id])
    shown = {key: value for key, value in described.items() if key != "via_kiosk"}
    assert shown == read, (shown, read)
