"""Commands for the school's IT person: ``flask --app app data|token|user|ingest|mqtt|day …``.

Every command that changes something hands one input to the core (``app.boundary.submit``):
it is recorded in the event log like a scan, and goes through the one write transaction.
With more than one site in the database, commands take ``--site`` (required then).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import select

from app.auth import hash_password, one_time_password
from app.auth.tokens import clear_cache, hash_token, new_token
from app.boundary import cli_origin, day_close_origin, submit
from app.closing import day_to_close
from app.data.school import dump_school, export_school, read_school_file
from app.data.yamlfile import SchoolFileError
from app.db import DatabaseBusy
from app.extensions import db
from app.ingest import Outcome
from app.ingest.events import CreateStaff, CreateToken, DayClose, RevokeToken
from app.models import ROLES, DeviceToken, Site, Station, utcnow
from app.mqtt.worker import BrokerAddress, ConfigurationError, IngestWorker
from app.read.board import workshop_timezone
from app.read.sites import all_sites, site_by_code

data_cli = click.Group("data", help="Importer ou exporter les données de l'école (YAML).")
token_cli = click.Group("token", help="Gérer les jetons des appareils (bornes, lecteurs).")
user_cli = click.Group("user", help="Gérer les comptes des enseignants et administrateurs.")
ingest_cli = click.Group("ingest", help="Recevoir les messages des postes de soudage.")
mqtt_cli = click.Group("mqtt", help="Configurer le courtier MQTT des postes de soudage.")
day_cli = click.Group("day", help="La journée de l'atelier : la fin de journée.")

SITE_OPTION = click.option(
    "--site",
    "site_code",
    metavar="SITE",
    help="Le site (l'école) concerné : obligatoire quand la base en a plusieurs.",
)


def resolve_site(code: str | None) -> dict[str, Any]:
    """Return the site a command acts on, or stop with a French message."""
    if code is not None:
        site = site_by_code(db.session(), code)
        if site is None:
            known = ", ".join(s["code"] for s in all_sites(db.session())) or "aucun"
            raise click.ClickException(f"Site inconnu : {code} (sites : {known}).")
        return site
    sites = all_sites(db.session())
    if not sites:
        raise click.ClickException(
            "Aucune école dans la base : importez d'abord ses données "
            "(flask --app app data import ECOLE.yaml)."
        )
    if len(sites) > 1:
        codes = ", ".join(s["code"] for s in sites)
        raise click.ClickException(f"Plusieurs sites dans la base ({codes}) : précisez --site.")
    return sites[0]


def _refused(outcome: Outcome) -> click.ClickException:
    return click.ClickException(str(outcome.body["error"]["message"]))


@data_cli.command("import", help="Créer ou mettre à jour les données de l'école depuis FICHIER.")
@click.argument("file", metavar="FICHIER", type=click.Path(dir_okay=False, path_type=Path))
def data_import(file: Path) -> None:
    """Create or update a site's data from its YAML file (all or nothing)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} : lecture impossible ({exc})") from exc
    try:
        event = read_school_file(text, str(file))
    except SchoolFileError as exc:
        count = len(exc.messages)
        click.echo("\n".join(exc.messages), err=True)
        raise click.ClickException(
            f"{file} : {count} erreur{'s' if count > 1 else ''}, rien n'a été modifié."
        ) from exc
    site = db.session.execute(select(Site.id).where(Site.code == event.spec.site)).scalar()
    outcome = submit(cli_origin(site), event)
    if not outcome.accepted:
        errors = outcome.body.get("errors") or []
        if errors:
            click.echo("\n".join(errors), err=True)
        raise _refused(outcome)
    click.echo(outcome.body["message"])


@data_cli.command("export", help="Écrire les données de l'école au format du fichier d'import.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fichier de sortie (sinon la sortie standard).",
)
@SITE_OPTION
def data_export(output: Path | None, site_code: str | None) -> None:
    """Write a site's data in the import format."""
    site = resolve_site(site_code)
    text = dump_school(export_school(db.session(), site["id"]))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Données exportées dans {output}", err=True)


