"""``flask --app app labels …``: labels, travellers, sheets and badges printed from the database.

Each command writes one file (``-o``) and says on stderr what it wrote; ``labels sheet``
allocates serials through the core first and prints the range on stdout. A bad input
stops the command with a French message and a non-zero exit, before anything is spent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from app.boundary import cli_origin
from app.cli import SITE_OPTION, resolve_site
from app.printing import documents
from app.printing.documents import FORMATS, Document, PrintingError
from labels.zpl import DPIS

labels_cli = click.Group("labels", help="Imprimer les étiquettes, fiches suiveuses et badges.")

OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Le fichier à écrire.",
)
START_OPTION = click.option(
    "--start",
    type=int,
    default=0,
    show_default=True,
    help="Les étiquettes déjà utilisées d'une planche entamée (la suite commence après).",
)


def _write(output: Path, make: Callable[[], Document]) -> Document:
    """Build a document and write it, or stop with the French reason."""
    try:
        document = make()
    except PrintingError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        output.write_bytes(document.content)
    except OSError as exc:
        raise click.ClickException(f"{output} : écriture impossible ({exc.strerror}).") from exc
    return document


def _done(output: Path, document: Document, what: str) -> None:
    click.echo(f"{output} écrit ({what}, {len(document.content)} octets).", err=True)


@labels_cli.command("render", help="Écrire l'étiquette d'un code (OF, opération, pièce, poste…).")
@click.argument("code", metavar="CODE")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), required=True, help="Le format du fichier."
)
@click.option(
    "--dpi",
    type=click.Choice([str(dpi) for dpi in DPIS]),
    default="203",
    show_default=True,
    help="La résolution de l'imprimante (PNG et ZPL).",
)
@OUTPUT_OPTION
@SITE_OPTION
def render(code: str, fmt: str, dpi: str, output: Path, site_code: str | None) -> None:
    """Write the label of one code, captioned with what the site knows of it."""
    site = resolve_site(site_code)
    document = _write(output, lambda: documents.render_label(site["id"], code, fmt, int(dpi)))
    _done(output, document, "étiquette")


@labels_cli.command("traveller", help="Écrire la fiche suiveuse d'un OF (PDF).")
@click.argument("number", metavar="OF")
@OUTPUT_OPTION
@SITE_OPTION
def traveller(number: str, output: Path, site_code: str | None) -> None:
    """Write the traveller sheet of a work order."""
    site = resolve_site(site_code)
    number = number.strip().upper()
    document = _write(output, lambda: documents.render_traveller(site["id"], number))
    _done(output, document, "fiche suiveuse")


# Many labels at once: an A4 sheet for an office printer, or a roll for a thermal one.
ROLL_FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(documents.SHEET_FORMATS),
    default="pdf",
    show_default=True,
    help="pdf : planche A4 ; zpl : rouleau d'une imprimante thermique (Zebra).",
)
ROLL_DPI_OPTION = click.option(
    "--dpi",
    type=click.Choice([str(dpi) for dpi in DPIS]),
    default="203",
    show_default=True,
    help="La résolution de l'imprimante thermique (ZPL).",
)


@labels_cli.command(
    "sheet", help="Attribuer les N prochains numéros de pièce d'un OF et écrire leur planche."
)
@click.argument("number", metavar="OF")
@click.option("--count", type=int, required=True, help="Le nombre d'étiquettes (1 à 1000).")
@click.option(
    "--stock",
    "stock_name",
    default=documents.PIECE_STOCK,
    show_default=True,
    help="Le support d'étiquettes : 3x8, 3x7 ou 2x7.",
)
@START_OPTION
@ROLL_FORMAT_OPTION
@ROLL_DPI_OPTION
@OUTPUT_OPTION
@SITE_OPTION
def sheet(
    *,
    number: str,
    count: int,
    stock_name: str,
    start: int,
    fmt: str,
    dpi: str,
    output: Path,
    site_code: str | None,
) -> None:
    """Allocate the next piece serials of a work order (never reused) and write their sheet."""
    site = resolve_site(site_code)
    number = number.strip().upper()
    document = _write(
        output,
        lambda: documents.allocate_and_render_sheet(
            cli_origin(site["id"]), number, count, stock_name, start, fmt=fmt, dpi=int(dpi)
        ),
    )
    click.echo(document.message)
    _done(output, document, "planche d'étiquettes" if fmt == "pdf" else "rouleau d'étiquettes")


@labels_cli.command("badges", help="Écrire les badges imprimés des élèves (format carte).")
@click.option("--framework", metavar="ID", help="Les élèves d'un référentiel seulement.")
@START_OPTION
@ROLL_FORMAT_OPTION
@ROLL_DPI_OPTION
@OUTPUT_OPTION
@SITE_OPTION
def badges(
    *, framework: str | None, start: int, fmt: str, dpi: str, output: Path, site_code: str | None
) -> None:
    """Write the printed badges of the active students (first name and initial only)."""
    site = resolve_site(site_code)
    document = _write(
        output,
        lambda: documents.render_badges(site["id"], framework, start, fmt=fmt, dpi=int(dpi)),
    )
    if document.message:
        click.echo(document.message, err=True)
    _done(output, document, "badges")


@labels_cli.command("actions", help="Écrire la planche d'actions d'une borne (PDF).")
@click.option("--station", "station_code", metavar="CODE", help="Le poste de la borne (ST-…).")
@OUTPUT_OPTION
@SITE_OPTION
def actions(station_code: str | None, output: Path, site_code: str | None) -> None:
    """Write the kiosk's action board: A-FIN, A-PAUSE, A-ANNULE, A-SORTIE, A-AIDE."""
    site = resolve_site(site_code)
    document = _write(output, lambda: documents.render_action_board(site["id"], station_code))
    _done(output, document, "planche d'actions")


@labels_cli.command("stations", help="Écrire une étiquette par poste, avec son nom (PDF).")
@click.option(
    "--stock",
    "stock_name",
    default=documents.STATION_STOCK,
    show_default=True,
    help="Le support d'étiquettes : 2x7, 3x7 ou 3x8.",
)
@OUTPUT_OPTION
@SITE_OPTION
def stations(stock_name: str, output: Path, site_code: str | None) -> None:
    """Write a label per station of the site, with its name."""
    site = resolve_site(site_code)
    document = _write(output, lambda: documents.render_station_labels(site["id"], stock_name))
    _done(output, document, "étiquettes des postes")


def register(app: Any) -> None:
    """Attach the ``labels`` group to the application's CLI."""
    app.cli.add_command(labels_cli)
