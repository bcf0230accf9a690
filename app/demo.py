"""Run the whole demo behind ``make demo``: database, demo school, servers and simulated devices.

    python -m app.demo [--port 8000] [--speed 150] [--students 6]

Steps: create or migrate the database (``flask db upgrade``), load the demo school
(``flask data import``, idempotent), make sure the demo credentials exist (a device token
with read rights for the simulator, a teacher account; their clear values are kept in
``instance/demo.json``, mode 0600, because the CLI shows them once), then start as child
processes the embedded MQTT broker (amqtt, unless ``ATELIER_MQTT_URL`` names a broker), the
web server (gunicorn, 2 workers), the MQTT ingest worker and the simulator playing a
compressed workshop day, and print the URLs and logins.

The simulator runs as one `shift` process, which powers the school's welding stations
itself; no separate `stations` process runs, because a station's MQTT client id is its
device name and a second client with the same id would make the broker drop the first,
over and over.

Supervision: when the simulated day ends, the next one starts on fresh piece labels; when
any other child dies, the demo says which one and stops everything (a half-working demo
would mislead more than a clear stop). Ctrl-C, SIGTERM or SIGHUP stop every child; a second
Ctrl-C stops them at once. Children's output goes to ``instance/logs/``.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from flask import Flask

from app import create_app
from app.config import Config
from app.demo_support import broker as broker_support
from app.demo_support import children as child_support
from app.demo_support import credentials as cred_support
from app.demo_support import database as db_support
from app.demo_support.children import Child, StopOutcome
from app.demo_support.network import LOOPBACK, choose_port, wait_for_http, wait_for_port
from app.extensions import db

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
LOGS = INSTANCE / "logs"
DEMO_SCHOOL = ROOT / "app" / "data" / "demo" / "belfort.yaml"

DEFAULT_WEB_PORT = 8000
WEB_WORKERS = 2
# At ×150 the first simulated welds of the Belfort school start 30 to 50 s after the day
# does (their pieces must first go through cutting, drilling and tacking), so the board
# shows attributed welds within a minute; a day then lasts about 3 minutes.
DEFAULT_SPEED = 150.0
DEFAULT_STUDENTS = 6
# Days start at least this far apart, so that a simulator ending its day at once (a very
# high --speed, or nothing left to do) is not restarted in a tight loop.
SHORTEST_DAY_S = 20.0
BROKER_START_TIMEOUT_S = 15.0
WEB_START_TIMEOUT_S = 45.0
# Stop order and patience: the simulator first (it badges students out over HTTP and
# publishes its stations' "offline" through the broker), then the worker, then the servers.
SIMULATOR_STOP_S = 8.0
WORKER_STOP_S = 4.0
SERVERS_STOP_S = 6.0
SUPERVISE_POLL_S = 0.25

EXIT_OK = 0
EXIT_CHILD_DIED = 1
EXIT_SETUP_FAILED = 2

SIGNAL_NAMES: dict[int, str] = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
}


class DemoError(Exception):
    """The demo cannot go on; the message says why, in French."""

    def __init__(self, message: str, log_lines: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.log_lines = list(log_lines)


class _Stopped(Exception):
    """A stop signal arrived while the demo was still getting ready."""


@dataclass(frozen=True)
class DemoSettings:
    """What the command line chose."""

    port: int
    speed: float
    students: int


class Console:
    """The French lines the person who typed ``make demo`` reads."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def say(self, text: str = "") -> None:
        """Print a line as it is."""
        print(text, file=self.stream, flush=True)

    def ok(self, text: str) -> None:
        """Print a step that went well."""
        self.say(f"  ✓ {text}")

    def warn(self, text: str) -> None:
        """Print something the user should know but that does not stop the demo."""
        self.say(f"  ! {text}")

    def fail(self, text: str, log_lines: Sequence[str] = ()) -> None:
        """Print why the demo stops, with the end of the relevant log."""
        self.say(f"  ✗ {text}")
        if log_lines:
            self.say("    Dernières lignes du journal :")
            for line in log_lines:
                self.say(f"    | {line}")


