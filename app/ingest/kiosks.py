"""Kiosks: the one-time link that enrols a kiosk's browser, and the credential it gets.

A kiosk's credential is a device credential like a bearer token, of kind ``kiosk``, bound
to its station; it is revoked like any token (``RevokeToken``). An enrolment link works
for ``ENROLMENT_VALID`` and once: using it is a conditional update of the link's row, and
the activation's event id is the link's hash, so two browsers opening one link at once
cannot both get a credential.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.events import ActivateKiosk, EnrolKiosk
from app.ingest.staff import site_station
from app.models import KIOSK_CREDENTIAL, DeviceToken, KioskEnrolment, Station, iso, table_of

ENROLMENT_VALID = timedelta(minutes=15)

TOKENS = table_of(DeviceToken)
ENROLMENTS = table_of(KioskEnrolment)
STATIONS = table_of(Station)

LINK_UNKNOWN = "Ce lien d'activation n'existe pas. Demandez-en un nouveau."
LINK_USED = "Ce lien d'activation a déjà servi : il ne marche qu'une fois. Demandez-en un nouveau."
LINK_EXPIRED = "Ce lien d'activation a expiré (il vaut 15 minutes). Demandez-en un nouveau."


def kiosk_name(station_code: str) -> str:
    """Name a kiosk's credential after its station (« Borne ST-KIOSK-1 »)."""
    return f"Borne {station_code}"[:80]


@handles(EnrolKiosk)
def enrol_kiosk(scope: Scope, enrol: EnrolKiosk) -> Done:
    """Keep a new enrolment link's hash for a station of the site, valid 15 minutes."""
    station = site_station(scope, enrol.station_code)
    expires_at = scope.now + ENROLMENT_VALID
    enrolment_id = scope.write(
        ENROLMENTS.insert().returning(ENROLMENTS.c.id),
        {
            "site_id": scope.site_id,
            "station_id": station.id,
            "code_sha256": enrol.code_sha256,
            "created_by": (scope.origin.actor.name or scope.origin.actor.kind)[:200],
            "created_at": scope.now,
            "expires_at": expires_at,
            "used_at": None,
            "device_token_id": None,
        },
    ).scalar_one()
    scope.columns["station_id"] = station.id
    return Done(
        f"Lien d'activation de la borne « {station.name} » créé.",
        {"enrolment": enrolment_id, "station": enrol.station_code, "expires_at": iso(expires_at)},
    )


@handles(ActivateKiosk, atomic=True)
def activate_kiosk(scope: Scope, activate: ActivateKiosk) -> Done:
    """Use an enrolment link once: store the kiosk's new credential, bound to the station."""
    link = scope.conn.execute(
        select(
            ENROLMENTS.c.id,
            ENROLMENTS.c.station_id,
            ENROLMENTS.c.expires_at,
            ENROLMENTS.c.used_at,
            STATIONS.c.code,
            STATIONS.c.name,
        )
        .join(STATIONS, STATIONS.c.id == ENROLMENTS.c.station_id)
        .where(
            ENROLMENTS.c.code_sha256 == activate.code_sha256,
            ENROLMENTS.c.site_id == scope.site_id,
        )
    ).first()
    if link is None:
        raise Refusal("enrolment_unknown", LINK_UNKNOWN, "unknown enrolment link")
    if link.used_at is not None:
        raise Refusal("enrolment_used", LINK_USED, f"enrolment {link.id} already used")
    if link.expires_at <= scope.now:
        raise Refusal("enrolment_expired", LINK_EXPIRED, f"enrolment {link.id} expired")
    claimed = scope.write(
        update(ENROLMENTS)
        .where(ENROLMENTS.c.id == link.id, ENROLMENTS.c.used_at.is_(None))
        .values(used_at=scope.now)
    )
    if claimed.rowcount != 1:
        raise Refusal("enrolment_used", LINK_USED, f"enrolment {link.id} used concurrently")
    token_id = scope.write(
        TOKENS.insert().returning(TOKENS.c.id),
        {
            "site_id": scope.site_id,
            "kind": KIOSK_CREDENTIAL,
            "name": kiosk_name(link.code),
            "token_sha256": activate.token_sha256,
            "prefix": activate.prefix,
            "station_id": link.station_id,
            "can_scan": True,
            "can_read": False,
            "created_at": scope.now,
            "last_used_at": None,
            "revoked_at": None,
        },
    ).scalar_one()
    scope.write(
        update(ENROLMENTS).where(ENROLMENTS.c.id == link.id).values(device_token_id=token_id)
    )
    scope.columns["station_id"] = link.station_id
    return Done(
        f"Borne « {link.name} » activée.",
        {"token": token_id, "station": link.code, "station_name": link.name},
    )
