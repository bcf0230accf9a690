"""The end of the school's day: no run's clock keeps going overnight.

At the closing time (``ATELIER_CLOSING_TIME``, told by the boundary as the input's
``closes_at``) every station of the site is treated as if its students had all scanned
``A-SORTIE``: they are badged out and the run in progress pauses, as when the last student
leaves (``ScanRules.leave`` and ``pause_if_empty``, reused); the call for help ends and a
kiosk stops acting for another station. What it ends is stamped with the closing instant,
however late the command ran: a close at 18:00:03 ends the intervals at 18:00:00. The
close is not a scan: it has no station and is not undoable, and ``A-ANNULE`` does not reach
back across it (``app.ingest.undo``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select

from app.ingest.core import Done, Scope, handles
from app.ingest.events import DayClose
from app.ingest.scans import ScanRules
from app.ingest.shop import INTERVALS, PRESENCES, RUNS, STATIONS, Shop, StationAt, transient_run
from app.models import first_name, iso

_SITE_STATIONS = (
    select(STATIONS.c.id).where(STATIONS.c.site_id == bindparam("site_id")).order_by(STATIONS.c.id)
)
# Per station, the latest start of what is still open there: a scan that came between the
# closing instant and the close itself is ended when it began, never before.
_LATEST_PRESENCE = (
    select(PRESENCES.c.station_id, func.max(PRESENCES.c.started_at).label("at"))
    .join(STATIONS, STATIONS.c.id == PRESENCES.c.station_id)
    .where(STATIONS.c.site_id == bindparam("site_id"), PRESENCES.c.ended_at.is_(None))
    .group_by(PRESENCES.c.station_id)
)
_LATEST_INTERVAL = (
    select(INTERVALS.c.station_id, func.max(INTERVALS.c.started_at).label("at"))
    .join(STATIONS, STATIONS.c.id == INTERVALS.c.station_id)
    .where(STATIONS.c.site_id == bindparam("site_id"), INTERVALS.c.ended_at.is_(None))
    .group_by(INTERVALS.c.station_id)
)
# A run still running once every station was closed: one no station has as its active run.
_STILL_RUNNING = (
    select(
        RUNS.c.id,
        RUNS.c.piece_id,
        RUNS.c.operation_id,
        RUNS.c.station_id,
        RUNS.c.status,
        RUNS.c.started_at,
    )
    .join(STATIONS, STATIONS.c.id == RUNS.c.station_id)
    .where(STATIONS.c.site_id == bindparam("site_id"), RUNS.c.status == "running")
    .order_by(RUNS.c.id)
)


@handles(DayClose)
def handle_day_close(scope: Scope, event: DayClose) -> Done:
    """Pause every open run of the site and badge everyone out, at the closing instant."""
    shop = Shop(scope)
    params = {"site_id": scope.site_id}
    latest: dict[int, datetime] = {}
    for statement in (_LATEST_PRESENCE, _LATEST_INTERVAL):
        for row in scope.conn.execute(statement, params):
            latest[row.station_id] = max(row.at, latest.get(row.station_id, row.at))

    def stamp_at(station_id: int) -> None:
        scope.effective_at = max(event.closes_at, latest.get(station_id, event.closes_at))

    counts: Counter[str] = Counter()
    rules: ScanRules | None = None
    for station_id in scope.conn.execute(_SITE_STATIONS, params).scalars():
        station = shop.station(station_id)
        stamp_at(station.id)
        rules = ScanRules(scope, shop, station)
        _close_station(rules, station, counts)
    for stray in scope.conn.execute(_STILL_RUNNING, params):
        stamp_at(stray.station_id)
        shop.pause(
            transient_run(
                stray.id,
                piece_id=stray.piece_id,
                operation_id=stray.operation_id,
                station_id=stray.station_id,
                status=stray.status,
                started_at=stray.started_at,
            )
        )
        counts["paused"] += 1
    # The stations' new contexts and the welding stations' cfg carry the time it ran.
    scope.effective_at = None
    if rules is not None:
        rules.finish_event()
    body: dict[str, Any] = {
        "day": event.day.isoformat(),
        "closes_at": iso(event.closes_at),
        "paused": counts["paused"],
        "badged_out": counts["badged_out"],
        "help_cleared": counts["help_cleared"],
        "kiosks_released": counts["kiosks_released"],
    }
    return Done(summary(counts), body)


def _close_station(rules: ScanRules, station: StationAt, counts: Counter[str]) -> None:
    """Close one station as if everyone had scanned A-SORTIE, and end its call for help."""
    leaving = list(rules.shop.present(station))
    run = station.run
    was_running = run is not None and run.status == "running"
    if station.get("help_since") is not None:
        counts["help_cleared"] += 1
    if leaving:
        rules.leave(station, [(p.presence_id, first_name(p.name)) for p in leaving])
    else:
        rules.pause_if_empty(station)
    counts["badged_out"] += len(leaving)
    if was_running and run is not None and run.status == "paused":
        counts["paused"] += 1
    station.set(help_since=None)
    if station.get("acting_for_id") is not None:
        station.set(acting_for_id=None)
        counts["kiosks_released"] += 1


def summary(counts: Counter[str] | dict[str, int]) -> str:
    """Say in French what a day close did: « Fin de journée : 3 opérations mises en pause… »."""
    paused = counts.get("paused", 0)
    out = counts.get("badged_out", 0)
    helped = counts.get("help_cleared", 0)
    parts = [
        "aucune opération en cours"
        if paused == 0
        else f"{paused} opération{'s' if paused > 1 else ''} mise{'s' if paused > 1 else ''} "
        "en pause",
        "aucun élève encore badgé"
        if out == 0
        else f"{out} élève{'s' if out > 1 else ''} badgé{'s' if out > 1 else ''} "
        f"sorti{'s' if out > 1 else ''}",
    ]
    if helped:
        parts.append(f"{helped} appel{'s' if helped > 1 else ''} à l'aide clos")
    return f"Fin de journée : {', '.join(parts)}."
