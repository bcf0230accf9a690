"""An atomic handler that refuses after writing leaves nothing of its writes behind.

Handlers write through ``scope.conn`` (Core statements) as well as through the session
(the import's ORM objects): the savepoint of an atomic handler must hold both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from flask import Flask
from sqlalchemy import select, update

from app.boundary import cli_origin, submit
from app.extensions import db
from app.ingest.core import Done, Refusal, Scope, handles
from app.models import Customer, Event, table_of

CUSTOMERS = table_of(Customer)


@dataclass(frozen=True)
class RenameThenRefuse:
    """A test input: rename every customer of the site, then refuse."""

    KIND: ClassVar[str] = "test.rename_refuse"
    name: str
    through_session: bool = False

    def payload(self) -> dict[str, Any]:
        return {"name": self.name, "through_session": self.through_session}


@handles(RenameThenRefuse, atomic=True)
def rename_then_refuse(scope: Scope, event: RenameThenRefuse) -> Done:
    if event.through_session:
        for customer in scope.session.execute(select(Customer)).scalars():
            customer.name = event.name
        scope.session.flush()
    else:
        scope.write(update(CUSTOMERS).values(name=event.name))
    raise Refusal("refused", "Refusé après écriture.", "test: refused after writing")


def _names() -> list[str]:
    db.session.commit()
    return sorted(db.session.execute(select(Customer.name)).scalars())


def test_core_writes_of_a_refused_atomic_handler_are_rolled_back(app: Flask, school: None) -> None:
    with app.app_context():
        before = _names()
        site_id = db.session.execute(select(Customer.site_id)).scalars().first()
        outcome = submit(cli_origin(site_id), RenameThenRefuse("Renommé"))
        assert outcome.status == "rejected"
        assert outcome.body["error"]["code"] == "refused"
        assert _names() == before
        # The refusal itself is recorded.
        assert (
            db.session.execute(
                select(Event.status).where(Event.kind == "test.rename_refuse")
            ).scalar_one()
            == "rejected"
        )


def test_orm_writes_of_a_refused_atomic_handler_are_rolled_back(app: Flask, school: None) -> None:
    with app.app_context():
        before = _names()
        site_id = db.session.execute(select(Customer.site_id)).scalars().first()
        outcome = submit(cli_origin(site_id), RenameThenRefuse("Renommé", through_session=True))
        assert outcome.status == "rejected"
        db.session.expire_all()
        assert _names() == before
