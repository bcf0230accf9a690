"""Inputs as the core sees them: frozen dataclasses, built by each transport.

Every state-changing input is one of these kinds, handed to the core with its ``Origin``
(where it happened, the id it was given there, who sent it, when). The core records it
under that id and runs the handler registered for its kind. ``payload()`` is what the
event log keeps of the input: never a secret (a password, a token, their hashes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from app.models.types import iso

SOURCES = ("rfid", "barcode", "keyboard", "touch")
CHANNELS = ("http", "mqtt", "web", "cli")


@dataclass(frozen=True)
class Actor:
    """Who sent an input: a device token, a kiosk, a staff member, the worker or the CLI."""

    kind: str
    name: str | None = None
    device_token_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class Origin:
    """Where an input happened: site, channel, the id minted there, sender, time, body hash.

    ``site_id`` is None only for an import that creates its site.
    """

    site_id: int | None
    channel: str
    key: str
    actor: Actor
    received_at: datetime
    body_sha256: str


@dataclass(frozen=True)
class Settings:
    """The school's rules the core applies (read from the configuration by the boundary)."""

    undo_window_s: float = 60.0
    kiosk_station_timeout_s: float = 300.0
    topic_root: str = "atelier/v1"
    # Piece labels a work order may take beyond its quantity (scrap, rework).
    extra_pieces: int = 2
    # The workshop's time zone (its local day says whether a habilitation holds); None:
    # app.read.board's default, Europe/Paris.
    timezone: str | None = None


@dataclass(frozen=True)
class Scan:
    """A code read at a station or a kiosk (docs/contract.md §5)."""

    KIND: ClassVar[str] = "scan"
    code: str
    station_code: str | None
    source: str | None
    scanned_at: datetime | None
    # The station the device token is bound to, when it is.
    bound_station_id: int | None = None

    def payload(self) -> dict[str, Any]:
        """Return what the event log keeps of the scan."""
        return {
            "code": self.code,
            "station": self.station_code,
            "source": self.source,
            "scanned_at": iso(self.scanned_at),
        }


@dataclass(frozen=True)
class BadRequest:
    """A request that could not be decoded into an input (kept for "why didn't it count?")."""

    KIND: ClassVar[str] = "http.bad"
    reason: str
    raw: str

    def payload(self) -> dict[str, Any]:
        """Return nothing decoded: the raw text is kept apart."""
        return {}


# -- welding stations (docs/contract.md §6) ---------------------------------------------------


@dataclass(frozen=True)
class StationStatus:
    """A station's retained birth, or its Last Will."""

    device: str
    boot_id: str
    state: str
    ts: datetime
    fw: str | None


@dataclass(frozen=True)
class ArcStart:
    """The arc struck."""

    device: str
    boot_id: str
    seq: int
    weld_id: str
    ts: datetime
    process: str | None


@dataclass(frozen=True)
class ArcEnd:
    """The record of a weld."""

    device: str
    boot_id: str
    seq: int
    weld_id: str
    ts_start: datetime
    ts_end: datetime
    arc_s: float
    process: str | None
    i_mean: float
    i_min: float | None
    i_max: float | None
    u_mean: float
    u_min: float | None
    u_max: float | None
    wfs_m_min: float | None
    gas_l_min: float | None
    energy_j: float | None
    length_mm: float | None


@dataclass(frozen=True)
class Samples:
    """A batch of 10 Hz samples of a weld in progress."""

    device: str
    boot_id: str
    seq: int
    weld_id: str
    t0: datetime
    dt_ms: float
    i_a: tuple[float, ...]
    u_v: tuple[float, ...]


StationPayload = StationStatus | ArcStart | ArcEnd | Samples


@dataclass(frozen=True)
class StationMessage:
    """One MQTT message of a welding station, decoded (``payload``) or not (``reason``)."""

    topic: str
    device: str | None
    received_at: datetime
    body_sha256: str
    payload: StationPayload | None = None
    reason: str | None = None
    raw: str | None = None

    @property
    def kind(self) -> str:
        """Return the event kind of the message."""
        if self.payload is None:
            return "mqtt.unreadable"
        return MESSAGE_KINDS[type(self.payload)]


MESSAGE_KINDS: dict[type, str] = {
    StationStatus: "mqtt.status",
    ArcStart: "mqtt.arc_start",
    ArcEnd: "mqtt.arc_end",
    Samples: "mqtt.samples",
}


