"""Commands for the school's IT person: ``flask --app app data|token|user …``."""

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

from app.api.auth import clear_cache, create_token
from app.auth import one_time_password, set_password
from app.data.school import dump_school, export_school, import_school
from app.data.yamlfile import SchoolFileError
from app.extensions import begin_write, db, make_durable
from app.ingest import catalog
from app.ingest.mqtt import BrokerAddress, ConfigurationError, IngestWorker
from app.models import ROLES, DeviceToken, Setting, StaffUser, Station, utcnow

data_cli = click.Group("data", help="Importer ou exporter les données de l'école (YAML).")
token_cli = click.Group("token", help="Gérer les jetons des appareils (bornes, lecteurs).")
user_cli = click.Group("user", help="Gérer les comptes des enseignants et administrateurs.")
ingest_cli = click.Group("ingest", help="Recevoir les messages des postes de soudage.")
mqtt_cli = click.Group("mqtt", help="Configurer le courtier MQTT des postes de soudage.")


@data_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def data_import(file: Path) -> None:
    """Create or update the school's data from a YAML file (all or nothing)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} : lecture impossible ({exc})") from exc
    try:
        begin_write()
        summary = import_school(text, str(file))
        db.session.commit()
        make_durable()
    except SchoolFileError as exc:
        db.session.rollback()
        count = len(exc.messages)
        click.echo("\n".join(exc.messages), err=True)
        raise click.ClickException(
            f"{file} : {count} erreur{'s' if count > 1 else ''}, rien n'a été modifié."
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    click.echo(summary.line())


@data_cli.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fichier de sortie (sinon la sortie standard).",
)
def data_export(output: Path | None) -> None:
    """Write the school's data in the import format."""
    text = dump_school(export_school())
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Données exportées dans {output}", err=True)


@token_cli.command("create")
@click.argument("name")
@click.option("--station", "station_code", help="Rattacher le jeton à ce poste (ST-…).")
@click.option("--read", is_flag=True, help="Donner aussi l'accès à l'API de lecture.")
def token_create(name: str, station_code: str | None, read: bool) -> None:
    """Create a device token and print it alone on the last line (shown once)."""
    begin_write()
    try:
        token, row = create_token(name, station_code, read)
    except LookupError as exc:
        db.session.rollback()
        raise click.ClickException(f"Poste inconnu : {station_code}") from exc
    db.session.commit()
    rights = "scans" + (" + lecture" if read else "")
    where = f", poste {station_code}" if station_code else ""
    click.echo(
        f"Jeton « {name} » créé (n° {row.id}, {rights}{where}). Il ne sera plus affiché :", err=True
    )
    click.echo(token)


@token_cli.command("list")
def token_list() -> None:
    """List device tokens (never the tokens themselves)."""
    rows = db.session.execute(select(DeviceToken).order_by(DeviceToken.id)).scalars()
    for row in rows:
        state = "révoqué" if row.revoked_at else "actif"
        station = row.station.code if row.station else "-"
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "jamais"
        rights = "scans+lecture" if row.can_read else "scans"
        fields = [str(row.id), f"{row.prefix}…", row.name, station, rights, state, used]
        click.echo("\t".join(fields))


@token_cli.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a device token by its number (effective within 30 s everywhere)."""
    begin_write()
    row = db.session.get(DeviceToken, token_id)
    if row is None:
        db.session.rollback()
        raise click.ClickException(f"Aucun jeton n° {token_id}")
    row.revoked_at = row.revoked_at or utcnow()
    db.session.commit()
    clear_cache()
    click.echo(f"Jeton n° {token_id} « {row.name} » révoqué.")


@user_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="teacher ou admin")
@click.option("--name", help="Nom affiché (par défaut : celui du fichier de l'école, ou l'e-mail).")
def user_create(email: str, role: str, name: str | None) -> None:
    """Create a staff account (or reset an imported one) and print a one-time password."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 200:
        raise click.ClickException(f"Adresse e-mail invalide : {email}")
    begin_write()
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == email)
    ).scalar_one_or_none()
    if user is not None and user.password_hash:
        db.session.rollback()
        raise click.ClickException(f"Le compte {email} existe déjà et a un mot de passe.")
    if user is None:
        user = StaffUser(
            email=email, name=name or email.split("@")[0], role=role, created_at=utcnow()
        )
        db.session.add(user)
    else:
        user.role = role
        if name:
            user.name = name
    password = one_time_password()
    set_password(user, password, must_change=True)
    db.session.commit()
    click.echo(
        f"Compte {email} ({role}) prêt. "
        "Mot de passe provisoire, à changer à la première connexion :",
        err=True,
    )
    click.echo(password)


@ingest_cli.command("mqtt")
@click.option("--client-id", help="Identifiant MQTT fixe (par défaut atelier-ingest-<site>).")
@click.option(
    "--protocol",
    type=click.Choice(["auto", "5", "3.1.1"]),
    default="auto",
    show_default=True,
    help="Version MQTT : auto essaie MQTT 5 puis 3.1.1.",
)
def ingest_mqtt(client_id: str | None, protocol: str) -> None:
    """Run the MQTT ingest worker until SIGTERM or Ctrl-C (one per site)."""
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
    site = catalog.current().site
    if db.session.get(Setting, "site") is None:
        raise click.ClickException(
            "Aucune école dans la base : importez d'abord ses données "
            "(flask --app app data import …)."
        )
    db.session.remove()
    worker = IngestWorker(
        app,
        broker,
        app.config["ATELIER_TOPIC_ROOT"],
        client_id=client_id or f"atelier-ingest-{site}",
        protocol=protocol,
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %d: stopping the MQTT worker", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(stop)


INGEST_MQTT_USER = "atelier-ingest"


@mqtt_cli.command("acl")
@click.option("--site", help="Site de l'école (par défaut : celui de la base).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fichier de sortie (sinon la sortie standard).",
)
def mqtt_acl(site: str | None, output: Path | None) -> None:
    """Print a Mosquitto ACL: each welding station pinned to its own topics, then the worker."""
    stored = db.session.get(Setting, "site")
    if stored is None:
        raise click.ClickException(
            "Aucune école dans la base : importez d'abord ses données "
            "(flask --app app data import …)."
        )
    if site is not None and site != stored.value:
        raise click.ClickException(f"Site inconnu : {site} (la base contient {stored.value}).")
    root = current_app.config["ATELIER_TOPIC_ROOT"]
    base = f"{root}/{stored.value}"
    devices = db.session.execute(
        select(Station.mqtt_device)
        .where(Station.mqtt_device.is_not(None))
        .order_by(Station.mqtt_device)
    ).scalars()
    lines = [
        f"# Mosquitto ACL for Atelier, site {stored.value}, topic root {root}.",
        "# Generated by `flask --app app mqtt acl`: run it again after changing the stations.",
        "# Each welding station signs in as its mqtt_device and may write only its own",
        "# topics and read its own cfg; clients with no block below can do nothing.",
    ]
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
        "# The ingest worker (`flask --app app ingest mqtt`) reads every station of the site",
        "# and publishes their cfg.",
        f"user {INGEST_MQTT_USER}",
        f"topic read {base}/+/status",
        f"topic read {base}/+/evt/#",
        f"topic read {base}/+/data/#",
        f"topic write {base}/+/cfg",
    ]
    text = "\n".join(lines) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"ACL écrite dans {output}", err=True)


def register(app: Flask) -> None:
    """Attach the command groups to the application's CLI."""
    for group in (data_cli, token_cli, user_cli, ingest_cli, mqtt_cli):
        app.cli.add_command(group)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Utilisez : flask --app app data|token|user …")
