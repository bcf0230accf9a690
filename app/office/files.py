"""The school file from the web: upload it, see what it would change, apply it, export it.

Administrators only. The upload is read and checked as the command line does
(``app.data.school.read_school_file``: every error with its file and line), then handed to
the core as a preview (``ImportSchool(preview=True)``: the core runs the whole import in a
savepoint and refuses it, so nothing changes but the event log says who previewed which
file). « Appliquer » posts the same content back (base64, with its SHA-256, so that the file
applied is the file previewed) for the real import; its summary line is the command's.

These two forms take a larger body than the site's 64 KiB: their limit is raised for
them alone and the CSRF token checked then; a heavier file is answered in French (413).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError  # type: ignore[import-untyped]

from app.data.school import dump_school, export_school, read_school_file
from app.data.yamlfile import SchoolFileError
from app.extensions import csrf, db
from app.ingest.events import ImportSchool
from app.ingest.school import SECTION_LABELS
from app.models import StaffUser
from app.office import admin, bp, form_key, page, refusal, send
from app.read import office_school as read
from app.read.sites import all_sites

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
# The upload's body (the file and a few fields), and the apply form's (the file in base64).
UPLOAD_REQUEST_BYTES = MAX_FILE_BYTES + 64 * 1024
APPLY_REQUEST_BYTES = MAX_FILE_BYTES * 4 // 3 + 64 * 1024
DRAIN_BYTES = 40 * 1024 * 1024
CHANGES = (
    ("created", "créé(s)"),
    ("updated", "modifié(s)"),
    ("removed", "retiré(s)"),
)


def _too_heavy(size: int | None) -> str:
    limit = MAX_FILE_BYTES / (1024 * 1024)
    if size:
        return f"Fichier trop lourd ({size / (1024 * 1024):.1f} Mo, {limit:g} Mo au plus)."
    return f"Fichier trop lourd ({limit:g} Mo au plus)."


def _drain_body() -> None:
    """Read what is left of a refused body, so the browser sees the answer, not a reset."""
    left = request.content_length or 0
    stream = request.environ.get("wsgi.input")
    if stream is None or left > DRAIN_BYTES:
        return
    try:
        while left > 0:
            chunk = stream.read(min(left, 64 * 1024))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:
        logger.info("school file upload cut off while draining its body")


def _site_code(user: StaffUser) -> str:
    return next((s["code"] for s in all_sites(db.session()) if s["id"] == user.site_id), "")


def _upload_page(user: StaffUser, status: int = 200, error: str = "", **context: Any) -> Any:
    """Render the upload page (with the provisional frameworks), or a preview."""
    frameworks = read.frameworks(db.session(), user.site_id)
    html = render_template(
        "office/file_upload.html",
        provisional=[fw for fw in frameworks if fw["provisional"]],
        site=_site_code(user),
        max_mb=MAX_FILE_BYTES // (1024 * 1024),
        error=error,
        **context,
    )
    return page(html, status)


def _checked_form(limit: int) -> tuple[Any, Any] | None:
    """Read the form under a raised limit and check its CSRF token; None if too heavy."""
    request.max_content_length = limit
    request.max_form_memory_size = limit
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        logger.info("school file of %s bytes refused (over the limit)", request.content_length)
        _drain_body()
        return None
    if current_app.config.get("WTF_CSRF_ENABLED", True):  # as CSRFProtect itself decides
        try:
            validate_csrf(form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    return form, files


def _preview_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return, per kind of record, the counts and names of what the import would change."""
    names = body.get("names") or {}
    kinds = []
    for section, label in SECTION_LABELS.items():
        counts = {change: int((body.get(change) or {}).get(section, 0)) for change in names_keys()}
        if not any(counts.values()):
            continue
        kinds.append(
            {
                "section": section,
                "label": label,
                "counts": counts,
                "names": {
                    change: list((names.get(change) or {}).get(section) or [])
                    for change, _word in CHANGES
                },
            }
        )
    return kinds


def names_keys() -> tuple[str, ...]:
    """Return the four ways an import treats a record."""
    return ("created", "updated", "unchanged", "removed")


@bp.get("/fichier")
@login_required  # type: ignore[untyped-decorator]
def school_file() -> Any:
    """Show the school file's upload form, its export and the provisional frameworks."""
    user = admin()
    return _upload_page(user)


