"""The ingest core: record every input and apply it to the shop, in one transaction.

Transports (HTTP scans, the MQTT worker) build a frozen input and call one function here;
the function owns the transaction: it records the input under its unique id, applies it,
and commits once — so a retry, a redelivery or a replay is answered from the record and
changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from app.extensions import begin_write, db
from app.ingest.codes import CodeError, parse_code
from app.ingest.events import Outcome, ScanInput
from app.ingest.sql import insert_ignore
from app.ingest.station import Rejected, ScanContext, StationRules
from app.models import Event, Station, utcnow
from app.queries import station_summary

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_PAUSE_S = 0.02


class IngestUnavailable(Exception):
    """The database could not take the input now; the sender should retry later."""


def _is_retryable(exc: DBAPIError) -> bool:
    # Lock waits, deadlocks and serialisation failures are transient: run the input again.
    if isinstance(exc, OperationalError):
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01", "55P03"} or isinstance(exc, IntegrityError)


def run_in_transaction(work: Any) -> Outcome:
    """Run ``work()`` in a write transaction, commit, and retry it on transient conflicts."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            begin_write()
            outcome: Outcome = work()
            db.session.commit()
            return outcome
        except DBAPIError as exc:
            db.session.rollback()
            if not _is_retryable(exc) or attempt == MAX_ATTEMPTS:
                logger.error("ingest transaction failed after %d attempt(s): %s", attempt, exc)
                raise IngestUnavailable(str(exc.orig)) from exc
            logger.warning("ingest transaction conflict (attempt %d), retrying: %s", attempt, exc)
            time.sleep(RETRY_PAUSE_S * attempt)
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def process_scan(scan: ScanInput) -> Outcome:
    """Record a scan and apply it to the shop; answer as the scan API does."""
    try:
        return run_in_transaction(lambda: _record_and_apply(scan))
    except IngestUnavailable:
        raise
    except Exception:
        # A bug must not lose the scan silently nor answer 500: record it as rejected.
        logger.exception("scan %s could not be applied", scan.event_id)
        return run_in_transaction(lambda: _record_internal_error(scan))


def _record_internal_error(scan: ScanInput) -> Outcome:
    message = "Erreur du serveur : ce scan n'a pas été pris en compte. Préviens ton maître pro."
    body = _rejection_body(scan, "internal_error", message, None)
    event_db_id = insert_ignore(
        Event.__table__,  # type: ignore[arg-type]
        {
            "channel": scan.channel,
            "key": scan.event_id,
            "received_at": utcnow(),
            "body_sha256": scan.body_sha256,
            "status": "rejected",
            "error_code": "internal_error",
            "message": message,
            "reason": "unexpected error while applying the scan (see the server log)",
            "device_token_id": scan.device_token_id,
            "station_code": scan.station_code,
            "code": scan.code[:200],
            "source": scan.source,
            "response": body,
        },
        ["channel", "key"],
    )
    if event_db_id is None:
        return _replay(scan)
    return Outcome(422, body, event_db_id=event_db_id)


def record_bad_request(device_token_id: int | None, raw: bytes, reason: str) -> None:
    """Keep a trace of a malformed request in the event log (it has no usable id)."""
    try:
        run_in_transaction(lambda: _insert_bad_request(device_token_id, raw, reason))
    except IngestUnavailable:
        logger.warning("could not record a malformed request: database unavailable")


def _insert_bad_request(device_token_id: int | None, raw: bytes, reason: str) -> Outcome:
    db.session.add(
        Event(
            channel="http-bad",
            key=uuid.uuid4().hex,
            received_at=utcnow(),
            body_sha256=hashlib.sha256(raw).hexdigest(),
            status="rejected",
            error_code="bad_request",
            reason=reason[:400],
            device_token_id=device_token_id,
            payload=raw[:2000].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        )
    )
    db.session.flush()
    return Outcome(400, {})


