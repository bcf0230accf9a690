"""The ingest core: every input is an event, recorded under its id and applied in one place.

Boundaries (the HTTP API, the MQTT worker, the CLI, the pages) build an input kind of
``app.ingest.events`` with its ``Origin`` and call ``record`` (or ``record_batch`` for
MQTT) inside ``app.db.write_transaction``. Importing this package registers the handler
of every kind.
"""

from app.ingest import (  # noqa: F401  (register handlers)
    day,
    kiosks,
    labels,
    office_orders,
    office_people,
    office_school,
    records,
    reviews,
    rgpd,
    scans,
    school,
    sessions,
    staff,
    welds,
)
from app.ingest.core import HANDLERS, Done, Outcome, Refusal, Scope, record, record_failure
from app.ingest.welding import BatchResult, record_batch

__all__ = [
    "HANDLERS",
    "BatchResult",
    "Done",
    "Outcome",
    "Refusal",
    "Scope",
    "record",
    "record_batch",
    "record_failure",
]
