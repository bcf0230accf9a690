"""``flask record export``: a student's record (livret) as PDF or CSV, or everything held
about them as JSON (the right of access, ``app.read.rgpd``).

The export is in the audit log: the command hands ``ExportRecord`` to the core before it
writes the file, as the tablet's pages and the API do. A student unknown to the site, or
a file that cannot be written, stops it with a French message and a non-zero exit.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask

from app.boundary import cli_origin, submit
from app.cli import SITE_OPTION, resolve_site
from app.extensions import db
from app.ingest.events import ExportRecord
from app.models import utcnow
from app.printing.records import record_csv, record_pdf
from app.read.records import student_record
from app.read.rgpd import student_data

record_cli = click.Group("record", help="Les livrets des élèves.")
FORMATS = ("pdf", "csv", "json")


@record_cli.command(
    "export", help="Écrire le livret d'un élève (PDF ou CSV) ou toutes ses données (JSON)."
)
@click.argument("student", metavar="ÉLÈVE")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), required=True, help="Le format du fichier."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Le fichier à écrire.",
)
@SITE_OPTION
def export(student: str, fmt: str, output: Path, site_code: str | None) -> None:
    """Write a student's record, after recording the export in the audit log."""
    site = resolve_site(site_code)
    record = student_record(db.session(), site["id"], student)
    if record is None:
        raise click.ClickException(f"Élève inconnu : {student} (site {site['code']}).")
    if fmt == "pdf":
        content = record_pdf(record, exported_at=utcnow())
    elif fmt == "json":
        held = student_data(db.session(), site["id"], record["student"]["code"])
        content = json.dumps(held, ensure_ascii=False, indent=2).encode("utf-8")
    else:
        content = record_csv(record).encode("utf-8")
    outcome = submit(cli_origin(site["id"]), ExportRecord(record["student"]["code"], fmt))
    if not outcome.accepted:
        raise click.ClickException(str(outcome.body["error"]["message"]))
    try:
        output.write_bytes(content)
    except OSError as exc:
        raise click.ClickException(f"{output} : écriture impossible ({exc.strerror}).") from exc
    what = "données" if fmt == "json" else "livret"
    click.echo(f"{output} écrit ({what} {fmt.upper()}, {len(content)} octets).", err=True)


def register(app: Flask) -> None:
    """Add the ``record`` commands to the app's CLI."""
    app.cli.add_command(record_cli)
