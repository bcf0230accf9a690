"""The office's students and badges (administrators only).

The class lists per framework, a student's page (details, badges, authorisations) and the
forms that change them: each hands an input of ``app.ingest.office_events`` to the core. A
badge is given by passing it in front of the office's reader, a keyboard wedge: the page's
script (``static/office/badge-capture.js``) catches its burst; without a script the code
is typed in the form's field, which the reader can also type into.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.extensions import db
from app.ingest.office_events import GiveBadge, SaveStudent, SetStudentHabilitation
from app.models import StaffUser
from app.office import admin, bp, form_key, page, refusal, send, today, zone
from app.read import office_people


class BadForm(Exception):
    """A form field the page cannot read (a date): its French message."""


def form_day(name: str, label: str) -> date | None:
    """Return a date field of the posted form (empty: None), or raise BadForm."""
    text = (request.form.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadForm(f"{label} : date invalide (jj/mm/aaaa).") from None


def field(name: str, max_length: int = 200) -> str:
    """Return a text field of the posted form, cut to a sane length."""
    return (request.form.get(name) or "")[:max_length]


@bp.get("/eleves")
@login_required  # type: ignore[untyped-decorator]
def students() -> Any:
    """List the students of each class, with their badges and the badge printing links."""
    user = admin()
    with_left = request.args.get("sortis") == "1"
    html = render_template(
        "office/people_list.html",
        classes=office_people.class_lists(db.session(), user.site_id, today(), with_left=with_left),
        with_left=with_left,
    )
    return page(html)


def _new_page(user: StaffUser, values: dict[str, Any], error: str | None, status: int) -> Any:
    html = render_template(
        "office/people_new.html",
        frameworks=office_people.frameworks_of(db.session(), user.site_id),
        values=values,
        error=error,
        key=form_key(),
    )
    return page(html, status)


@bp.get("/eleves/nouveau")
@login_required  # type: ignore[untyped-decorator]
def student_new() -> Any:
    """Show the form that adds a student."""
    user = admin()
    return _new_page(user, {"framework": request.args.get("classe", "")}, None, 200)


@bp.post("/eleves/nouveau")
@login_required  # type: ignore[untyped-decorator]
def student_create() -> Any:
    """Add a student."""
    user = admin()
    values = {name: field(name) for name in ("code", "name", "framework", "left_on")}
    try:
        left_on = form_day("left_on", "Fin de scolarité")
    except BadForm as bad:
        return _new_page(user, values, str(bad), 422)
    event = SaveStudent(
        code=values["code"].strip(),
        name=values["name"],
        framework=values["framework"],
        left_on=left_on,
        create=True,
    )
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _new_page(user, values, None, 503)
    if not outcome.accepted:
        return _new_page(user, values, refusal(outcome), 422)
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.student", code=event.code), 303)


def _student_page(
    user: StaffUser,
    code: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
) -> Any:
    session = db.session()
    day = today()
    student = office_people.student_details(session, user.site_id, code, day, zone())
    if student is None:
        return page(render_template("office/people_unknown.html", code=code), 404)
    errors = dict(errors or {})
    held = {f"replace:{badge['code']}" for badge in student["badges"]}
    for where in [w for w in errors if w.startswith("replace:") and w not in held]:
        # Replacing a badge this student does not hold: said by the « Donner » form.
        errors["badge"] = errors.pop(where)
    kinds = office_people.habilitation_kinds(session, user.site_id, day)
    html = render_template(
        "office/people_student.html",
        student=student,
        frameworks=office_people.frameworks_of(session, user.site_id),
        kinds=kinds,
        today=day,
        errors=errors,
        values=values or {},
        key=form_key,
    )
    return page(html, status)


@bp.get("/eleves/<code>")
@login_required  # type: ignore[untyped-decorator]
def student(code: str) -> Any:
    """Show a student: details, badges, authorisations, and the forms that change them."""
    return _student_page(admin(), code)


@bp.post("/eleves/<code>")
@login_required  # type: ignore[untyped-decorator]
def student_edit(code: str) -> Any:
    """Change a student's name, class and end of schooling."""
    user = admin()
    values = {name: field(name) for name in ("name", "framework", "left_on")}
    try:
        left_on = form_day("left_on", "Fin de scolarité")
    except BadForm as bad:
        return _student_page(
            user, code, status=422, errors={"details": str(bad)}, values={"details": values}
        )
    event = SaveStudent(
        code=code, name=values["name"], framework=values["framework"], left_on=left_on
    )
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _student_page(user, code, status=503, values={"details": values})
    if not outcome.accepted:
        status = 404 if outcome.body.get("error", {}).get("code") == "not_found" else 422
        return _student_page(
            user,
            code,
            status=status,
            errors={"details": refusal(outcome)},
            values={"details": values},
        )
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.student", code=code), 303)


@bp.post("/eleves/<code>/badge")
@login_required  # type: ignore[untyped-decorator]
def student_badge(code: str) -> Any:
    """Give a student a badge, or one that replaces a lost one (which stops working)."""
    user = admin()
    replaces = field("replaces", 40).strip() or None
    badge = field("code", 80)
    where = f"replace:{replaces}" if replaces else "badge"
    event = GiveBadge(student_code=code, code=badge.strip(), replaces=replaces)
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _student_page(user, code, status=503, values={where: {"code": badge}})
    if not outcome.accepted:
        return _student_page(
            user,
            code,
            status=422,
            errors={where: refusal(outcome)},
            values={where: {"code": badge}},
        )
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.student", code=code, _anchor="badges"), 303)


@bp.post("/eleves/<code>/habilitations")
@login_required  # type: ignore[untyped-decorator]
def student_habilitations(code: str) -> Any:
    """Authorise a student for a habilitation on its grounds, or end the authorisation."""
    user = admin()
    names = ("habilitation", "until", "medical_until", "trained_on", "trainer")
    values = {name: field(name) for name in names}
    end = request.form.get("end") == "1"
    try:
        until = None if end else form_day("until", "Habilitation jusqu'au")
        medical = None if end else form_day("medical_until", "Aptitude médicale jusqu'au")
        trained = None if end else form_day("trained_on", "Formation le")
    except BadForm as bad:
        return _student_page(
            user,
            code,
            status=422,
            errors={"habilitation": str(bad)},
            values={"habilitation": values},
        )
    event = SetStudentHabilitation(
        student_code=code,
        habilitation=values["habilitation"],
        until=until,
        medical_until=medical,
        trained_on=trained,
        trainer=None if end else (values["trainer"].strip() or None),
        end=end,
    )
    outcome = send(user, event, request.form.get("key"))
    if outcome is None:
        return _student_page(user, code, status=503, values={"habilitation": values})
    if not outcome.accepted:
        return _student_page(
            user,
            code,
            status=422,
            errors={"habilitation": refusal(outcome)},
            values={"habilitation": values},
        )
    flash(outcome.body["message"], "success")
    return redirect(url_for("office.student", code=code, _anchor="habilitations"), 303)