def _rejection_body(scan: ScanInput, code: str, message: str, kind: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": scan.event_id, "status": "rejected"}
    if kind is not None:
        body["kind"] = kind
    body["error"] = {"code": code, "message": message}
    return body


def _record_and_apply(scan: ScanInput) -> Outcome:
    now = utcnow()
    event_db_id = insert_ignore(
        Event.__table__,  # type: ignore[arg-type]
        {
            "channel": scan.channel,
            "key": scan.event_id,
            "received_at": now,
            "body_sha256": scan.body_sha256,
            "status": "rejected",
            "reason": "being processed",
            "device_token_id": scan.device_token_id,
            "station_code": scan.station_code,
            "code": scan.code[:200],
            "source": scan.source,
            "scanned_at": scan.scanned_at,
        },
        ["channel", "key"],
    )
    if event_db_id is None:
        return _replay(scan)

    values: dict[str, Any] = {}
    body: dict[str, Any]
    status = 201
    after_commit: tuple[Any, ...] = ()
    station = _resolve_station(scan)
    parsed = parse_code(scan.code)
    kind = None if isinstance(parsed, CodeError) else parsed.kind.value
    try:
        if isinstance(station, Rejected):
            raise station
        values["station_id"] = station.id
        if isinstance(parsed, CodeError):
            raise Rejected(parsed.code, parsed.message, parsed.reason)
        ctx = ScanContext(
            event_db_id=event_db_id,
            now=now,
            device_station=station,
            undo_window=timedelta(seconds=current_app.config["ATELIER_UNDO_WINDOW_S"]),
            kiosk_timeout=timedelta(seconds=current_app.config["ATELIER_KIOSK_STATION_TIMEOUT_S"]),
        )
        savepoint = db.session.begin_nested()
        try:
            applied = StationRules(ctx).apply(parsed)
            savepoint.commit()
        except Rejected:
            savepoint.rollback()
            raise
        acted_on = ctx.station or station
        body = {
            "event_id": scan.event_id,
            "status": "accepted",
            "kind": kind,
            "message": applied.message,
            "station": station_summary(
                acted_on, kiosk=station if acted_on is not station else None
            ),
        }
        values.update(
            status="accepted",
            kind=kind,
            message=applied.message,
            reason=None,
            student_id=applied.student_id,
            target_station_id=acted_on.id,
            undo=ctx.undo.to_json() or None,
        )
        after_commit = tuple(applied.after_commit)
    except Rejected as rejected:
        status = 422
        body = _rejection_body(scan, rejected.code, rejected.message, kind)
        if not isinstance(station, Rejected):
            body["station"] = station_summary(station)
        values.update(
            status="rejected",
            kind=kind,
            error_code=rejected.code,
            message=rejected.message,
            reason=rejected.reason[:400],
        )
        logger.info(
            "scan %s rejected at %s: %s (%s)",
            scan.event_id,
            scan.station_code or "bound station",
            rejected.code,
            rejected.reason,
        )
    values["response"] = body
    db.session.execute(update(Event).where(Event.id == event_db_id).values(**values))
    return Outcome(status, body, event_db_id=event_db_id, after_commit=after_commit)


def _replay(scan: ScanInput) -> Outcome:
    """Answer a scan whose id was seen before: the same answer, or a conflict."""
    existing = db.session.execute(
        select(Event).where(Event.channel == scan.channel, Event.key == scan.event_id)
    ).scalar_one()
    if existing.body_sha256 == scan.body_sha256 and existing.response is not None:
        return Outcome(200, {**existing.response, "duplicate": True}, duplicate=True)
    return Outcome(
        409,
        _rejection_body(
            scan,
            "conflict",
            "Ce numéro de scan a déjà servi pour un autre scan.",
            None,
        ),
    )


def _resolve_station(scan: ScanInput) -> Station | Rejected:
    """Find the station a scan happened at, from the body or the token's binding."""
    if scan.station_code is None:
        if scan.bound_station_id is None:
            return Rejected(
                "no_station",
                "Ce lecteur n'est rattaché à aucun poste. Préviens ton maître pro.",
                "no station in the body and the token is not bound to one",
            )
        station = db.session.get(Station, scan.bound_station_id)
        assert station is not None
        return station
    station = db.session.execute(
        select(Station).where(Station.code == scan.station_code)
    ).scalar_one_or_none()
    if station is None:
        return Rejected(
            "unknown_station",
            f"Poste inconnu : {scan.station_code}. Préviens ton maître pro.",
            f"unknown station {scan.station_code!r}",
        )
    if scan.bound_station_id is not None and station.id != scan.bound_station_id:
        return Rejected(
            "not_allowed",
            "Ce lecteur n'est pas autorisé pour ce poste. Préviens ton maître pro.",
            f"token bound to station {scan.bound_station_id} used for {station.code}",
        )
    return station
