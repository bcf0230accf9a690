"""Staff accounts and device tokens: the administrative events of people and devices.

Passwords and tokens are hashed by the boundary before they reach the core (hashing is
slow and needs no lock); the event log records who did what, never a secret.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.events import ChangePassword, CreateStaff, CreateToken, RevokeToken
from app.models import DeviceToken, StaffUser, Station, table_of

USERS = table_of(StaffUser)
TOKENS = table_of(DeviceToken)
STATIONS = table_of(Station)


def site_station(scope: Scope, code: str) -> Any:
    """Return a station of the input's site by its code (id, name), or refuse it."""
    station = scope.conn.execute(
        select(STATIONS.c.id, STATIONS.c.name).where(
            STATIONS.c.site_id == scope.site_id, STATIONS.c.code == code
        )
    ).first()
    if station is None:
        raise Refusal("unknown_station", f"Poste inconnu : {code}", f"unknown station {code!r}")
    return station


@handles(ChangePassword)
def change_password(scope: Scope, change: ChangePassword) -> Done:
    """Store a staff member's new password hash; their other sessions stop working."""
    result = scope.write(
        update(USERS)
        .where(USERS.c.id == change.user_id, USERS.c.site_id == scope.site_id)
        .values(
            password_hash=change.password_hash,
            must_change_password=False,
            session_version=USERS.c.session_version + 1,
        )
    )
    if result.rowcount != 1:
        raise RuntimeError(f"no staff account {change.user_id} at site {scope.site_id}")
    return Done("Mot de passe enregistré.", {"user": change.user_id})


@handles(CreateStaff)
def create_staff(scope: Scope, account: CreateStaff) -> Done:
    """Create a staff account with a one-time password, or give one to an imported account."""
    existing = scope.conn.execute(
        select(USERS.c.id, USERS.c.site_id, USERS.c.password_hash).where(
            USERS.c.email == account.email
        )
    ).first()
    if existing is not None and (existing.password_hash or existing.site_id != scope.site_id):
        raise Refusal(
            "exists",
            f"Le compte {account.email} existe déjà et a un mot de passe.",
            f"account {account.email} exists",
        )
    values = {
        "role": account.role,
        "password_hash": account.password_hash,
        "must_change_password": True,
    }
    if account.name:
        values["name"] = account.name
    if existing is None:
        user_id = scope.write(
            USERS.insert().returning(USERS.c.id),
            {
                "site_id": scope.site_id,
                "email": account.email,
                "name": account.name or account.email.split("@")[0],
                "active": True,
                "created_at": scope.now,
                "session_version": 1,
                **values,
            },
        ).scalar_one()
    else:
        user_id = existing.id
        scope.write(
            update(USERS)
            .where(USERS.c.id == user_id)
            .values(session_version=USERS.c.session_version + 1, **values)
        )
    return Done(f"Compte {account.email} ({account.role}) prêt.", {"user": user_id})


@handles(CreateToken)
def create_token(scope: Scope, token: CreateToken) -> Done:
    """Store a new device token's hash, bound to a station of the site when asked."""
    station_id = None
    if token.station_code is not None:
        station_id = site_station(scope, token.station_code).id
    token_id = scope.write(
        TOKENS.insert().returning(TOKENS.c.id),
        {
            "site_id": scope.site_id,
            "name": token.name,
            "token_sha256": token.token_sha256,
            "prefix": token.prefix,
            "station_id": station_id,
            "can_scan": True,
            "can_read": token.read,
            "created_at": scope.now,
            "last_used_at": None,
            "revoked_at": None,
        },
    ).scalar_one()
    return Done(f"Jeton « {token.name} » créé.", {"token": token_id})


@handles(RevokeToken)
def revoke_token(scope: Scope, revoke: RevokeToken) -> Done:
    """Revoke a device token of the site (it stops working within the lookup cache's TTL)."""
    row = scope.conn.execute(
        select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.revoked_at).where(
            TOKENS.c.id == revoke.token_id, TOKENS.c.site_id == scope.site_id
        )
    ).first()
    if row is None:
        raise Refusal(
            "not_found", f"Aucun jeton n° {revoke.token_id}", f"unknown token {revoke.token_id}"
        )
    if row.revoked_at is None:
        scope.write(update(TOKENS).where(TOKENS.c.id == row.id).values(revoked_at=scope.now))
    return Done(f"Jeton n° {row.id} « {row.name} » révoqué.", {"token": row.id})