@bp.post("/fichier/apercu")
@csrf.exempt  # type: ignore[untyped-decorator]  # checked in _checked_form, with the larger body
@login_required  # type: ignore[untyped-decorator]
def school_file_preview() -> Any:
    """Check an uploaded school file and show what importing it would change (nothing yet)."""
    user = admin()
    checked = _checked_form(UPLOAD_REQUEST_BYTES)
    if checked is None:
        return _upload_page(user, 413, _too_heavy(request.content_length))
    _form, files = checked
    upload = files.get("file")
    data = upload.read(MAX_FILE_BYTES + 1) if upload is not None else b""
    filename = ((upload.filename if upload is not None else "") or "ecole.yaml")[-120:]
    if not data:
        return _upload_page(user, 422, "Choisissez d'abord le fichier de l'école (.yaml).")
    if len(data) > MAX_FILE_BYTES:
        return _upload_page(user, 413, _too_heavy(None))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _upload_page(
            user, 422, f"{filename} : ce fichier n'est pas un texte UTF-8 (un fichier YAML)."
        )
    return _preview(user, text, filename)


def _preview(user: StaffUser, text: str, filename: str) -> Any:
    try:
        event = read_school_file(text, filename)
    except SchoolFileError as exc:
        count = len(exc.messages)
        return _upload_page(
            user,
            422,
            f"{filename} : {count} erreur{'s' if count > 1 else ''}, rien n'a été modifié.",
            file_errors=exc.messages,
        )
    outcome = send(user, ImportSchool(event.spec, event.filename, event.sha256, preview=True))
    if outcome is None:
        return _upload_page(user, 503, "Le serveur est occupé : réessayez dans un instant.")
    code = (outcome.body.get("error") or {}).get("code")
    if code != "preview":
        return _upload_page(
            user, 422, refusal(outcome), file_errors=outcome.body.get("errors") or []
        )
    provisional = [fw for fw in event.spec.frameworks if fw.provisional]
    html = render_template(
        "office/file_preview.html",
        filename=filename,
        line=outcome.body.get("line", ""),
        kinds=_preview_of(outcome.body),
        changes=CHANGES,
        provisional=provisional,
        changed=any(sum((outcome.body.get(change) or {}).values()) for change, _w in CHANGES),
        content=base64.b64encode(text.encode("utf-8")).decode("ascii"),
        sha256=event.sha256,
        key=form_key(),
    )
    return page(html)


@bp.post("/fichier/appliquer")
@csrf.exempt  # type: ignore[untyped-decorator]  # checked in _checked_form, with the larger body
@login_required  # type: ignore[untyped-decorator]
def school_file_apply() -> Any:
    """Import the school file that was previewed (the same content, checked by its SHA-256)."""
    user = admin()
    checked = _checked_form(APPLY_REQUEST_BYTES)
    if checked is None:
        return _upload_page(user, 413, _too_heavy(request.content_length))
    form, _files = checked
    filename = (form.get("filename") or "ecole.yaml")[-120:]
    try:
        text = base64.b64decode(form.get("content") or "", validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        text = ""
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    if not text or digest != (form.get("sha256") or ""):
        return _upload_page(
            user, 422, "Le fichier envoyé n'est pas celui de l'aperçu : envoyez-le à nouveau."
        )
    try:
        event = read_school_file(text, filename)
    except SchoolFileError as exc:
        return _upload_page(
            user, 422, f"{filename} : rien n'a été modifié.", file_errors=exc.messages
        )
    outcome = send(user, event, (form.get("key") or "")[:80])
    if outcome is None:
        return _upload_page(user, 503, "Le serveur est occupé : réessayez dans un instant.")
    if not outcome.accepted:
        return _upload_page(
            user, 422, refusal(outcome), file_errors=outcome.body.get("errors") or []
        )
    flash(str(outcome.body["message"]), "success")
    return redirect(url_for("office.school_file"), 303)


@bp.get("/fichier/export.yaml")
@login_required  # type: ignore[untyped-decorator]
def school_file_export() -> Any:
    """Download the site's data in the school file's format (what ``data export`` writes)."""
    user = admin()
    text = dump_school(export_school(db.session(), user.site_id))
    name = _site_code(user) or "ecole"
    response = Response(text, mimetype="application/yaml")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.yaml"'
    return response