@token_cli.command(
    "create", help="Créer un jeton d'appareil et l'afficher seul sur la dernière ligne."
)
@click.argument("name", metavar="NOM")
@click.option("--station", "station_code", help="Rattacher le jeton à ce poste (ST-…).")
@click.option("--read", is_flag=True, help="Donner aussi l'accès à l'API de lecture.")
@SITE_OPTION
def token_create(name: str, station_code: str | None, read: bool, site_code: str | None) -> None:
    """Create a device token and print it alone on the last line (shown once)."""
    site = resolve_site(site_code)
    token = new_token()
    outcome = submit(
        cli_origin(site["id"]),
        CreateToken(
            name=name.strip()[:80] or "jeton",
            station_code=station_code,
            read=read,
            token_sha256=hash_token(token),
            prefix=token[:12],
        ),
    )
    if not outcome.accepted:
        raise _refused(outcome)
    rights = "scans" + (" + lecture" if read else "")
    where = f", poste {station_code}" if station_code else ""
    click.echo(
        f"Jeton « {name} » créé (n° {outcome.body['token']}, {rights}{where}, site "
        f"{site['code']}). Il ne sera plus affiché :",
        err=True,
    )
    click.echo(token)


@token_cli.command("list", help="Lister les jetons d'appareil (jamais les jetons eux-mêmes).")
@SITE_OPTION
def token_list(site_code: str | None) -> None:
    """List a site's device tokens (never the tokens themselves)."""
    site = resolve_site(site_code)
    rows = db.session.execute(
        select(DeviceToken).where(DeviceToken.site_id == site["id"]).order_by(DeviceToken.id)
    ).scalars()
    for row in rows:
        state = "révoqué" if row.revoked_at else "actif"
        station = row.station.code if row.station else "-"
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "jamais"
        rights = "scans+lecture" if row.can_read else "scans"
        fields = [str(row.id), f"{row.prefix}…", row.name, station, rights, state, used]
        click.echo("\t".join(fields))


@token_cli.command("revoke", help="Révoquer le jeton numéro N (effet partout sous 30 s).")
@click.argument("token_id", metavar="N", type=int)
@SITE_OPTION
def token_revoke(token_id: int, site_code: str | None) -> None:
    """Revoke a device token by its number (effective within 30 s everywhere)."""
    site = resolve_site(site_code)
    outcome = submit(cli_origin(site["id"]), RevokeToken(token_id))
    if not outcome.accepted:
        raise _refused(outcome)
    clear_cache()
    click.echo(outcome.body["message"])


