"""The commands of the IT person: tokens and staff accounts."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.auth.tokens import hash_token
from app.extensions import db
from app.models import DeviceToken, StaffUser


def test_token_create_prints_the_token_alone_on_the_last_line_and_stores_its_hash(
    runner: FlaskCliRunner, school: None
) -> None:
    result = runner.invoke(
        args=["token", "create", "borne-soudure", "--station", "ST-SOUD-01", "--read"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("atl_") and len(token) > 40
    row = db.session.execute(select(DeviceToken)).scalar_one()
    assert row.token_sha256 == hash_token(token)
    assert token not in {row.token_sha256, row.name}
    assert row.station is not None and row.station.code == "ST-SOUD-01"
    assert row.can_read and row.can_scan


def test_token_create_refuses_an_unknown_station(runner: FlaskCliRunner, school: None) -> None:
    result = runner.invoke(args=["token", "create", "x", "--station", "ST-NOPE"])
    assert result.exit_code != 0 and "Poste inconnu" in result.output
    assert db.session.execute(select(DeviceToken)).first() is None


def test_token_list_never_shows_tokens(runner: FlaskCliRunner, school: None) -> None:
    created = runner.invoke(args=["token", "create", "lecteur"]).stdout.strip().splitlines()[-1]
    listing = runner.invoke(args=["token", "list"])
    assert "lecteur" in listing.output and created not in listing.output


def test_user_create_prints_a_one_time_password_that_must_be_changed(
    runner: FlaskCliRunner, school: None
) -> None:
    result = runner.invoke(args=["user", "create", "Chef@Example.org", "--role", "admin"])
    assert result.exit_code == 0, result.output
    password = result.stdout.strip().splitlines()[-1]
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == "chef@example.org")
    ).scalar_one()
    assert user.role == "admin" and user.must_change_password
    assert user.password_hash and user.password_hash.startswith("scrypt:")
    assert check_password_hash(user.password_hash, password)


def test_user_create_gives_an_imported_teacher_a_password_once(
    runner: FlaskCliRunner, school: None
) -> None:
    first = runner.invoke(args=["user", "create", "m.perrin@example.org", "--role", "teacher"])
    assert first.exit_code == 0
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == "m.perrin@example.org")
    ).scalar_one()
    assert user.name == "M. Perrin"
    again = runner.invoke(args=["user", "create", "m.perrin@example.org", "--role", "teacher"])
    assert again.exit_code != 0 and "existe déjà" in again.output