# -- people and administration ----------------------------------------------------------------


@dataclass(frozen=True)
class ChangePassword:
    """A staff member chose a new password (hashed by the boundary, never logged)."""

    KIND: ClassVar[str] = "staff.password"
    user_id: int
    password_hash: str = field(repr=False)

    def payload(self) -> dict[str, Any]:
        """Return who changed their password (nothing of the password)."""
        return {"user": self.user_id}


@dataclass(frozen=True)
class CreateStaff:
    """An administrator (or the CLI) creates a staff account, or resets an imported one."""

    KIND: ClassVar[str] = "staff.create"
    email: str
    role: str
    name: str | None
    password_hash: str = field(repr=False)

    def payload(self) -> dict[str, Any]:
        """Return the account's address, role and name."""
        return {"email": self.email, "role": self.role, "name": self.name}


@dataclass(frozen=True)
class CreateToken:
    """A device token is created (its clear value is shown once, only its hash is kept)."""

    KIND: ClassVar[str] = "token.create"
    name: str
    station_code: str | None
    read: bool
    token_sha256: str = field(repr=False)
    prefix: str = ""

    def payload(self) -> dict[str, Any]:
        """Return the token's name, binding, rights and recognisable prefix."""
        return {
            "name": self.name,
            "station": self.station_code,
            "read": self.read,
            "prefix": self.prefix,
        }


@dataclass(frozen=True)
class RevokeToken:
    """A device token stops working."""

    KIND: ClassVar[str] = "token.revoke"
    token_id: int

    def payload(self) -> dict[str, Any]:
        """Return which token."""
        return {"token": self.token_id}


@dataclass(frozen=True)
class EnrolKiosk:
    """A one-time link to enrol a kiosk for a station is made (only its hash is kept)."""

    KIND: ClassVar[str] = "kiosk.enrol"
    station_code: str
    code_sha256: str = field(repr=False)
    expires_at: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """Return which station and until when the link works (never the link)."""
        return {"station": self.station_code, "expires_at": iso(self.expires_at)}


@dataclass(frozen=True)
class ActivateKiosk:
    """A kiosk's browser opened its enrolment link: it gets a credential for the station."""

    KIND: ClassVar[str] = "kiosk.activate"
    code_sha256: str = field(repr=False)
    token_sha256: str = field(repr=False)
    prefix: str = ""

    def payload(self) -> dict[str, Any]:
        """Return the new credential's recognisable prefix (never the link or credential)."""
        return {"prefix": self.prefix}


@dataclass(frozen=True)
class ImportSchool:
    """The school file, validated, to create or update the site's data (all or nothing)."""

    KIND: ClassVar[str] = "data.import"
    spec: Any  # app.data.schema.SchoolSpec (the core does not import the file reader)
    filename: str
    sha256: str
    # Only say what the import would do (the office's preview): refused, nothing written.
    preview: bool = False

    def payload(self) -> dict[str, Any]:
        """Return which file (its name and digest), not its content."""
        return {"filename": self.filename, "sha256": self.sha256, "preview": self.preview}


@dataclass(frozen=True)
class AssignWeld:
    """A teacher gives an unattributed weld to a piece's operation and its students."""

    KIND: ClassVar[str] = "weld.assign"
    weld_id: str
    piece_code: str
    step: int
    student_codes: tuple[str, ...]

    def payload(self) -> dict[str, Any]:
        """Return the weld and where it goes."""
        return {
            "weld": self.weld_id,
            "piece": self.piece_code,
            "step": self.step,
            "students": list(self.student_codes),
        }


@dataclass(frozen=True)
class AssessmentInput:
    """A teacher's level (and comment) for a student's evidence of a competency."""

    student_code: str
    competency: str  # framework:code
    level: str
    comment: str | None = None


@dataclass(frozen=True)
class ReviewPiece:
    """A teacher's review of a finished piece: the customer verdict and the assessments."""

    KIND: ClassVar[str] = "piece.review"
    piece_code: str
    verdict: str
    assessments: tuple[AssessmentInput, ...] = ()

    def payload(self) -> dict[str, Any]:
        """Return the review as the teacher gave it."""
        return {
            "piece": self.piece_code,
            "verdict": self.verdict,
            "assessments": [
                {
                    "student": a.student_code,
                    "competency": a.competency,
                    "level": a.level,
                    "comment": a.comment,
                }
                for a in self.assessments
            ],
        }