@user_cli.command("create", help="Créer un compte et afficher un mot de passe provisoire.")
@click.argument("email", metavar="EMAIL")
@click.option("--role", type=click.Choice(ROLES), required=True, help="teacher ou admin")
@click.option("--name", help="Nom affiché (par défaut : celui du fichier de l'école, ou l'e-mail).")
@SITE_OPTION
def user_create(email: str, role: str, name: str | None, site_code: str | None) -> None:
    """Create a staff account (or reset an imported one) and print a one-time password."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 200:
        raise click.ClickException(f"Adresse e-mail invalide : {email}")
    site = resolve_site(site_code)
    password = one_time_password()
    outcome = submit(
        cli_origin(site["id"]),
        CreateStaff(email=email, role=role, name=name, password_hash=hash_password(password)),
    )
    if not outcome.accepted:
        raise _refused(outcome)
    click.echo(
        f"Compte {email} ({role}) prêt. "
        "Mot de passe provisoire, à changer à la première connexion :",
        err=True,
    )
    click.echo(password)


@ingest_cli.command("mqtt", help="Recevoir les messages des postes (un seul worker par site).")
@click.option("--client-id", help="Identifiant MQTT fixe (par défaut atelier-ingest-<site>).")
@click.option(
    "--protocol",
    type=click.Choice(["auto", "5", "3.1.1"]),
    default="auto",
    show_default=True,
    help="Version MQTT : auto essaie MQTT 5 puis 3.1.1.",
)
@SITE_OPTION
def ingest_mqtt(client_id: str | None, protocol: str, site_code: str | None) -> None:
    """Run the MQTT ingest worker of a site until SIGTERM or Ctrl-C."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("ATELIER_MQTT_URL")
    if not url:
        raise click.ClickException(
            "ATELIER_MQTT_URL n'est pas défini (ex. mqtt://atelier-ingest:motdepasse@127.0.0.1:1883)."
        )
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        broker = BrokerAddress.parse(url)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    site = resolve_site(site_code)
    db.session.remove()
    worker = IngestWorker(
        app,
        broker,
        app.config["ATELIER_TOPIC_ROOT"],
        site["code"],
        client_id=client_id or f"atelier-ingest-{site['code']}",
        protocol=protocol,
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %d: stopping the MQTT worker", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(stop)


def mosquitto_acl(topic_root: str, worker_user: str, sites: list[tuple[str, list[str]]]) -> str:
    """Write a Mosquitto ACL: each station's user writes only its own site's topics."""
    lines = [
        f"# Mosquitto ACL for Atelier, topic root {topic_root}, written by",
        "# `flask --app app mqtt acl`: run it again after changing the stations.",
        "# Each welding station signs in as its mqtt_device and may write only its own",
        "# topics, under its own site, and read its own cfg; clients with no block below",
        "# can do nothing.",
    ]
    for site, devices in sites:
        base = f"{topic_root}/{site}"
        for device in devices:
            lines += [
                "",
                f"user {device}",
                f"topic write {base}/{device}/status",
                f"topic write {base}/{device}/evt/#",
                f"topic write {base}/{device}/data/#",
                f"topic read {base}/{device}/cfg",
            ]
        lines += [
            "",
            f"# The ingest worker of site {site} (`flask --app app ingest mqtt`) reads every",
            "# station of the site and publishes their cfg.",
            f"user {worker_user}",
            f"topic read {base}/+/status",
            f"topic read {base}/+/evt/#",
            f"topic read {base}/+/data/#",
            f"topic write {base}/+/cfg",
        ]
    return "\n".join(lines) + "\n"


@mqtt_cli.command("acl", help="Écrire la liste de droits (ACL) Mosquitto des postes du site.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fichier de sortie (sinon la sortie standard).",
)
@click.option(
    "--worker-user",
    default="atelier-ingest",
    show_default=True,
    help="Le compte MQTT du worker d'ingestion.",
)
@SITE_OPTION
def mqtt_acl(output: Path | None, worker_user: str, site_code: str | None) -> None:
    """Write the Mosquitto ACL of a site's welding stations, each pinned to its own site."""
    site = resolve_site(site_code)
    devices = [
        device
        for device in db.session.execute(
            select(Station.mqtt_device)
            .where(Station.site_id == site["id"], Station.mqtt_device.is_not(None))
            .order_by(Station.mqtt_device)
        ).scalars()
        if device is not None
    ]
    text = mosquitto_acl(
        current_app.config["ATELIER_TOPIC_ROOT"], worker_user, [(site["code"], devices)]
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"ACL écrite dans {output} ({len(devices)} poste(s)).", err=True)


@day_cli.command(
    "close",
    help="Fin de journée : mettre en pause les opérations en cours et badger tout le monde "
    "en sortie.",
)
@SITE_OPTION
def day_close(site_code: str | None) -> None:
    """Close the site's day: pause every open run and badge everyone out, once a day."""
    site = resolve_site(site_code)
    zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
    day, closes_at = day_to_close(utcnow(), current_app.config["ATELIER_CLOSING_TIME"], zone)
    try:
        outcome = submit(day_close_origin(site["id"], day), DayClose(day, closes_at))
    except DatabaseBusy as exc:
        raise click.ClickException(
            "La base de données est occupée : rien n'a changé, relancez la commande."
        ) from exc
    if not outcome.accepted:
        # A day whose close failed (internal_error) keeps that answer: a person looks.
        raise _refused(outcome)
    if outcome.status == "duplicate":
        click.echo(f"Fin de journée du {day:%d/%m/%Y} déjà faite : rien n'a changé.")
        return
    click.echo(outcome.body["message"])


def register(app: Flask) -> None:
    """Attach the command groups to the application's CLI."""
    for group in (data_cli, token_cli, user_cli, ingest_cli, mqtt_cli, day_cli):
        app.cli.add_command(group)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Utilisez : flask --app app data|token|user|ingest|mqtt|day …")
