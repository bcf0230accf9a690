"""Where requests and commands meet the core: one input, one write transaction.

A boundary (an API route, a page's form, a CLI command) builds an input of
``app.ingest.events`` with its ``Origin`` and calls ``submit``: the core records and applies
it inside ``write_transaction``, with the school's rules read here from the configuration.
A bug in a handler neither loses the input nor answers a 500: the input is recorded as
rejected (``internal_error``) in a transaction of its own, and the traceback is logged.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from flask import current_app

from app.db import DatabaseBusy as DatabaseBusy  # noqa: PLC0414  (re-exported: the pages catch it)
from app.db import write_transaction
from app.ingest import Outcome, record, record_failure
from app.ingest.events import Actor, Origin, Settings
from app.models import StaffUser, utcnow

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "Erreur du serveur : rien n'a été pris en compte. Prévenez l'administrateur."


def settings_from(config: Mapping[str, Any]) -> Settings:
    """Read the school's rules the core applies from the application's configuration."""
    return Settings(
        undo_window_s=float(config["ATELIER_UNDO_WINDOW_S"]),
        kiosk_station_timeout_s=float(config["ATELIER_KIOSK_STATION_TIMEOUT_S"]),
        topic_root=str(config["ATELIER_TOPIC_ROOT"]),
        extra_pieces=int(config["ATELIER_EXTRA_PIECES"]),
        timezone=config.get("ATELIER_TIMEZONE") or None,
    )


def digest(payload: Any) -> str:
    """Return the SHA-256 of an input's canonical JSON (what makes a retry "the same")."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def web_origin(user: StaffUser, key: str | None = None) -> Origin:
    """Return the origin of an input a signed-in staff member made on a page."""
    return Origin(
        site_id=user.site_id,
        channel="web",
        key=key or uuid.uuid4().hex,
        actor=Actor("staff", user.email, user_id=user.id),
        received_at=utcnow(),
        body_sha256="",
    )


def cli_origin(site_id: int | None) -> Origin:
    """Return the origin of an input typed on the command line."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return Origin(
        site_id=site_id,
        channel="cli",
        key=uuid.uuid4().hex,
        actor=Actor("cli", who),
        received_at=utcnow(),
        body_sha256="",
    )


def day_close_origin(site_id: int, day: date) -> Origin:
    """Return the origin of a site's day close: keyed by the date, so a day closes once.

    The body's digest is the date's alone: a second close of the same day (the timer and a
    person, or a run before and after the closing time) is a duplicate, not a conflict.
    """
    return replace(
        cli_origin(site_id),
        key=f"day-close:{day.isoformat()}",
        body_sha256=digest({"day": day.isoformat()}),
    )


def submit(
    origin: Origin,
    event: Any,
    *,
    answer: dict[str, Any] | None = None,
    extra: Any = None,
    failure_message: str = INTERNAL_ERROR,
) -> Outcome:
    """Record and apply one input in one durable write transaction; return the outcome.

    ``extra(session, outcome)``, when given, runs in the same transaction after the core
    (a device token's last-use stamp). ``answer`` holds the fields an internal-error
    answer still carries. ``app.db.DatabaseBusy`` goes to the caller: the sender retries.
    """
    if not origin.body_sha256:
        origin = Origin(
            origin.site_id,
            origin.channel,
            origin.key,
            origin.actor,
            origin.received_at,
            digest(event.payload()),
        )
    settings = settings_from(current_app.config)

    def work(session: Any) -> Outcome:
        outcome = record(session, origin, event, settings)
        if extra is not None:
            extra(session, outcome)
        return outcome

    try:
        return write_transaction(work)
    except DatabaseBusy:
        raise
    except Exception as error:
        logger.exception("%s %s could not be applied", event.KIND, origin.key)
        failure = error

        def record_it(session: Any) -> Outcome:
            return record_failure(
                session, origin, event, failure, message=failure_message, answer=answer
            )

        return write_transaction(record_it)
