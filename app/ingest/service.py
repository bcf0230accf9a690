"""The ingest core: record every input and apply it to the shop, in one transaction.

Transports (HTTP scans, the MQTT worker) build a frozen input and call one function here;
the function owns the transaction: it records the input under its unique id, applies it,
and commits once — so a retry, a redelivery or a replay is answered from the record and
changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from app.extensions import WRITE_OPTION, db, insert_for, make_durable, serialized_writes
from app.ingest import catalog as catalog_module
from app.ingest.catalog import Catalog, StationInfo
from app.ingest.cfg import queue_cfg
from app.ingest.codes import CodeError, parse_code
from app.ingest.events import Outcome, ScanInput
from app.ingest.station import (
    EVENTS,
    Rejected,
    ScanContext,
    StationRules,
    load_state,
    present_students,
    summarize,
)
from app.models import utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")

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


def run_in_transaction(work: Callable[[Connection], T]) -> T:
    """Run ``work(conn)`` in a write transaction, commit, and retry on transient conflicts.

    The ingest path uses a Core connection of its own rather than the ORM session: a scan
    is a handful of prebuilt statements, and the session's bookkeeping would cost more
    than they do. The outcome is returned only once the commit is durable.
    """
    engine = db.engine
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with serialized_writes(), engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    outcome = work(conn)
            make_durable()
            return outcome
        except DBAPIError as exc:
            if not _is_retryable(exc) or attempt == MAX_ATTEMPTS:
                logger.error("ingest transaction failed after %d attempt(s): %s", attempt, exc)
                raise IngestUnavailable(str(exc.orig)) from exc
            logger.warning("ingest transaction conflict (attempt %d), retrying: %s", attempt, exc)
            time.sleep(RETRY_PAUSE_S * attempt)
    raise AssertionError("unreachable")


def process_scan(scan: ScanInput) -> Outcome:
    """Record a scan and apply it to the shop; answer as the scan API does."""
    try:
        return run_in_transaction(lambda conn: _record_and_apply(conn, scan))
    except IngestUnavailable:
        raise
    except Exception:
        # A bug must not lose the scan silently nor answer 500: record it as rejected.
        logger.exception("scan %s could not be applied", scan.event_id)
        return run_in_transaction(lambda conn: _record_internal_error(conn, scan))


def _record_internal_error(conn: Connection, scan: ScanInput) -> Outcome:
    message = "Erreur du serveur : ce scan n'a pas été pris en compte. Préviens ton maître pro."
    body = _rejection_body(scan, "internal_error", message, None)
    event_db_id = conn.execute(
        _insert_event(conn.dialect.name),
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
    ).scalar()
    if event_db_id is None:
        return _replay(conn, scan)
    return Outcome(422, body, event_db_id=event_db_id)


def record_bad_request(device_token_id: int | None, raw: bytes, reason: str) -> None:
    """Keep a trace of a malformed request in the event log (it has no usable id)."""
    try:
        run_in_transaction(lambda conn: _insert_bad_request(conn, device_token_id, raw, reason))
    except IngestUnavailable:
        logger.warning("could not record a malformed request: database unavailable")


def _insert_bad_request(
    conn: Connection, device_token_id: int | None, raw: bytes, reason: str
) -> Outcome:
    conn.execute(
        EVENTS.insert(),
        {
            "channel": "http-bad",
            "key": uuid.uuid4().hex,
            "received_at": utcnow(),
            "body_sha256": hashlib.sha256(raw).hexdigest(),
            "status": "rejected",
            "error_code": "bad_request",
            "reason": reason[:400],
            "device_token_id": device_token_id,
            "payload": raw[:2000].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        },
    )
    return Outcome(400, {})


def _rejection_body(scan: ScanInput, code: str, message: str, kind: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": scan.event_id, "status": "rejected"}
    if kind is not None:
        body["kind"] = kind
    body["error"] = {"code": code, "message": message}
    return body


def _record_and_apply(conn: Connection, scan: ScanInput) -> Outcome:
    now = utcnow()
    event_db_id = conn.execute(
        _insert_event(conn.dialect.name),
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
    ).scalar()
    if event_db_id is None:
        return _replay(conn, scan)

    catalog = catalog_module.current(conn)
    values: dict[str, Any] = {}
    body: dict[str, Any]
    status = 201
    station = _resolve_station(scan, catalog)
    parsed = parse_code(scan.code)
    kind = None if isinstance(parsed, CodeError) else parsed.kind.value
    rules: StationRules | None = None
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
        rules = StationRules(ctx, catalog, conn)
        applied = rules.apply(parsed)
        acted_on = ctx.station or station
        assert ctx.state is not None
        kiosk = station if acted_on.id != station.id else None
        students = rules.present(acted_on.id)
        body = {
            "event_id": scan.event_id,
            "status": "accepted",
            "kind": kind,
            "message": applied.message,
            "station": summarize(catalog, acted_on, ctx.state, students, kiosk),
        }
        values.update(
            status="accepted",
            kind=kind,
            message=applied.message,
            reason=None,
            student_id=applied.student_id,
            target_station_id=acted_on.id,
            undo=rules.writer.ops or None,
        )
        if applied.runs_changed:
            queue_cfg(
                conn, catalog, applied.runs_changed, current_app.config["ATELIER_TOPIC_ROOT"], now
            )
    except Rejected as rejected:
        if rules is not None and rules.writer.ops:
            # The rules refuse before they write; a refusal after a write is a bug.
            raise RuntimeError(f"scan rejected after writing: {rejected.reason}") from rejected
        status = 422
        body = _rejection_body(scan, rejected.code, rejected.message, kind)
        if not isinstance(station, Rejected):
            state = load_state(conn, station.id, lock=False)
            body["station"] = summarize(
                catalog, station, state, present_students(conn, catalog, station.id)
            )
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
    conn.execute(_update_event(tuple(sorted(values))), {"k_id": event_db_id, **values})
    return Outcome(status, body, event_db_id=event_db_id)


@functools.cache
def _insert_event(dialect: str) -> Any:
    """Return the statement recording an input unless its id was seen (built once)."""
    return (
        insert_for(dialect)(EVENTS)
        .on_conflict_do_nothing(index_elements=["channel", "key"])
        .returning(EVENTS.c.id)
    )


@functools.cache
def _update_event(columns: tuple[str, ...]) -> Any:
    """Return the statement completing an event row with these columns (built once)."""
    return (
        update(EVENTS)
        .where(EVENTS.c.id == bindparam("k_id"))
        .values({column: bindparam(column) for column in columns})
    )


def _replay(conn: Connection, scan: ScanInput) -> Outcome:
    """Answer a scan whose id was seen before: the same answer, or a conflict."""
    existing = conn.execute(
        select(EVENTS.c.body_sha256, EVENTS.c.response).where(
            EVENTS.c.channel == scan.channel, EVENTS.c.key == scan.event_id
        )
    ).one()
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


def _resolve_station(scan: ScanInput, catalog: Catalog) -> StationInfo | Rejected:
    """Find the station a scan happened at, from the body or the token's binding."""
    if scan.station_code is None:
        if scan.bound_station_id is None or scan.bound_station_id not in catalog.stations:
            return Rejected(
                "no_station",
                "Ce lecteur n'est rattaché à aucun poste. Préviens ton maître pro.",
                "no station in the body and the token is not bound to one",
            )
        return catalog.stations[scan.bound_station_id]
    station = catalog.station_by_code(scan.station_code)
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
