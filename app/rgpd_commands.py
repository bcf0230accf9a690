"""``flask --app app data retention``, ``student export`` and ``student erase``: minors' data.

``data retention`` lists the students whose end of schooling (``left_on``) plus
``ATELIER_RETENTION_DAYS`` is past and who are not erased yet; it changes nothing unless
``--apply`` is given, and then erases each one through the core
(``EraseStudent(code, "retention")``), one transaction per student, each in the event log.
deploy/systemd/atelier-retention.timer runs it every day. ``student export ID -o FILE.json``
writes everything held about one student (RGPD art. 15, the same file as ``record export
--format json``); ``student erase ID`` erases one student on request (art. 17), after the
code is typed again (or ``--yes``). docs/contract.md §1.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from app.boundary import cli_origin, submit
from app.cli import SITE_OPTION, data_cli, resolve_site
from app.db import DatabaseBusy
from app.extensions import db
from app.ingest import Outcome
from app.ingest.office_events import EraseStudent
from app.models import utcnow
from app.printing.record_commands import export as record_export
from app.read.board import workshop_timezone
from app.read.rgpd import retention_due, student_summary

BUSY = "La base de données est occupée : rien n'a changé pour cet élève, relancez la commande."


def _french_day(iso_day: str) -> str:
    year, month, day = iso_day.split("-")
    return f"{day}/{month}/{year}"


def _erase(site_id: int, code: str, reason: str) -> Outcome:
    try:
        return submit(cli_origin(site_id), EraseStudent(code, reason))
    except DatabaseBusy as exc:
        raise click.ClickException(BUSY) from exc


@data_cli.command(
    "retention",
    help="Lister les élèves dont la durée de conservation est passée ; --apply pour les effacer.",
)
@click.option(
    "--apply",
    "apply_it",
    is_flag=True,
    help="Effacer vraiment ces élèves (sans cette option : simulation, rien ne change).",
)
@SITE_OPTION
def retention(apply_it: bool, site_code: str | None) -> None:
    """List (or, with --apply, erase) the students kept past the retention period."""
    site = resolve_site(site_code)
    days = int(current_app.config["ATELIER_RETENTION_DAYS"])
    zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
    today = utcnow().astimezone(zone).date()
    due = retention_due(db.session(), site["id"], today, days)
    db.session.rollback()  # the read's transaction: each erasure writes in its own
    if not due:
        click.echo(
            f"Aucun élève à effacer : personne n'a quitté l'école depuis plus de {days} jours "
            f"sans avoir été effacé (site {site['code']})."
        )
        return
    click.echo(f"{len(due)} élève(s) sorti(s) depuis plus de {days} jours (site {site['code']}) :")
    for student in due:
        click.echo(
            f"  {student['code']} — sorti·e le {_french_day(student['left_on'])}, "
            f"à conserver jusqu'au {_french_day(student['kept_until'])}"
        )
    if not apply_it:
        click.echo("(simulation : rien n'a été effacé ; --apply pour effacer)")
        return
    failed = 0
    for student in due:
        outcome = _erase(site["id"], student["code"], "retention")
        if outcome.accepted:
            click.echo(f"{student['code']} : {outcome.body['message']}")
        else:
            failed += 1
            error = outcome.body.get("error") or {}
            click.echo(f"{student['code']} : refusé — {error.get('message')}", err=True)
    if failed:
        raise click.ClickException(f"{failed} élève(s) sur {len(due)} n'ont pas été effacé(s).")
    click.echo(f"{len(due)} élève(s) effacé(s).")


student_cli = click.Group(
    "student", help="Les données d'un élève (RGPD) : les exporter, les effacer."
)


@student_cli.command(
    "export", help="Écrire tout ce qui est gardé sur un élève, en JSON (droit d'accès)."
)
@click.argument("code", metavar="CODE")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Le fichier JSON à écrire.",
)
@SITE_OPTION
@click.pass_context
def export(context: click.Context, code: str, output: Path, site_code: str | None) -> None:
    """Write everything held about a student as JSON (the export is in the audit log)."""
    context.invoke(record_export, student=code, fmt="json", output=output, site_code=site_code)


@student_cli.command("erase", help="Effacer les données personnelles d'un élève (sur demande).")
@click.argument("code", metavar="CODE")
@click.option("--yes", "confirmed", is_flag=True, help="Ne pas demander de retaper le code.")
@SITE_OPTION
def erase(code: str, confirmed: bool, site_code: str | None) -> None:
    """Erase one student's personal data on request, after confirmation."""
    site = resolve_site(site_code)
    student = student_summary(db.session(), site["id"], code)
    db.session.rollback()
    if student is None:
        raise click.ClickException(f"Élève inconnu : {code} (site {site['code']}).")
    if student["erased_at"] is not None:
        raise click.ClickException(f"L'élève {code} a déjà été effacé·e.")
    if not confirmed:
        click.echo(
            f"Effacer {student['code']} ({student['name']}, {student['framework']}) : son nom, "
            "son code, ses badges, ses habilitations et les commentaires à son sujet seront "
            "effacés, et le journal réécrit. Ses pièces et ses niveaux restent, anonymes. "
            "C'est définitif."
        )
        typed = click.prompt("Pour confirmer, retapez le code de l'élève", default="")
        if typed.strip() != student["code"]:
            raise click.ClickException("Code différent : rien n'a été effacé.")
    outcome = _erase(site["id"], code, "request")
    if not outcome.accepted:
        error = outcome.body.get("error") or {}
        raise click.ClickException(str(error.get("message") or "Refusé."))
    click.echo(str(outcome.body["message"]))


def register(app: Flask) -> None:
    """Add ``retention`` to the ``data`` group and the ``student`` group to the app."""
    data_cli.add_command(retention)
    app.cli.add_command(student_cli)
