"""``flask --app app kiosk …``: enrol a kiosk, list the kiosks, revoke one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from app.auth.tokens import clear_cache
from app.boundary import cli_origin, submit
from app.cli import SITE_OPTION, resolve_site
from app.extensions import db
from app.ingest.events import EnrolKiosk, RevokeToken
from app.models import parse_timestamp
from app.read.board import workshop_timezone
from app.read.kiosk import kiosks_of_site
from kiosk.links import enrolment_url, new_enrolment_code

kiosk_cli = click.Group("kiosk", help="Gérer les bornes des élèves (activation, révocation).")


def local_time(moment: datetime | None) -> str:
    """Write an instant as the workshop's local date and time, or « jamais »."""
    if moment is None:
        return "jamais"
    return moment.astimezone(workshop_timezone()).strftime("%d/%m/%Y %H:%M")


@kiosk_cli.command(
    "enrol",
    help="Créer le lien d'activation (15 minutes, une seule fois) de la borne du poste "
    "STATION et l'afficher seul sur la dernière ligne.",
)
@click.argument("station", metavar="STATION")
@SITE_OPTION
def kiosk_enrol(station: str, site_code: str | None) -> None:
    """Create a one-time enrolment link for a station's kiosk and print it last."""
    site = resolve_site(site_code)
    code, code_sha256 = new_enrolment_code()
    outcome = submit(
        cli_origin(site["id"]),
        EnrolKiosk(station_code=station.strip().upper(), code_sha256=code_sha256),
    )
    if not outcome.accepted:
        raise click.ClickException(str(outcome.body["error"]["message"]))
    until = local_time(parse_timestamp(outcome.body["expires_at"]))
    click.echo(
        f"Lien d'activation de la borne {outcome.body['station']} (site {site['code']}), "
        f"valable jusqu'à {until}, une seule fois. Ouvrez-le dans le navigateur de la borne :",
        err=True,
    )
    click.echo(enrolment_url(code))


@kiosk_cli.command("list", help="Lister les bornes activées (jamais leurs identifiants).")
@SITE_OPTION
def kiosk_list(site_code: str | None) -> None:
    """List a site's kiosks: number, station, activation, last use, state."""
    site = resolve_site(site_code)
    for row in kiosks_of_site(db.session(), site["id"]):
        state = "révoquée" if row["revoked_at"] else "active"
        fields = [
            str(row["id"]),
            row["station"],
            row["station_name"],
            f"activée {local_time(row['created_at'])}",
            f"vue {local_time(row['last_used_at'])}",
            state,
        ]
        click.echo("\t".join(fields))


@kiosk_cli.command(
    "revoke", help="Révoquer la borne numéro N : elle revient à l'écran d'activation."
)
@click.argument("kiosk_id", metavar="N", type=int)
@SITE_OPTION
def kiosk_revoke(kiosk_id: int, site_code: str | None) -> None:
    """Revoke a kiosk by its number (it shows the enrolment screen again)."""
    site = resolve_site(site_code)
    if kiosk_id not in {row["id"] for row in kiosks_of_site(db.session(), site["id"])}:
        raise click.ClickException(f"Aucune borne n° {kiosk_id} (voir : kiosk list).")
    outcome = submit(cli_origin(site["id"]), RevokeToken(kiosk_id))
    if not outcome.accepted:
        raise click.ClickException(str(outcome.body["error"]["message"]))
    clear_cache()
    click.echo(f"Borne n° {kiosk_id} révoquée : elle affichera l'écran d'activation.")


def register(app: Any) -> None:
    """Attach the ``kiosk`` group to the application's CLI."""
    app.cli.add_command(kiosk_cli)