def shown(path: Path) -> str:
    """Return a path as the user best reads it: relative to the current directory if inside."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Demo:
    """The orchestrator: prepares the data, starts and watches the children, stops them all."""

    def __init__(self, settings: DemoSettings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self.children: list[Child] = []
        self.env: dict[str, str] = {}
        self.flask_app: Flask | None = None
        self.credentials = cred_support.DemoCredentials()
        self.teacher = db_support.TeacherState.MISSING
        self.web_url = ""
        self.mqtt_url = ""
        self.embedded_broker = False
        self.worker_available = False
        self.worker_options = False
        self.day = 0
        self._stop_signal: int | None = None
        self._supervising = False
        self._hurry = False
        self._lock_file: IO[str] | None = None

    # -- the whole run ---------------------------------------------------------------------

    def run(self) -> int:
        """Prepare, start, supervise until a signal or a death, then stop everything."""
        self._install_signal_handlers()
        code = EXIT_OK
        try:
            self._prepare()
            self._start_children()
            self._print_welcome()
            code = self._supervise()
        except _Stopped:
            code = EXIT_OK
        except DemoError as exc:
            self.console.fail(exc.message, exc.log_lines)
            code = EXIT_SETUP_FAILED
        finally:
            self._shutdown()
        return code

    # -- signals ---------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            """Remember the stop request; a second one means: do not wait any longer."""
            if self._stop_signal is not None:
                self._hurry = True
                return
            self._stop_signal = signum

        for signum in SIGNAL_NAMES:
            signal.signal(signum, handle)

    def _check_stop(self) -> None:
        if self._stop_signal is not None:
            raise _Stopped

    def _keeps_running(self, child: Child) -> bool:
        return self._stop_signal is None and not child.has_exited()

    # -- preparation -----------------------------------------------------------------------

    def _prepare(self) -> None:
        self.console.say("Atelier — démonstration (École de Production de Belfort)")
        cred_support.ensure_private_dir(INSTANCE)
        LOGS.mkdir(mode=0o700, exist_ok=True)
        self._take_lock()
        handler = logging.FileHandler(LOGS / "demo.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        logger.info("demo starting in %s", ROOT)

        self.env = self._base_env()
        database_url = self.env["ATELIER_DATABASE_URL"]
        self._flask("db", "upgrade", what="la création de la base de données")
        self.console.ok(f"base de données à jour : {self._database_shown(database_url)}")
        self._check_stop()

        summary = self._flask(
            "data",
            "import",
            str(DEMO_SCHOOL.relative_to(ROOT)),
            what="le chargement de l'école de démonstration",
        )
        # "FILE : n créé(s), … — 2 référentiels, …": the counts say whether anything changed.
        counts = _last_line(summary).partition(" : ")[2].partition(" — ")[0]
        self.console.ok(f"école de démonstration chargée : {counts or 'ok'}")
        self._check_stop()

        self.flask_app = self._open_app()
        self._ensure_credentials()
        self._check_stop()

        probe = self._run(
            ["-m", "flask", "--app", "app", "ingest", "mqtt", "--help"], log_name="setup.log"
        )
        self.worker_available = probe.returncode == 0
        self.worker_options = "--protocol" in probe.stdout
        self._check_stop()

    def _take_lock(self) -> None:
        path = INSTANCE / "demo.lock"
        lock = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            other = lock.read().strip() or "?"
            lock.close()
            raise DemoError(
                f"une démo tourne déjà dans ce dossier (processus {other}) : "
                "arrêtez-la d'abord (Ctrl-C dans son terminal)."
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock_file = lock

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The simulator alone gets the demo token, and only through its environment.
        env.pop("ATELIER_TOKEN", None)
        if not env.get("ATELIER_DATABASE_URL"):
            env["ATELIER_DATABASE_URL"] = f"sqlite:///{INSTANCE / 'atelier.db'}"
        # The demo serves plain HTTP, on the loopback only: the teacher's session cookie must
        # not demand HTTPS there (production keeps the default, Secure).
        env.setdefault("ATELIER_COOKIE_SECURE", "0")
        if not env.get("ATELIER_SECRET_KEY"):
            env["ATELIER_SECRET_KEY"] = cred_support.ensure_secret_key(INSTANCE)
        # Children import this checkout's code, wherever the interpreter comes from.
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(ROOT), env.get("PYTHONPATH", "")) if part
        )
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _database_shown(self, url: str) -> str:
        default = f"sqlite:///{INSTANCE / 'atelier.db'}"
        if url == default:
            return shown(INSTANCE / "atelier.db")
        return broker_support.mask_url(url)

    def _run(
        self, args: list[str], *, log_name: str, secret_output: bool = False
    ) -> child_support.CommandResult:
        return child_support.run_to_end(
            [sys.executable, *args],
            log_path=LOGS / log_name,
            env=self.env,
            cwd=ROOT,
            hurry=lambda: self._hurry,
            secret_output=secret_output,
        )

    def _flask(self, *args: str, what: str, secret_output: bool = False) -> str:
        result = self._run(
            ["-m", "flask", "--app", "app", *args],
            log_name="setup.log",
            secret_output=secret_output,
        )
        if result.returncode != 0:
            if self._stop_signal is not None:
                raise _Stopped
            log = LOGS / "setup.log"
            raise DemoError(
                f"échec de {what} (`flask --app app {' '.join(args[:2])}`, code "
                f"{result.returncode}) ; journal complet : {shown(log)}",
                child_support.log_tail(log),
            )
        return result.stdout

    def _open_app(self) -> Flask:
        return create_app(Config.from_env(INSTANCE, environ=self.env))

    def _ensure_credentials(self) -> None:
        assert self.flask_app is not None
        credentials = cred_support.load_credentials(INSTANCE)
        created: list[str] = []
        with self.flask_app.app_context():
            token_ok = credentials.token is not None and db_support.token_is_active(
                credentials.token
            )
            teacher = db_support.teacher_state(credentials.teacher_email)
        if not token_ok:
            out = self._flask(
                "token",
                "create",
                cred_support.DEMO_TOKEN_NAME,
                "--read",
                what="la création du jeton de démo",
                secret_output=True,
            )
            credentials.token = _last_line(out)
            cred_support.save_credentials(INSTANCE, credentials)
            created.append("jeton du simulateur")
        if teacher is db_support.TeacherState.MISSING:
            out = self._flask(
                "user",
                "create",
                credentials.teacher_email,
                "--role",
                "teacher",
                "--name",
                cred_support.DEMO_TEACHER_NAME,
                what="la création du compte enseignant de démo",
                secret_output=True,
            )
            credentials.teacher_password = _last_line(out)
            cred_support.save_credentials(INSTANCE, credentials)
            teacher = db_support.TeacherState.PROVISIONAL
            created.append("compte enseignant")
        path = shown(INSTANCE / cred_support.CREDENTIALS_FILE)
        if created:
            self.console.ok(
                f"identifiants de démo créés ({' et '.join(created)}), gardés dans {path} "
                "(lisible par vous seul)"
            )
        else:
            self.console.ok(f"identifiants de démo repris de {path}")
        self.credentials = credentials
        self.teacher = teacher

    # -- children --------------------------------------------------------------------------

    def _start_children(self) -> None:
        self._start_broker()
        self._check_stop()
        self._start_web()
        self._check_stop()
        if self.worker_available:
            args = ["-m", "flask", "--app", "app", "ingest", "mqtt"]
            if self.embedded_broker and self.worker_options:
                # amqtt speaks 3.1.1 only: saying so spares the worker a failed MQTT 5 try,
                # during which the first welds would find nobody subscribed.
                args += ["--protocol", "3.1.1"]
            worker = self._child("ingest", "worker d'ingestion MQTT", args, "ingest-mqtt.log")
            worker.start()
            self.console.ok(f"worker d'ingestion MQTT démarré (journal : {shown(worker.log_path)})")
        else:
            self.console.warn(
                "worker d'ingestion MQTT absent de cette version (`flask --app app ingest mqtt` "
                "inconnu) : les soudures des postes simulés ne seront pas enregistrées."
            )
        self._check_stop()
        self._start_simulator()

    def _child(self, name: str, label: str, args: list[str], log_name: str) -> Child:
        child = Child(
            name=name,
            label=label,
            command=[sys.executable, *args],
            log_path=LOGS / log_name,
            env=self.env,
            cwd=ROOT,
        )
        self.children.append(child)
        return child

    def _start_broker(self) -> None:
        external = os.environ.get("ATELIER_MQTT_URL")
        if external:
            self.mqtt_url = external
            try:
                host, port = broker_support.broker_address(external)
            except ValueError:
                raise DemoError(
                    f"ATELIER_MQTT_URL n'est pas une adresse mqtt:// ou mqtts:// : "
                    f"{broker_support.mask_url(external)}"
                ) from None
            reachable = wait_for_port(port, 3.0, lambda: self._stop_signal is None, host=host)
            self.console.ok(
                f"courtier MQTT externe : {broker_support.mask_url(external)} (ATELIER_MQTT_URL)"
            )
            if not reachable:
                self.console.warn(
                    "ce courtier ne répond pas pour l'instant : le worker et les postes "
                    "simulés réessaieront de s'y connecter."
                )
            return
        if not broker_support.amqtt_available():
            raise DemoError(
                "le courtier MQTT intégré (amqtt) n'est pas installé : lancez `make demo`, "
                "qui installe l'extra « demo », ou indiquez votre courtier dans ATELIER_MQTT_URL."
            )
        port = choose_port(broker_support.DEFAULT_MQTT_PORT)
        if port != broker_support.DEFAULT_MQTT_PORT:
            self.console.warn(
                f"le port MQTT {broker_support.DEFAULT_MQTT_PORT} est occupé : "
                f"le courtier intégré prend le port {port}."
            )
        config = broker_support.write_amqtt_config(INSTANCE, port)
        broker = self._child(
            "broker",
            "courtier MQTT intégré",
            broker_support.broker_args(config),
            "mqtt-broker.log",
        )
        broker.start()
        self.embedded_broker = True
        self.mqtt_url = f"mqtt://{LOOPBACK}:{port}"
        self.env["ATELIER_MQTT_URL"] = self.mqtt_url
        if not wait_for_port(port, BROKER_START_TIMEOUT_S, lambda: self._keeps_running(broker)):
            self._check_stop()
            raise DemoError(
                f"le courtier MQTT intégré n'a pas démarré ; journal : {shown(broker.log_path)}",
                broker.log_tail(),
            )
        self.console.ok(
            f"courtier MQTT intégré (amqtt, MQTT 3.1.1) sur {LOOPBACK}:{port}, "
            "ouvert à cette machine seulement"
        )

    def _start_web(self) -> None:
        port = choose_port(self.settings.port)
        if port != self.settings.port:
            self.console.warn(
                f"le port {self.settings.port} est occupé : le serveur web prend le port {port}."
            )
        web = self._child(
            "web",
            "serveur web",
            [
                "-m",
                "gunicorn",
                "--workers",
                str(WEB_WORKERS),
                "--bind",
                f"{LOOPBACK}:{port}",
                "--graceful-timeout",
                "5",
                "--chdir",
                str(ROOT),
                "--access-logfile",
                str(LOGS / "web-access.log"),
                *_no_control_socket(),
                "app:create_app()",
            ],
            "web.log",
        )
        web.start()
        self.web_url = f"http://{LOOPBACK}:{port}"
        health = f"{self.web_url}/api/v1/health"
        if not wait_for_http(health, WEB_START_TIMEOUT_S, lambda: self._keeps_running(web)):
            self._check_stop()
            raise DemoError(
                f"le serveur web ne répond pas sur {self.web_url} ; "
                f"journal : {shown(web.log_path)}",
                web.log_tail(),
            )
        self.console.ok(f"serveur web (gunicorn, {WEB_WORKERS} workers) sur {self.web_url}")

    def _start_simulator(self) -> Child:
        assert self.flask_app is not None
        assert self.credentials.token is not None
        self.day += 1
        with self.flask_app.app_context():
            first_piece = db_support.next_piece_number()
        simulator = self._child(
            "simulator",
            "simulateur",
            [
                "-m",
                "devices.simulate",
                "shift",
                "--server",
                self.web_url,
                "--school",
                str(DEMO_SCHOOL),
                "--speed",
                f"{self.settings.speed:g}",
                "--students",
                str(self.settings.students),
                "--seed",
                str(self.day),
                "--first-piece",
                str(first_piece),
            ],
            "simulator.log",
        )
        # The token and the broker URL (which may hold a password) reach the simulator through
        # its environment, never its command line, which every local user can read.
        simulator.env = {**self.env, "ATELIER_TOKEN": self.credentials.token}
        simulator.start()
        if self.day == 1:
            self.console.ok(
                f"simulateur : journée d'atelier n° 1, {self.settings.students} élèves, "
                f"temps ×{self.settings.speed:g} (journal : {shown(simulator.log_path)})"
            )
        else:
            self.console.ok(
                f"simulateur : la journée n° {self.day - 1} est finie, la journée n° {self.day} "
                f"commence (étiquettes pièce à partir du n° {first_piece})"
            )
        return simulator

    # -- the welcome block -----------------------------------------------------------------

    def _print_welcome(self) -> None:
        token = self.credentials.token or ""
        say = self.console.say
        say()
        say("┌─ Démo Atelier prête " + "─" * 58)
        say(f"│  Tableau de l'atelier  {self.web_url}/")
        say(f"│  API (OpenAPI)         {self.web_url}/api/v1/openapi.json")
        say("│")
        say(f"│  Connexion enseignant  {self.web_url}/connexion")
        say(f"│    identifiant         {self.credentials.teacher_email}")
        say(f"│    mot de passe        {self._password_text()}")
        say("│")
        say("│  Jeton de démo (scans et lecture de l'API) :")
        say(f"│    {token}")
        say("│  Essai :")
        say(f'│    curl -H "Authorization: Bearer {token}" {self.web_url}/api/v1/stations')
        say("│")
        say(f"│  Journaux              {shown(LOGS)}/ (web.log, mqtt-broker.log, ingest-mqtt.log,")
        say("│                        simulator.log, setup.log, demo.log)")
        if self.embedded_broker:
            say("│  Courtier intégré amqtt : pour essayer seulement, il ne garantit pas que")
            say("│  chaque message arrive ; en production, Mosquitto (voir deploy/).")
        say("└" + "─" * 79)
        if self.worker_available:
            say(
                "Les élèves badgent dans les secondes qui viennent ; les premières soudures leur "
                "sont attribuées en moins d'une minute."
            )
        else:
            say(
                "Les élèves badgent dans les secondes qui viennent ; sans worker d'ingestion, "
                "leurs soudures n'apparaîtront pas."
            )
        say("Ctrl-C pour tout arrêter.")
        say()

    def _password_text(self) -> str:
        if self.teacher is db_support.TeacherState.CHOSEN:
            return "celui que vous avez choisi à la première connexion"
        if self.credentials.teacher_password is None:
            return (
                f"inconnu ({cred_support.CREDENTIALS_FILE} a été perdu) ; pour repartir de zéro, "
                "arrêtez la démo et supprimez le dossier instance/"
            )
        return f"{self.credentials.teacher_password}  (provisoire : à changer à la connexion)"

    # -- supervision -----------------------------------------------------------------------

    def _supervise(self) -> int:
        self._supervising = True
        next_day_at: float | None = None
        while self._stop_signal is None:
            if next_day_at is not None and time.monotonic() >= next_day_at:
                next_day_at = None
                self._start_simulator()
            for child in list(self.children):
                if not child.has_exited():
                    continue
                code = child.finish()
                self.children.remove(child)
                lasted_s = time.monotonic() - child.started_at
                if child.name == "simulator" and code == 0:
                    # The simulated day is over: the next one starts on fresh piece labels.
                    logger.info("simulated day %d ended after %.0f s", self.day, lasted_s)
                    next_day_at = child.started_at + SHORTEST_DAY_S
                    continue
                logger.error("%s died with code %d after %.0f s", child.name, code, lasted_s)
                self.console.fail(
                    f"le {child.label} s'est arrêté de lui-même ({_exit_text(code)}) ; "
                    f"journal : {shown(child.log_path)}. La démo s'arrête.",
                    child.log_tail(),
                )
                return EXIT_CHILD_DIED
            time.sleep(SUPERVISE_POLL_S)
        return EXIT_OK

    # -- stopping --------------------------------------------------------------------------

    def _shutdown(self) -> None:
        if self._stop_signal is not None:
            self.console.say(
                f"Arrêt demandé ({SIGNAL_NAMES.get(self._stop_signal, str(self._stop_signal))}) : "
                "arrêt de tous les programmes de la démo…"
            )
        if self.children:
            by_name = {c.name: c for c in self.children}
            stages = [
                (["simulator"], SIMULATOR_STOP_S),
                (["ingest"], WORKER_STOP_S),
                (["web", "broker"], SERVERS_STOP_S),
            ]
            for names, timeout_s in stages:
                stage = [by_name[n] for n in names if n in by_name]
                if not stage:
                    continue
                for outcome in child_support.stop_children(
                    stage, timeout_s, hurry=lambda: self._hurry
                ):
                    self._report_stop(outcome, timeout_s)
            self.children.clear()
        if self.flask_app is not None:
            with self.flask_app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._stop_signal is not None or self._supervising:
            self.console.say(
                "Démo arrêtée : plus aucun de ses programmes ne tourne. Les données restent dans "
                f"{shown(INSTANCE)}/ ; `make demo` reprend là où elle en était."
            )
        logger.info("demo stopped")

    def _report_stop(self, outcome: StopOutcome, timeout_s: float) -> None:
        label = outcome.child.label
        if outcome.forced:
            self.console.warn(f"{label} : arrêt forcé (SIGKILL) après {timeout_s:g} s")
        else:
            self.console.ok(f"{label} arrêté")


def _no_control_socket() -> list[str]:
    """Return the option that turns off gunicorn's control socket, when this version has one."""
    # gunicorn 25+ opens ~/.gunicorn/gunicorn.ctl by default: another gunicorn of the same
    # user (a test server, a second checkout's demo) would fight over it, and the demo keeps
    # everything it writes inside the repository.
    config = importlib.import_module("gunicorn.config")
    settings = getattr(config, "KNOWN_SETTINGS", [])
    if any(getattr(s, "name", None) == "control_socket_disable" for s in settings):
        return ["--no-control-socket"]
    return []


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise DemoError("la commande n'a rien affiché alors qu'une ligne était attendue")
    return lines[-1]


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"tué par le signal {signal.Signals(-code).name}"
        except ValueError:
            return f"tué par le signal {-code}"
    return f"code de sortie {code}"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"numéro de port attendu : {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port hors de 1-65535 : {value}")
    return value


