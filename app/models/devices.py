"""Device tokens: the bearer credentials of kiosks, reader agents and integrations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, utcnow

if TYPE_CHECKING:
    from app.models.production import Station


class DeviceToken(Base):
    """A device's bearer token of one site, stored only as its SHA-256 digest."""

    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, to recognise a token in a list without storing it.
    prefix: Mapped[str] = mapped_column(String(12))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    can_scan: Mapped[bool] = mapped_column(default=True)
    can_read: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    station: Mapped[Station | None] = relationship()
