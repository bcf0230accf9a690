"""``POST /api/v1/scans``: scans from kiosks, reader agents and stations (CONTRACT.md §5)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from flask import request

from app.api import bp, error_response
from app.api.auth import DeviceIdentity, device_from_request
from app.ingest.events import SOURCES, ScanInput
from app.ingest.service import IngestUnavailable, process_scan, record_bad_request
from app.models.types import parse_timestamp

logger = logging.getLogger(__name__)

MAX_EVENT_ID = 80
MAX_CODE = 200
MAX_STATION = 80


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


def scan_from_body(body: Any, device: DeviceIdentity) -> ScanInput:
    """Turn a request body into a scan input, or raise BadScan."""
    if not isinstance(body, dict):
        raise BadScan("le corps doit être un objet JSON")
    event_id = _text(body, "event_id", MAX_EVENT_ID, required=True)
    assert event_id is not None
    if any(not ch.isprintable() for ch in event_id):
        raise BadScan("le champ « event_id » contient des caractères invisibles")
    # An empty code is a scan the parser refuses (bad_format), recorded like any other.
    code = _text(body, "code", MAX_CODE, required=True, allow_empty=True)
    assert code is not None
    # No database stores NUL in text: keep the scan, with the character made visible.
    code = code.replace("\x00", "\ufffd")
    station = _text(body, "station", MAX_STATION, required=False)
    if station is not None and any(not ch.isprintable() for ch in station):
        raise BadScan("le champ « station » contient des caractères invisibles")
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
    return ScanInput(
        event_id=event_id,
        code=code,
        station_code=station,
        source=source,
        scanned_at=scanned_at,
        body_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        device_token_id=device.token_id,
        bound_station_id=device.station_id,
    )


@bp.post("/scans")
def post_scan() -> Any:
    """Record a scan and apply it; answer 201, 200 (duplicate), 409, 422, 400, 401 or 503."""
    device = device_from_request()
    if device is None:
        return error_response(401, "unauthorized", "Jeton d'appareil absent ou invalide.")
    if not device.can_scan:
        return error_response(403, "forbidden", "Ce jeton ne permet pas d'envoyer des scans.")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        record_bad_request(device.token_id, raw, "body is not JSON")
        return error_response(
            400, "bad_request", "Le corps de la requête n'est pas du JSON valide."
        )
    try:
        scan = scan_from_body(body, device)
    except BadScan as exc:
        record_bad_request(device.token_id, raw, str(exc))
        return error_response(400, "bad_request", f"Scan invalide : {exc}.")
    try:
        outcome = process_scan(scan)
    except IngestUnavailable:
        response = error_response(
            503, "unavailable", "Le serveur est occupé : le scan sera renvoyé automatiquement."
        )
        response[0].headers["Retry-After"] = "1"
        return response
    return outcome.body, outcome.http_status