def _parse(argv: Sequence[str] | None) -> DemoSettings:
    parser = argparse.ArgumentParser(
        prog="python -m app.demo",
        description="Démo complète d'Atelier : base, école de démonstration, serveur web, "
        "courtier MQTT, worker d'ingestion et appareils simulés. Ctrl-C arrête tout.",
    )
    env_port = os.environ.get("ATELIER_DEMO_PORT")
    try:
        default_port = _port(env_port) if env_port else DEFAULT_WEB_PORT
    except argparse.ArgumentTypeError as exc:
        parser.error(f"ATELIER_DEMO_PORT : {exc}")
    parser.add_argument(
        "--port",
        type=_port,
        default=default_port,
        help=f"port du serveur web (ou ATELIER_DEMO_PORT ; {DEFAULT_WEB_PORT} par défaut)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"accélération de la journée simulée (×{DEFAULT_SPEED:g} par défaut)",
    )
    parser.add_argument(
        "--students",
        type=int,
        default=DEFAULT_STUDENTS,
        help=f"élèves simulés en même temps ({DEFAULT_STUDENTS} par défaut)",
    )
    args = parser.parse_args(argv)
    if args.speed <= 0 or args.students < 1:
        parser.error("--speed doit être positif et --students au moins 1")
    return DemoSettings(port=args.port, speed=args.speed, students=args.students)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C and return the process exit code."""
    settings = _parse(argv)
    if hasattr(sys.stdout, "reconfigure"):
        # A terminal that cannot show "é" or "✓" should get "?" rather than a traceback.
        sys.stdout.reconfigure(errors="replace")
    return Demo(settings, Console(sys.stdout)).run()


if __name__ == "__main__":
    sys.exit(main())
