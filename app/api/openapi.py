"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

# What event_id and station may contain: no control character (C0, DEL, C1), no line or
# paragraph separator. The scan API applies this same pattern (and refuses a lone
# surrogate too, which is no Unicode text at all: no pattern engine can name it). It says
# "no such character anywhere" with a lookahead rather than "^[^…]*$": Python's "$" (that
# of most JSON Schema tools) also matches before a final newline, ECMA-262's does not.
PRINTABLE_PATTERN = "^(?![\\s\\S]*[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029])"
# scanned_at's year, as written: 1970 to 2999.
TIMESTAMP_YEAR_PATTERN = "^(19[7-9][0-9]|2[0-9][0-9][0-9])-"

NULLABLE_STRING = {"type": ["string", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


SCHEMAS: dict[str, Any] = {
    "ScanRequest": {
        "type": "object",
        "required": ["event_id", "code"],
        "properties": {
            "event_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 80,
                "pattern": PRINTABLE_PATTERN,
                "description": "Id minted where the scan happened; makes retries safe.",
            },
            "station": {
                "type": "string",
                "maxLength": 80,
                "pattern": PRINTABLE_PATTERN,
                "description": "Station code; may be omitted when the token is bound to one.",
            },
            "code": {"type": "string", "maxLength": 200, "description": "The text scanned."},
            "source": {"type": "string", "enum": ["rfid", "barcode", "keyboard", "touch"]},
            "scanned_at": {
                "type": "string",
                "format": "date-time",
                "maxLength": 40,
                "pattern": TIMESTAMP_YEAR_PATTERN,
                "description": ("Advisory, between 1970 and 2999; the server stamps its own time."),
            },
        },
    },
    "StudentRef": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    },
    "OperationRef": {
        "type": "object",
        "required": ["code", "step", "type", "name"],
        "properties": {
            "code": {"type": "string"},
            "step": {"type": "integer"},
            "type": {"type": "string"},
            "name": {"type": "string"},
        },
    },
    "Station": {
        "type": "object",
        "required": [
            "code",
            "name",
            "kind",
            "students",
            "work_order",
            "operation",
            "piece",
            "run",
            "online",
            "arc_on",
        ],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "students": {"type": "array", "items": _ref("StudentRef")},
            "work_order": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["number", "product"],
                        "properties": {"number": {"type": "string"}, "product": {"type": "string"}},
                    },
                ]
            },
            "operation": {"oneOf": [{"type": "null"}, _ref("OperationRef")]},
            "piece": NULLABLE_STRING,
            "run": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["piece", "operation", "status", "started_at"],
                        "properties": {
                            "piece": {"type": "string"},
                            "operation": _ref("OperationRef"),
                            "status": {"type": "string", "enum": ["running", "paused", "finished"]},
                            "started_at": TIMESTAMP,
                        },
                    },
                ]
            },
            "acting_for": {
                "type": ["string", "null"],
                "description": "Kiosks: the station the kiosk acts for (null: itself).",
            },
            "via_kiosk": {"type": "string"},
            "online": {
                "type": ["boolean", "null"],
                "description": "Welding stations: the device said it is online (else null).",
            },
            "arc_on": {
                "type": ["boolean", "null"],
                "description": "Welding stations: the arc is struck now (else null).",
            },
            "help_since": {
                **TIMESTAMP,
                "description": "Since when the students badged in wait for the teacher (A-AIDE).",
            },
        },
    },
    "ScanAccepted": {
        "type": "object",
        "required": ["event_id", "status", "kind", "message", "station"],
        "properties": {
            "event_id": {"type": "string"},
            "status": {"const": "accepted"},
            "kind": {
                "type": "string",
                "enum": ["badge", "work_order", "operation", "piece", "station", "action"],
            },
            "message": {"type": "string", "description": "French feedback for the kiosk."},
            "station": _ref("Station"),
            "duplicate": {"type": "boolean"},
        },
    },
    "ScanRejected": {
        "type": "object",
        "required": ["event_id", "status", "error"],
        "properties": {
            "event_id": {"type": "string"},
            "status": {"const": "rejected"},
            "kind": {"type": "string"},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": (
                            "unknown_code, bad_format, keyboard_layout, no_student, "
                            "no_work_order, not_allowed, no_operation, no_station, "
                            "unknown_station, too_many_pieces, nothing_to_undo, "
                            "undo_conflict, internal_error"
                        ),
                    },
                    "message": {"type": "string"},
                },
            },
            "station": _ref("Station"),
            "duplicate": {"type": "boolean"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["status", "error"],
        "properties": {
            "status": {"type": "string"},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "Assessment": {
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "required": ["level", "assessed_at", "by"],
                "properties": {
                    "level": {"type": "string", "enum": ["NE", "ABS", "1", "2", "3", "4"]},
                    "assessed_at": TIMESTAMP,
                    "by": {"type": "string"},
                    "comment": NULLABLE_STRING,
                },
            },
        ]
    },
    "Weld": {
        "type": "object",
        "required": [
            "weld_id",
            "process",
            "arc_s",
            "i_mean_a",
            "u_mean_v",
            "energy_j",
            "wps_verdict",
        ],
        "properties": {
            "weld_id": {"type": "string"},
            "station": {"type": "string"},
            "wps": NULLABLE_STRING,
            "process": NULLABLE_STRING,
            "started_at": TIMESTAMP,
            "arc_s": {"type": "number"},
            "i_mean_a": {"type": "number"},
            "u_mean_v": {"type": "number"},
            "energy_j": {"type": ["number", "null"]},
            "length_mm": {"type": ["number", "null"]},
            "heat_input_kj_mm": {"type": ["number", "null"]},
            "wps_verdict": {"type": "string", "enum": ["in_range", "out_of_range", "no_wps"]},
            "deviations": {"type": "array"},
            "students": {"type": "array", "items": _ref("StudentRef")},
        },
    },
    "Piece": {
        "type": "object",
        "required": ["code", "status", "work_order", "operations", "evidence"],
        "properties": {
            "code": {"type": "string"},
            "status": {"type": "string", "enum": ["in_progress", "awaiting_review", "reviewed"]},
            "created_at": TIMESTAMP,
            "completed_at": TIMESTAMP,
            "work_order": {
                "type": "object",
                "required": ["number", "product", "customer", "quantity"],
                "properties": {
                    "number": {"type": "string"},
                    "product": {"type": "string"},
                    "customer": {"type": "string"},
                    "quantity": {"type": "integer"},
                    "due": {"type": ["string", "null"], "format": "date"},
                },
            },
            "operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "step", "name", "status", "students", "welds"],
                    "properties": {
                        "code": {"type": "string"},
                        "step": {"type": "integer"},
                        "type": {"type": "string"},
                        "name": {"type": "string"},
                        "wps": NULLABLE_STRING,
                        "status": {
                            "type": "string",
                            "enum": ["todo", "running", "paused", "finished"],
                        },
                        "station": NULLABLE_STRING,
                        "students": {"type": "array", "items": _ref("StudentRef")},
                        "started_at": TIMESTAMP,
                        "finished_at": TIMESTAMP,
                        "welds": {"type": "array", "items": _ref("Weld")},
                    },
                },
            },
            "review": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["verdict", "reviewed_at", "by"],
                        "properties": {
                            "verdict": {
                                "type": "string",
                                "enum": ["conforme", "a_reprendre", "rebut"],
                            },
                            "reviewed_at": TIMESTAMP,
                            "by": {"type": "string"},
                        },
                    },
                ]
            },
            "evidence": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["student", "competency", "assessment"],
                    "properties": {
                        "student": _ref("StudentRef"),
                        "competency": {"type": "string"},
                        "title": {"type": "string"},
                        "operation": {"type": "string"},
                        "assessment": _ref("Assessment"),
                    },
                },
            },
        },
    },
    "Portfolio": {
        "type": "object",
        "required": ["student", "competencies"],
        "properties": {
            "welding": {
                "type": "array",
                "description": "Arc time per process and position (welder qualification).",
                "items": {
                    "type": "object",
                    "required": ["process", "position", "arc_s", "welds"],
                    "properties": {
                        "process": NULLABLE_STRING,
                        "position": NULLABLE_STRING,
                        "arc_s": {"type": "number"},
                        "welds": {"type": "integer"},
                        "last_weld_at": TIMESTAMP,
                    },
                },
            },
            "student": {
                "type": "object",
                "required": ["id", "name", "framework"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "framework": {
                        "type": "object",
                        "required": ["code", "title", "provisional"],
                        "properties": {
                            "code": {"type": "string"},
                            "title": {"type": "string"},
                            "provisional": {"type": "boolean"},
                        },
                    },
                },
            },
            "competencies": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "title", "evidence_count", "latest_assessment", "pieces"],
                    "properties": {
                        "code": {"type": "string"},
                        "title": {"type": "string"},
                        "evidence_count": {"type": "integer"},
                        "latest_assessment": _ref("Assessment"),
                        "pieces": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "StationList": {
        "type": "object",
        "required": ["stations"],
        "properties": {"stations": {"type": "array", "items": _ref("Station")}},
    },
}

READ_SECURITY: list[dict[str, list[str]]] = [{"deviceToken": []}, {"teacherSession": []}]
# Section 8: a signed-in teacher or administrator only (device tokens and kiosks: 403).
STAFF_SECURITY: list[dict[str, list[str]]] = [{"teacherSession": []}]
CSRF_HEADER = {
    "name": "X-CSRFToken",
    "in": "header",
    "required": False,
    "description": "The CSRF token of the session (every staff page has it in "
    '<meta name="csrf-token">); required with the session cookie.',
    "schema": {"type": "string", "maxLength": 200},
}
LEVELS = ["NE", "ABS", "1", "2", "3", "4"]
VERDICTS = ["conforme", "a_reprendre", "rebut"]

SCHEMAS.update(
    {
        "ReviewQueue": {
            "type": "object",
            "required": ["count", "pieces"],
            "properties": {
                "count": {"type": "integer", "description": "All the pieces awaiting review."},
                "pieces": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "work_order", "students", "completed_at", "stations"],
                        "properties": {
                            "code": {"type": "string"},
                            "work_order": {
                                "type": "object",
                                "required": ["number", "product"],
                                "properties": {
                                    "number": {"type": "string"},
                                    "product": {"type": "string"},
                                },
                            },
                            "students": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["code", "display_name"],
                                    "properties": {
                                        "code": {"type": "string"},
                                        "display_name": {"type": "string"},
                                    },
                                },
                            },
                            "completed_at": TIMESTAMP,
                            "stations": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "ReviewRequest": {
            "type": "object",
            "required": ["verdict"],
            "additionalProperties": False,
            "properties": {
                "verdict": {
                    "type": "string",
                    "enum": VERDICTS,
                    "description": "The customer verdict (any other: 422).",
                },
                "assessments": {
                    "type": "array",
                    "maxItems": 200,
                    "items": {
                        "type": "object",
                        "required": ["student", "competency", "level"],
                        "additionalProperties": False,
                        "properties": {
                            "student": {"type": "string", "minLength": 1, "maxLength": 40},
                            "competency": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 80,
                                "description": "framework:code, evidenced by the piece for "
                                "that student (else 422).",
                            },
                            "level": {"type": "string", "enum": LEVELS},
                            "comment": {"type": ["string", "null"], "maxLength": 500},
                        },
                    },
                },
            },
        },
        "WeldList": {
            "type": "object",
            "required": ["welds"],
            "properties": {"welds": {"type": "array", "items": _ref("Weld")}},
        },
        "WeldAssignment": {
            "type": "object",
            "required": ["piece", "step", "students"],
            "additionalProperties": False,
            "properties": {
                "piece": {"type": "string", "minLength": 1, "maxLength": 40},
                "step": {"type": "integer", "minimum": 1, "maximum": 9999},
                "students": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 20,
                    "items": {"type": "string", "minLength": 1, "maxLength": 40},
                },
            },
        },
        "WeldAssigned": {
            "type": "object",
            "required": ["status", "message", "weld"],
            "properties": {
                "status": {"const": "accepted"},
                "message": {"type": "string"},
                "weld": _ref("Weld"),
            },
        },
    }
)


