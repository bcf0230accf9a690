"""Shop writes with their undo log: how to put the shop back as it was (``A-ANNULE``).

Every change a scan makes goes through ``ShopWriter``, which records the rows it created
and the fields it changed, with their values before and after. Undoing checks that every
row is still as the scan left it, so a later change made elsewhere is never overwritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, update
from sqlalchemy.exc import IntegrityError

from app.extensions import Base, insert_for


class UndoConflict(Exception):
    """The shop changed since the scan: undoing it would overwrite someone else's work."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    return value


def _encode_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _encode(value) for key, value in values.items()}


def _decode_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _decode(value) for key, value in values.items()}


def _where(table: Table, values: dict[str, Any]) -> Any:
    return and_(
        *(
            table.c[key].is_(None) if value is None else table.c[key] == value
            for key, value in values.items()
        )
    )


_statements: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], build: Any) -> Any:
    """Build a statement once per shape: SQLAlchemy then reuses its compiled form."""
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = build()
    return statement


def _nullable_defaults(table: Table) -> dict[str, None]:
    nulls: dict[str, None] = _cached(
        ("nulls", table.name),
        lambda: {
            column.name: None
            for column in table.columns
            if column.nullable and column.default is None and not column.primary_key
        },
    )
    return nulls


class ShopWriter:
    """Write shop rows with Core statements, keeping the log that undoes them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ops: list[list[Any]] = []
        self.dialect = conn.dialect.name

    def insert(self, table: Table, values: dict[str, Any]) -> int:
        """Insert a row with an ``id`` key and return the id."""
        # Log the whole row as created (unset nullable columns are NULL), so that undoing
        # it can check the row was not changed since.
        values = {**_nullable_defaults(table), **values}
        statement = _cached(
            ("insert", table.name, tuple(sorted(values))),
            lambda: table.insert().returning(table.c.id),
        )
        new_id = int(self.conn.execute(statement, values).scalar_one())
        self.ops.append(["del", table.name, {"id": new_id}, _encode_map(values)])
        return new_id

    def insert_ignore(
        self, table: Table, rows: list[dict[str, Any]], key: list[str]
    ) -> list[dict[str, Any]]:
        """Insert rows unless their unique key exists; return the rows actually inserted.

        ``INSERT … ON CONFLICT DO NOTHING`` lets the database decide: a replay, or evidence
        a weld already gave, is left as it is and not logged for undo.
        """
        if not rows:
            return []
        has_id = "id" in table.c and "id" not in key
        insert = insert_for(self.dialect)
        statement = _cached(
            ("insert_ignore", self.dialect, table.name, tuple(key), tuple(sorted(rows[0]))),
            lambda: (
                insert(table)
                .on_conflict_do_nothing(index_elements=key)
                .returning(*([table.c.id] if has_id else [table.c[k] for k in key]))
            ),
        )
        created = []
        for row in rows:
            returned = self.conn.execute(statement, row).first()
            if returned is None:
                continue
            pk = {"id": returned[0]} if has_id else {k: row[k] for k in key}
            self.ops.append(["del", table.name, _encode_map(pk), _encode_map(row)])
            created.append({**row, **pk})
        return created

    def update(
        self,
        table: Table,
        pk: dict[str, Any],
        old: dict[str, Any],
        new: dict[str, Any],
        unlogged: dict[str, Any] | None = None,
    ) -> None:
        """Change the fields of one row that differ from ``old`` and remember how they were.

        ``unlogged`` fields are written in the same statement but not undone (timestamps).
        """
        changed = {key: value for key, value in new.items() if old.get(key) != value}
        written = {**changed, **(unlogged or {})}
        if not written:
            return
        statement = _cached(
            ("update", table.name, tuple(sorted(pk)), tuple(sorted(written))),
            lambda: (
                update(table)
                .where(*(table.c[k] == bindparam(f"k_{k}") for k in sorted(pk)))
                .values({k: bindparam(f"v_{k}") for k in sorted(written)})
            ),
        )
        params = {f"k_{k}": v for k, v in pk.items()} | {f"v_{k}": v for k, v in written.items()}
        result = self.conn.execute(statement, params)
        if result.rowcount != 1:
            raise RuntimeError(f"update of {table.name} {pk} matched {result.rowcount} rows")
        if changed:
            self.ops.append(
                [
                    "set",
                    table.name,
                    _encode_map(pk),
                    _encode_map({key: old.get(key) for key in changed}),
                    _encode_map(changed),
                ]
            )


def apply_undo(conn: Connection, ops: list[list[Any]]) -> None:
    """Reverse a scan's changes, newest first; raise UndoConflict if the shop moved on."""
    savepoint = conn.begin_nested()
    try:
        for op in reversed(ops):
            table = Base.metadata.tables[op[1]]
            pk = _decode_map(op[2])
            if op[0] == "del":
                created = _decode_map(op[3]) if len(op) > 3 else {}
                result = conn.execute(delete(table).where(_where(table, {**pk, **created})))
            else:
                old, new = _decode_map(op[3]), _decode_map(op[4])
                result = conn.execute(
                    update(table).where(_where(table, {**pk, **new})).values(**old)
                )
            if result.rowcount != 1:
                raise UndoConflict(f"{op[0]} {op[1]} {op[2]} no longer matches")
        savepoint.commit()
    except IntegrityError as exc:
        savepoint.rollback()
        raise UndoConflict(str(exc.orig)) from exc
    except UndoConflict:
        savepoint.rollback()
        raise