# -- printing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocatePieceLabels:
    """The next piece serials of the year are given to a work order, for a sheet of labels.

    ``year`` is the workshop's current year, told by the boundary (the core reads no
    clock zone); the serials are never handed out again, even if the sheet is thrown away.
    """

    KIND: ClassVar[str] = "labels.allocate"
    work_order: str
    count: int
    stock: str
    year: int

    def payload(self) -> dict[str, Any]:
        """Return which order, how many labels, on which stock, for which year."""
        return {
            "work_order": self.work_order,
            "count": self.count,
            "stock": self.stock,
            "year": self.year,
        }


# -- the school's day -------------------------------------------------------------------------


@dataclass(frozen=True)
class DayClose:
    """The school closes: every run still open pauses, everyone is badged out.

    ``day`` is the workshop's local date and ``closes_at`` the instant the close takes
    effect, both told by the boundary (the core reads no clock zone): what it ends is
    stamped ``closes_at``, not the time the command ran. A site's day closes once: the
    boundary keys the input by the date (``app.boundary.day_close_origin``).
    """

    KIND: ClassVar[str] = "day.close"
    day: date
    closes_at: datetime

    def payload(self) -> dict[str, Any]:
        """Return which day, closed at which instant."""
        return {"day": self.day.isoformat(), "closes_at": iso(self.closes_at)}


# -- the teacher's records (issue 10) ---------------------------------------------------------

# How a student felt a run went, and the rules of a current level (as app.models.records).
FEELINGS = ("difficile", "moyen", "facile")
MASTERY_RULES = ("latest", "recent")


@dataclass(frozen=True)
class SelfAssess:
    """A student says, at the kiosk after A-FIN, how their run of a piece's step went.

    It refers to the student's latest finished run of that step; a second answer for the
    same run replaces the first (both stay in the event log).
    """

    KIND: ClassVar[str] = "record.self"
    piece_code: str
    step: int
    student_code: str
    feeling: str

    def payload(self) -> dict[str, Any]:
        """Return which piece, step and student, and how it went."""
        return {
            "piece": self.piece_code,
            "step": self.step,
            "student": self.student_code,
            "feeling": self.feeling,
        }


@dataclass(frozen=True)
class SetLevel:
    """A teacher sets a student's current level of a competency by hand, with a reason."""

    KIND: ClassVar[str] = "record.level"
    student_code: str
    competency: str  # framework:code
    level: str
    reason: str

    def payload(self) -> dict[str, Any]:
        """Return the level as the teacher set it, and why."""
        return {
            "student": self.student_code,
            "competency": self.competency,
            "level": self.level,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SetMasteryRule:
    """The site's rule for a competency's current level: ``latest``, or ``recent`` over N."""

    KIND: ClassVar[str] = "record.rule"
    kind: str
    n: int

    def payload(self) -> dict[str, Any]:
        """Return the rule."""
        return {"kind": self.kind, "n": self.n}


@dataclass(frozen=True)
class ConfirmContinuity:
    """A teacher signs a student's 6-monthly ISO 9606-1 confirmation of a process/position."""

    KIND: ClassVar[str] = "record.confirm"
    student_code: str
    process: str
    position: str

    def payload(self) -> dict[str, Any]:
        """Return whose continuity, for which process and position."""
        return {"student": self.student_code, "process": self.process, "position": self.position}


@dataclass(frozen=True)
class AttachPhoto:
    """A photo of a piece (never of a person), taken with the tablet, for its review."""

    KIND: ClassVar[str] = "piece.photo"
    piece_code: str
    media_type: str
    data: bytes = field(repr=False)

    def payload(self) -> dict[str, Any]:
        """Return the piece and the photo's digest and size (never the bytes)."""
        return {
            "piece": self.piece_code,
            "media_type": self.media_type,
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "size": len(self.data),
        }


@dataclass(frozen=True)
class ExportRecord:
    """A student's record was exported (PDF or CSV): kept for the audit log only."""

    KIND: ClassVar[str] = "record.export"
    student_code: str
    fmt: str

    def payload(self) -> dict[str, Any]:
        """Return whose record, in which format."""
        return {"student": self.student_code, "format": self.fmt}