def _path_id(description: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _staff_errors(*extra: tuple[str, str]) -> dict[str, Any]:
    responses = {
        "401": _error_response("Not signed in."),
        "403": _error_response(
            "A device token or a kiosk credential (staff only), or no valid CSRF token."
        ),
    }
    responses.update({status: _error_response(text) for status, text in extra})
    return responses


def _record_export(fmt: str, media_type: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": f"getRecord{fmt.capitalize()}",
            "summary": f"A student's record (livret) as {fmt.upper()}; the export is audited.",
            "security": STAFF_SECURITY,
            "parameters": [_path_id("The student's id (E…).")],
            "responses": {
                "200": {
                    "description": f"The record, as an attachment ({fmt.upper()}).",
                    "content": {media_type: {"schema": {"type": "string"}}},
                },
                **_staff_errors(("404", "Unknown student."), ("503", "Database busy.")),
            },
        }
    }


STAFF_PATHS: dict[str, Any] = {
    "/reviews": {
        "get": {
            "operationId": "getReviews",
            "summary": "Pieces awaiting review, newest first.",
            "security": STAFF_SECURITY,
            "parameters": [
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": description,
                    "schema": {"type": "string", "maxLength": 80},
                }
                for name, description in (
                    ("student", "Only pieces a student worked on (their id)."),
                    ("work_order", "Only pieces of a work order (OF-YYYY-NNNN)."),
                    ("station", "Only pieces worked on at a station (ST-…)."),
                )
            ]
            + [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                }
            ],
            "responses": {
                "200": {
                    "description": "The queue.",
                    "content": {"application/json": {"schema": _ref("ReviewQueue")}},
                },
                **_staff_errors(("400", "Bad filter.")),
            },
        }
    },
    "/pieces/{code}/review": {
        "post": {
            "operationId": "postReview",
            "summary": "Record a finished piece's customer verdict and its students' levels.",
            "description": "A later review supersedes an earlier one; both are kept, and the "
            "audit log has every change. A level for a competency the piece did not evidence "
            "for that student, an unknown level or verdict: 422 and nothing changed.",
            "security": STAFF_SECURITY,
            "parameters": [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                CSRF_HEADER,
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ReviewRequest")}},
            },
            "responses": {
                "200": {
                    "description": "The piece as GET /pieces/{code} now shows it.",
                    "content": {"application/json": {"schema": _ref("Piece")}},
                },
                **_staff_errors(
                    ("400", "Malformed JSON or fields."),
                    ("404", "Unknown piece."),
                    ("409", "The piece is not finished (still in production)."),
                    ("422", "Unknown verdict or level, or a competency not evidenced."),
                    ("503", "Database busy: retry."),
                ),
            },
        }
    },
    "/welds": {
        "get": {
            "operationId": "getWelds",
            "summary": "Welds no run was active for, newest first.",
            "security": STAFF_SECURITY,
            "parameters": [
                {
                    "name": "unattributed",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "enum": ["true"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The welds.",
                    "content": {"application/json": {"schema": _ref("WeldList")}},
                },
                **_staff_errors(("400", "unattributed=true missing.")),
            },
        }
    },
    "/welds/{id}/assign": {
        "post": {
            "operationId": "assignWeld",
            "summary": "Attribute an unattributed weld (evidence as if attributed live).",
            "security": STAFF_SECURITY,
            "parameters": [_path_id("The weld id."), CSRF_HEADER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("WeldAssignment")}},
            },
            "responses": {
                "200": {
                    "description": "Attributed.",
                    "content": {"application/json": {"schema": _ref("WeldAssigned")}},
                },
                **_staff_errors(
                    ("400", "Malformed JSON or fields."),
                    ("404", "Unknown weld, or no such operation started on the piece."),
                    ("409", "The weld is already attributed."),
                    ("422", "Unknown students."),
                    ("503", "Database busy: retry."),
                ),
            },
        }
    },
    "/students/{id}/record.pdf": _record_export("pdf", "application/pdf"),
    "/students/{id}/record.csv": _record_export("csv", "text/csv"),
}


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of the scan and read APIs."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Atelier API",
            "version": "1",
            "description": "Scans from devices and the read API of the Atelier production tracker.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "deviceToken": {"type": "http", "scheme": "bearer"},
                "teacherSession": {"type": "apiKey", "in": "cookie", "name": "session"},
                "kioskCredential": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "atelier_borne",
                    "description": "A kiosk's credential (docs/contract.md §7), with the "
                    "header X-Atelier-Borne: 1.",
                },
            },
            "schemas": SCHEMAS,
        },
        "paths": {
            "/scans": {
                "post": {
                    "operationId": "postScan",
                    "summary": "Record a scan and apply it to the station's state.",
                    "security": [{"deviceToken": []}, {"kioskCredential": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ScanRequest")}},
                    },
                    "responses": {
                        "201": {
                            "description": "Accepted.",
                            "content": {"application/json": {"schema": _ref("ScanAccepted")}},
                        },
                        "200": {
                            "description": "The same event_id and body came before: its answer.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [_ref("ScanAccepted"), _ref("ScanRejected")]
                                    }
                                }
                            },
                        },
                        "400": _error_response("Malformed JSON or fields."),
                        "401": _error_response("Missing or bad token."),
                        "403": _error_response(
                            "The token may not post scans, or a kiosk's scan came without "
                            "its header or from another site."
                        ),
                        "409": {
                            "description": "The event_id came before with a different body.",
                            "content": {"application/json": {"schema": _ref("ScanRejected")}},
                        },
                        "422": {
                            "description": "Rejected (still recorded in the event log).",
                            "content": {"application/json": {"schema": _ref("ScanRejected")}},
                        },
                        "503": _error_response("Database busy or down: retry later."),
                    },
                }
            },
            "/pieces/{code}": {
                "get": {
                    "operationId": "getPiece",
                    "summary": "A piece with its operations, students, welds and evidence.",
                    "security": READ_SECURITY,
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The piece.",
                            "content": {"application/json": {"schema": _ref("Piece")}},
                        },
                        "401": _error_response("Not signed in and no read token."),
                        "403": _error_response("The token has no read rights."),
                        "404": _error_response("Unknown piece."),
                    },
                }
            },
            "/students/{id}/portfolio": {
                "get": {
                    "operationId": "getPortfolio",
                    "summary": "Evidence per competency of the student's framework.",
                    "security": READ_SECURITY,
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The portfolio.",
                            "content": {"application/json": {"schema": _ref("Portfolio")}},
                        },
                        "401": _error_response("Not signed in and no read token."),
                        "403": _error_response("The token has no read rights."),
                        "404": _error_response("Unknown student."),
                    },
                }
            },
            "/stations": {
                "get": {
                    "operationId": "getStations",
                    "summary": "Every station's live state.",
                    "security": READ_SECURITY,
                    "responses": {
                        "200": {
                            "description": "The stations.",
                            "content": {"application/json": {"schema": _ref("StationList")}},
                        },
                        "401": _error_response("Not signed in and no read token."),
                        "403": _error_response("The token has no read rights."),
                    },
                }
            },
            **STAFF_PATHS,
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness of the web process.",
                    "security": [],
                    "responses": {"200": {"description": "Up."}},
                }
            },
        },
    }
