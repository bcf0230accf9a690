"""The domain model, one module per domain; importing this package registers every table."""

from app.models.curriculum import Competency, Framework
from app.models.devices import DeviceToken, Setting
from app.models.events import ASSESSMENT_LEVELS, Assessment, Event, Evidence
from app.models.people import ROLES, Badge, StaffUser, Student
from app.models.production import (
    PIECE_STATUSES,
    RUN_STATUSES,
    STATION_KINDS,
    Customer,
    Operation,
    OperationRun,
    OperationType,
    Piece,
    Presence,
    RunInterval,
    RunParticipant,
    Station,
    StationState,
    WorkOrder,
    Wps,
    operation_type_competencies,
)
from app.models.types import UtcDateTime, utcnow
from app.models.welding import (
    VERDICTS,
    DeviceStatus,
    MqttOutbox,
    SeqGap,
    Weld,
    WeldSamples,
    WeldStudent,
)

__all__ = [
    "ASSESSMENT_LEVELS",
    "PIECE_STATUSES",
    "ROLES",
    "RUN_STATUSES",
    "STATION_KINDS",
    "VERDICTS",
    "Assessment",
    "Badge",
    "Competency",
    "Customer",
    "DeviceStatus",
    "DeviceToken",
    "Event",
    "Evidence",
    "Framework",
    "MqttOutbox",
    "Operation",
    "OperationRun",
    "OperationType",
    "Piece",
    "Presence",
    "RunInterval",
    "RunParticipant",
    "SeqGap",
    "Setting",
    "StaffUser",
    "Station",
    "StationState",
    "Student",
    "UtcDateTime",
    "Weld",
    "WeldSamples",
    "WeldStudent",
    "WorkOrder",
    "Wps",
    "operation_type_competencies",
    "utcnow",
]
