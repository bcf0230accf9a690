"""``flask record export``: a student's record (livret) as PDF or CSV.

The export is in the audit log: the command hands ``ExportRecord`` to the core before it
writes the file, as the tablet's pages and the API do. A student unknown to the site, or
a file that cannot be written, stops it with a French message and a non-zero exit.
"""

from __future__ import annotations

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

record_cli = click.Group("record", help="Les livrets des élèves.")
FORMATS = ("pdf", "csv")


@record_cli.command("export", help="Écrire le livret d'un élève (PDF ou CSV).")
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
    else:
        content = record_csv(record).encode("utf-8")
    outcome = submit(cli_origin(site["id"]), ExportRecord(record["student"]["code"], fmt))
    if not outcome.accepted:
        raise click.ClickException(str(outcome.body["error"]["message"]))
    try:
        output.write_bytes(content)
    except OSError as exc:
        raise click.ClickException(f"{output} : écriture impossible ({exc.strerror}).") from exc
    click.echo(f"{output} écrit (livret {fmt.upper()}, {len(content)} octets).", err=True)


def register(app: Flask) -> None:
    """Add the ``record`` commands to the app's CLI."""
    app.cli.add_command(record_cli)
