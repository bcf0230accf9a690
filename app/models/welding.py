"""Welding: the live status of each station's device, its welds, samples and gaps."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime

if TYPE_CHECKING:
    from app.models.people import StaffUser, Student
    from app.models.production import OperationRun, Station, Wps

VERDICTS = ("in_range", "out_of_range", "no_wps")

# What a welding station may report, per field: a value outside is a broken sensor or
# hostile input, refused when the message is decoded (docs/contract.md §6). The bounds
# keep every derived figure (heat input) finite.
WELD_BOUNDS: dict[str, tuple[float, float]] = {
    "arc_s": (0.0, 3600.0),
    "i_a": (0.0, 1500.0),
    "u_v": (0.0, 100.0),
    "wfs_m_min": (0.0, 50.0),
    "gas_l_min": (0.0, 100.0),
    "energy_j": (0.0, 1.0e9),
    "length_mm": (1.0, 100_000.0),
    "dt_ms": (1.0, 10_000.0),
}


def _bounded(column: str, bounds: str) -> CheckConstraint:
    low, high = WELD_BOUNDS[bounds]
    return CheckConstraint(f"{column} >= {low} AND {column} <= {high}", name=column)


class DeviceStatus(Base):
    """What the server last heard from a station's MQTT device (online, arc on)."""

    __tablename__ = "device_status"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    device: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default="unknown")
    boot_id: Mapped[str | None] = mapped_column(String(40))
    fw: Mapped[str | None] = mapped_column(String(40))
    # The station's own time of the status message, to order births and wills.
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    arc_on: Mapped[bool] = mapped_column(default=False)
    arc_weld_id: Mapped[str | None] = mapped_column(String(80))
    arc_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeviceBoot(Base):
    """One power-up of a station's device: the highest sequence number heard from it."""

    __tablename__ = "device_boots"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    device: Mapped[str] = mapped_column(String(40), primary_key=True)
    boot_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seq: Mapped[int] = mapped_column(Integer)


class Weld(Base):
    """One weld run (arc on to arc off), as its station reported it in ``arc_end``."""

    __tablename__ = "welds"
    __table_args__ = (
        UniqueConstraint("site_id", "weld_key"),
        CheckConstraint("verdict IN ('in_range', 'out_of_range', 'no_wps')", name="verdict"),
        _bounded("arc_s", "arc_s"),
        _bounded("i_mean_a", "i_a"),
        _bounded("u_mean_v", "u_v"),
        _bounded("energy_j", "energy_j"),
        _bounded("length_mm", "length_mm"),
        Index("ix_welds_station_started", "station_id", "started_at"),
        Index("ix_welds_unattributed", "run_id", "started_at"),
        # The board's "latest welds" reads the newest across stations.
        Index("ix_welds_started", "started_at"),
        # A site's newest welds (the board) without sorting its history; also leads with
        # the site for what needs only that (it replaced the index on site_id alone).
        Index("ix_welds_site_started", "site_id", "started_at"),
        # The welds waiting for a teacher (the count on every teacher page, their list):
        # only those rows enter it, about 1 %.
        Index(
            "ix_welds_site_unattributed",
            "site_id",
            "started_at",
            sqlite_where=text("run_id IS NULL"),
            postgresql_where=text("run_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed first in (site_id, weld_key) and (site_id, started_at).
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    weld_key: Mapped[str] = mapped_column(String(80))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    device: Mapped[str] = mapped_column(String(40))
    boot_id: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    arc_s: Mapped[float] = mapped_column(Float)
    process: Mapped[str | None] = mapped_column(String(10))
    i_mean_a: Mapped[float] = mapped_column(Float)
    i_min_a: Mapped[float | None] = mapped_column(Float)
    i_max_a: Mapped[float | None] = mapped_column(Float)
    u_mean_v: Mapped[float] = mapped_column(Float)
    u_min_v: Mapped[float | None] = mapped_column(Float)
    u_max_v: Mapped[float | None] = mapped_column(Float)
    wfs_m_min: Mapped[float | None] = mapped_column(Float)
    gas_l_min: Mapped[float | None] = mapped_column(Float)
    energy_j: Mapped[float | None] = mapped_column(Float)
    length_mm: Mapped[float | None] = mapped_column(Float)
    # EN 1011-1 heat input, only when the seam length is known; k is kept with it.
    heat_input_kj_mm: Mapped[float | None] = mapped_column(Float)
    k_factor: Mapped[float | None] = mapped_column(Float)
    wps_id: Mapped[int | None] = mapped_column(ForeignKey("wps.id"))
    verdict: Mapped[str] = mapped_column(String(15))
    deviations: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    # The run active at the station when the arc struck; NULL: waiting for a teacher.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("operation_runs.id"))
    attributed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attributed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The arc_end that reported the weld, and the teacher's assignment when there was one.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    attributed_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    station: Mapped[Station] = relationship()
    run: Mapped[OperationRun | None] = relationship()
    wps: Mapped[Wps | None] = relationship()
    attributed_by: Mapped[StaffUser | None] = relationship()
    students: Mapped[list[WeldStudent]] = relationship(back_populates="weld")


class WeldStudent(Base):
    """A student badged in at the station when the weld's arc struck."""

    __tablename__ = "weld_students"

    weld_id: Mapped[int] = mapped_column(ForeignKey("welds.id"), primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True, index=True)

    weld: Mapped[Weld] = relationship(back_populates="students")
    student: Mapped[Student] = relationship()


class WeldSamples(Base):
    """A batch of 10 Hz samples of a weld (kept for its chart; may come before arc_end)."""

    __tablename__ = "weld_samples"
    __table_args__ = (UniqueConstraint("site_id", "device", "boot_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    weld_key: Mapped[str] = mapped_column(String(80), index=True)
    device: Mapped[str] = mapped_column(String(40))
    boot_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    t0: Mapped[datetime] = mapped_column(UtcDateTime)
    dt_ms: Mapped[float] = mapped_column(Float)
    i_a: Mapped[list[float]] = mapped_column(JSON)
    u_v: Mapped[list[float]] = mapped_column(JSON)


class SeqGap(Base):
    """Sequence numbers a station skipped: messages possibly lost between it and us."""

    __tablename__ = "seq_gaps"
    __table_args__ = (Index("ix_seq_gaps_device_boot", "site_id", "device", "boot_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    device: Mapped[str] = mapped_column(String(40))
    boot_id: Mapped[str] = mapped_column(String(40))
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MqttOutbox(Base):
    """Messages the server must publish (station cfg), written in the scan's transaction.

    The MQTT worker publishes them in order and marks them sent once the broker has them:
    the web processes never hold an MQTT connection.
    """

    __tablename__ = "mqtt_outbox"
    __table_args__ = (Index("ix_mqtt_outbox_station_latest", "station_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    # The station whose cfg it is: its newest row is the cfg last queued for it.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(String(4000))
    retain: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
