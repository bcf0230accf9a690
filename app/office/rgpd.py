"""A student's data rights, for the administrator: the export (access, RGPD art. 15) and
the erasure (art. 17).

- GET /bureau/eleves/<code>/export: what the two downloads hold, and the links.
- GET /bureau/eleves/<code>/donnees.json: everything held about the student
  (``app.read.rgpd.student_data``), as an attachment.
- GET /bureau/eleves/<code>/livret.pdf: the student's livret (``app.printing.records``).
- GET+POST /bureau/eleves/<code>/effacer: what will be erased and what stays; the
  administrator types the student's code to confirm, then ``EraseStudent(code, "request")``.

Each download is recorded first (``ExportRecord``, for the audit log); nothing is cached
(the blueprint's ``no-store``). Administrators only: a teacher gets 403.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, flash, redirect, render_template, request
from flask_login import login_required

from app.extensions import db
from app.ingest.events import ExportRecord
from app.ingest.office_events import EraseStudent
from app.models import StaffUser, utcnow
from app.office import admin, bp, form_key, page, refusal, send
from app.printing.records import record_pdf
from app.read import rgpd as reading
from app.read.records import student_record

SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
STUDENTS_PATH = "/bureau/eleves"


def _unknown(code: str) -> Response:
    return page(render_template("office/rgpd_unknown.html", code=code), 404)


def _summary(user: StaffUser, code: str) -> dict[str, Any] | None:
    summary: dict[str, Any] | None = reading.student_summary(db.session(), user.site_id, code)
    return summary


def _export_page(
    student: dict[str, Any], *, status: int = 200, problem: str | None = None
) -> Response:
    html = render_template("office/rgpd_export.html", student=student, problem=problem)
    return page(html, status)


def _recorded(user: StaffUser, student: dict[str, Any], fmt: str) -> Response | None:
    """Record the export for the audit log; a page to answer instead when it was not."""
    outcome = send(user, ExportRecord(student["code"], fmt))
    if outcome is None:
        return _export_page(student, status=503)
    if not outcome.accepted:
        return _export_page(student, status=422, problem=refusal(outcome))
    return None


def _attachment(content: bytes, media_type: str, code: str, suffix: str) -> Response:
    response = Response(content, mimetype=media_type)
    name = f"{suffix}-{SAFE_NAME.sub('-', code)}-{utcnow().date().isoformat()}"
    extension = "json" if media_type.startswith("application/json") else "pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


@bp.get("/eleves/<code>/export")
@login_required  # type: ignore[untyped-decorator]
def student_export(code: str) -> Any:
    """Show what a student's two downloads hold, with their links."""
    user = admin()
    student = _summary(user, code)
    if student is None:
        return _unknown(code)
    return _export_page(student)


@bp.get("/eleves/<code>/donnees.json")
@login_required  # type: ignore[untyped-decorator]
def student_data_json(code: str) -> Any:
    """Download everything held about a student as JSON (the export is logged first)."""
    user = admin()
    student = _summary(user, code)
    if student is None:
        return _unknown(code)
    data = reading.student_data(db.session(), user.site_id, code)
    db.session.rollback()
    answer = _recorded(user, student, "json")
    if answer is not None:
        return answer
    body = {
        "exported_at": utcnow().isoformat(),
        "about": "Données d'un élève tenues par Atelier (droit d'accès, RGPD art. 15).",
        **(data or {}),
    }
    content = json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
    return _attachment(content, "application/json; charset=utf-8", code, "donnees")


@bp.get("/eleves/<code>/livret.pdf")
@login_required  # type: ignore[untyped-decorator]
def student_record_pdf(code: str) -> Any:
    """Download a student's livret as PDF (the export is logged first)."""
    user = admin()
    student = _summary(user, code)
    if student is None:
        return _unknown(code)
    record = student_record(db.session(), user.site_id, code)
    db.session.rollback()
    if record is None:
        return _unknown(code)
    answer = _recorded(user, student, "pdf")
    if answer is not None:
        return answer
    return _attachment(record_pdf(record, exported_at=utcnow()), "application/pdf", code, "livret")


def _erase_page(
    student: dict[str, Any],
    *,
    status: int = 200,
    problem: str | None = None,
    typed: str = "",
    key: str | None = None,
) -> Response:
    html = render_template(
        "office/rgpd_erase.html",
        student=student,
        problem=problem,
        typed=typed,
        key=key or form_key(),
    )
    return page(html, status)


@bp.route("/eleves/<code>/effacer", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def student_erase(code: str) -> Any:
    """Show what erasing a student removes and keeps; erase once their code is typed."""
    user = admin()
    student = _summary(user, code)
    if student is None:
        return _unknown(code)
    if request.method == "GET":
        return _erase_page(student)
    key = (request.form.get("key") or "").strip()[:64] or None
    typed = (request.form.get("confirm") or "").strip()
    if student["erased_at"] is not None:
        return _erase_page(student, status=422, problem="Cet élève a déjà été effacé.")
    if typed != student["code"]:
        problem = (
            f"Tapez exactement le code de l'élève ({student['code']}) pour confirmer : "
            "rien n'a été effacé."
        )
        return _erase_page(student, status=422, problem=problem, typed=typed, key=key)
    outcome = send(user, EraseStudent(student["code"], "request"), key)
    if outcome is None:
        return _erase_page(student, status=503, typed=typed, key=key)
    if outcome.status == "conflict":
        # The same form sent twice at once: the first one erased them (and its row says
        # only the new code now, so the second one's body differs).
        flash("Cet effacement a déjà été fait.", "success")
        return redirect(STUDENTS_PATH, 303)
    if not outcome.accepted:
        return _erase_page(student, status=422, problem=refusal(outcome), typed=typed, key=key)
    flash(
        "Données personnelles de l'élève effacées : il ou elle apparaît désormais comme "
        f"{outcome.body['student']}. Ses pièces et ses niveaux restent comptés.",
        "success",
    )
    return redirect(STUDENTS_PATH, 303)
