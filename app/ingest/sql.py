"""Statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def insert_ignore(table: Table, values: dict[str, Any], conflict_columns: list[str]) -> Any:
    """Insert a row unless one with the same unique key exists; return its new id or None.

    ``INSERT … ON CONFLICT DO NOTHING`` lets the database, not a prior SELECT, decide that
    an input was seen before: two concurrent deliveries of the same id have one effect.
    """
    dialect = db.session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(table.c.id)
    )
    return db.session.execute(statement).scalar_one_or_none()
