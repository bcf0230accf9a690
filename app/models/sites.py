"""Sites: each school of the network. Every school-owned row belongs to one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.types import UtcDateTime, utcnow


class Site(Base):
    """A school (site): its id names it in MQTT topics and in the school file (``site:``)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # How a competency's current level follows from its assessments (app.read.records):
    # ``latest`` numeric level, or the ``recent`` N weighted N..1, newest heaviest.
    mastery_rule: Mapped[str] = mapped_column(
        String(10), default="recent", server_default=text("'recent'")
    )
    mastery_n: Mapped[int] = mapped_column(default=3, server_default=text("3"))
