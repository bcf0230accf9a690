"""Device credentials: the bearer tokens of reader agents and integrations, the kiosks'
credentials (carried in a cookie), and the one-time links that enrol a kiosk."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, utcnow

if TYPE_CHECKING:
    from app.models.production import Station


# What a credential is: a bearer token (API header), or a kiosk's (an HttpOnly cookie).
TOKEN = "token"  # noqa: S105  (a kind, not a secret)
KIOSK_CREDENTIAL = "kiosk"
CREDENTIAL_KINDS = (TOKEN, KIOSK_CREDENTIAL)


class DeviceToken(Base):
    """A device's credential of one site, stored only as its SHA-256 digest."""

    __tablename__ = "device_tokens"
    __table_args__ = (CheckConstraint("kind IN ('token', 'kiosk')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=TOKEN, server_default=TOKEN)
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


class KioskEnrolment(Base):
    """A one-time link that gives a kiosk's browser its credential (valid minutes, used once).

    Only the link's SHA-256 is kept; using it stamps ``used_at`` and names the credential
    it created, so the record says which link enrolled which kiosk.
    """

    __tablename__ = "kiosk_enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    device_token_id: Mapped[int | None] = mapped_column(ForeignKey("device_tokens.id"))

    station: Mapped[Station] = relationship()
