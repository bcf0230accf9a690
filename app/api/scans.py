"""``POST /api/v1/scans``: scans from kiosks, reader agents and stations (docs/contract.md §5)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from typing import Any

from flask import request

from app.api import bp, error_response
from app.api.openapi import PRINTABLE_PATTERN
from app.auth.tokens import DeviceIdentity, cross_site, device_from_request, stamp_used
from app.boundary import submit
from app.db import DatabaseBusy
from app.ingest.events import SOURCES, Actor, BadRequest, Origin, Scan
from app.models import parse_timestamp, safe_text, utcnow

logger = logging.getLogger(__name__)

MAX_EVENT_ID = 80
MAX_CODE = 200
MAX_STATION = 80
MAX_RAW = 2000
PRINTABLE = re.compile(PRINTABLE_PATTERN)
STATUS_CODES = {"accepted": 201, "rejected": 422, "duplicate": 200, "conflict": 409}
SCAN_FAILED = "Erreur du serveur : ce scan n'a pas été pris en compte. Préviens ton maître pro."


class BadScan(ValueError):
    """The request body is not a scan; the message says which field is wrong (French)."""


def _text(
    body: dict[str, Any], key: str, max_len: int, required: bool, allow_empty: bool = False
) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadScan(f"champ « {key} » manquant")
        return None
    if not isinstance(value, str):
        raise BadScan(f"le champ « {key} » doit être un texte")
    if required and not value and not allow_empty:
        raise BadScan(f"le champ « {key} » ne peut pas être vide")
    if len(value) > max_len:
        raise BadScan(f"le champ « {key} » dépasse {max_len} caractères")
    return value


def _printable(value: str, key: str) -> str:
    # The rule the OpenAPI document states: no control character, no line separator; and no
    # lone surrogate (no database could store one).
    if not PRINTABLE.search(value) or safe_text(value) != value:
        raise BadScan(f"le champ « {key} » contient des caractères invisibles")
    return value


def scan_from_body(body: Any, device: DeviceIdentity) -> tuple[str, str, Scan]:
    """Turn a request body into (event id, body digest, scan), or raise BadScan."""
    if not isinstance(body, dict):
        raise BadScan("le corps doit être un objet JSON")
    event_id = _text(body, "event_id", MAX_EVENT_ID, required=True)
    assert event_id is not None
    _printable(event_id, "event_id")
    # An empty code is a scan the parser refuses (bad_format), recorded like any other;
    # characters no database stores (NUL, lone surrogates) are made visible, not dropped.
    code = _text(body, "code", MAX_CODE, required=True, allow_empty=True)
    assert code is not None
    code = safe_text(code)
    station = _text(body, "station", MAX_STATION, required=False)
    if station is not None:
        _printable(station, "station")
    source = _text(body, "source", 20, required=False)
    if source is not None and source not in SOURCES:
        raise BadScan(f"le champ « source » doit valoir {', '.join(SOURCES)}")
    scanned_raw = _text(body, "scanned_at", 40, required=False)
    scanned_at = None
    if scanned_raw is not None:
        try:
            scanned_at = parse_timestamp(scanned_raw)
        except ValueError:
            raise BadScan("le champ « scanned_at » doit être une date RFC 3339") from None
    canonical = json.dumps(
        {"station": station, "code": code, "source": source, "scanned_at": scanned_raw},
        sort_keys=True,
        ensure_ascii=True,
    )
    scan = Scan(
        code=code,
        station_code=station,
        source=source,
        scanned_at=scanned_at,
        bound_station_id=device.station_id,
    )
    return event_id, hashlib.sha256(canonical.encode()).hexdigest(), scan


def _origin(device: DeviceIdentity, key: str, body_sha256: str) -> Origin:
    return Origin(
        site_id=device.site_id,
        channel="http",
        key=key,
        actor=Actor(
            "kiosk" if device.via_cookie else "device", device.name, device_token_id=device.token_id
        ),
        received_at=utcnow(),
        body_sha256=body_sha256,
    )


def _bad_request(device: DeviceIdentity, raw: bytes, reason: str) -> None:
    """Keep a trace of a malformed request in the event log (it has no usable id)."""
    text = safe_text(raw[:MAX_RAW].decode("utf-8", errors="replace"))
    event = BadRequest(reason=reason, raw=text)
    try:
        submit(_origin(device, uuid.uuid4().hex, hashlib.sha256(raw).hexdigest()), event)
    except DatabaseBusy:
        logger.warning("could not record a malformed request: database unavailable")


def _stamp(device: DeviceIdentity) -> Any:
    if not device.needs_stamp(utcnow()):
        return None
    return lambda session, _outcome: stamp_used(session, device)


@bp.post("/scans")
def post_scan() -> Any:
    """Record a scan and apply it; answer 201, 200 (duplicate), 409, 422, 400, 401, 403 or 503."""
    device = device_from_request()
    if device is None:
        return error_response(401, "unauthorized", "Jeton d'appareil absent ou invalide.")
    if not device.can_scan:
        return error_response(403, "forbidden", "Ce jeton ne permet pas d'envoyer des scans.")
    if cross_site(device):
        return error_response(
            403, "forbidden", "Scan refusé : il ne vient pas de la page de la borne."
        )
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        _bad_request(device, raw, "body is not JSON")
        return error_response(
            400, "bad_request", "Le corps de la requête n'est pas du JSON valide."
        )
    except RecursionError:
        _bad_request(device, raw, "body is nested too deeply")
        return error_response(
            400, "bad_request", "Le corps de la requête est imbriqué trop profondément."
        )
    try:
        event_id, body_sha256, scan = scan_from_body(body, device)
    except BadScan as exc:
        _bad_request(device, raw, str(exc))
        return error_response(400, "bad_request", f"Scan invalide : {exc}.")
    try:
        outcome = submit(
            _origin(device, event_id, body_sha256),
            scan,
            answer={"event_id": event_id},
            extra=_stamp(device),
            failure_message=SCAN_FAILED,
        )
    except DatabaseBusy:
        response = error_response(
            503, "unavailable", "Le serveur est occupé : le scan sera renvoyé automatiquement."
        )
        response[0].headers["Retry-After"] = "1"
        return response
    body = outcome.body
    if outcome.status == "conflict":
        body = {
            "event_id": event_id,
            "status": "rejected",
            "error": {
                "code": "conflict",
                "message": "Ce numéro de scan a déjà servi pour un autre scan.",
            },
        }
    return body, STATUS_CODES[outcome.status]
