"""Failed sign-ins, counted in the database, throttle the next attempts.

gunicorn runs several worker processes: a limiter counting in memory would count per
worker (and forget at each restart), so each failure is a row of ``sign_in_failures``,
which every worker reads. Two limits over a sliding window:

- per account (the e-mail typed, known or not: the answer must not tell which e-mails
  have an account): ``ACCOUNT_LIMIT`` failures;
- per client address: ``ADDRESS_LIMIT`` failures (one machine trying many accounts).

Past a limit, the form answers 429 with how many minutes to wait, without checking the
password at all (so guessing goes no faster). A successful sign-in clears its account's
failures. Rows older than the window are pruned at each new failure. The e-mail is kept
as its SHA-256 only.

Behind the nginx of ``deploy/`` every request comes from the loopback: the client's
address is then the last one of ``X-Forwarded-For``, the one nginx itself appended (a
client can forge the earlier ones, not that one). A request from elsewhere is judged by
its own address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from datetime import datetime, timedelta
from typing import Any

from flask import request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.db import DatabaseBusy, write_transaction
from app.extensions import db
from app.models import SignInFailure, table_of

logger = logging.getLogger(__name__)

FAILURES = table_of(SignInFailure)
WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
MAX_ADDRESS = 45


def email_digest(email: str) -> str:
    """Return the SHA-256 under which an e-mail's failures are counted."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()


def client_address() -> str:
    """Return the address of the request's client (see the module's note on the proxy)."""
    peer = request.remote_addr or "?"
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        loopback = False
    forwarded = request.headers.get("X-Forwarded-For", "")
    if loopback and forwarded:
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))[:MAX_ADDRESS]
        except ValueError:
            pass
    return peer[:MAX_ADDRESS]


def wait_minutes(email: str, address: str, now: datetime) -> int:
    """Return how many minutes a sign-in must wait (0: it may go on)."""
    since = now - WINDOW
    account = _count(FAILURES.c.email_sha256 == email_digest(email), since)
    if account < ACCOUNT_LIMIT and _count(FAILURES.c.address == address, since) < ADDRESS_LIMIT:
        return 0
    return _minutes_left(email, address, now)


def _count(condition: Any, since: datetime) -> int:
    return int(
        db.session.scalar(
            select(func.count()).select_from(FAILURES).where(condition, FAILURES.c.at > since)
        )
        or 0
    )


def _minutes_left(email: str, address: str, now: datetime) -> int:
    """Return the minutes until enough failures leave the window for a new attempt."""
    since = now - WINDOW
    waits = []
    for column, value, limit in (
        (FAILURES.c.email_sha256, email_digest(email), ACCOUNT_LIMIT),
        (FAILURES.c.address, address, ADDRESS_LIMIT),
    ):
        times = db.session.scalars(
            select(FAILURES.c.at)
            .where(column == value, FAILURES.c.at > since)
            .order_by(FAILURES.c.at.desc())
            .limit(limit)
        ).all()
        if len(times) >= limit:
            # The attempt may go on once the oldest of the last ``limit`` failures is out.
            waits.append(times[-1] + WINDOW - now)
    longest = max(waits, default=timedelta(0))
    return max(1, math.ceil(longest.total_seconds() / 60))


def note_failure(email: str, address: str, now: datetime) -> None:
    """Count a failed sign-in (a busy database loses it rather than fail the answer)."""

    def work(session: Session) -> None:
        session.execute(delete(FAILURES).where(FAILURES.c.at <= now - WINDOW))
        session.execute(
            FAILURES.insert(),
            {"at": now, "email_sha256": email_digest(email), "address": address[:MAX_ADDRESS]},
        )

    try:
        write_transaction(work)
    except DatabaseBusy:
        logger.warning("a failed sign-in could not be counted: the database is busy")


def forget_failures(session: Session, email: str) -> None:
    """Forget an account's failures once it signed in (in the caller's write transaction).

    The failures of its address stay counted.
    """
    session.execute(delete(FAILURES).where(FAILURES.c.email_sha256 == email_digest(email)))
