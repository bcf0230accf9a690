"""Prepare instance/ with the product's own commands, then run the workshop under honcho.

    python -m demo [--port 8000] [--mqtt-port 1883] [--broker auto|mosquitto|amqtt]

Preparation, in order: `flask db upgrade` (SQLite under instance/), `flask data import`
of the demo school into a database without it (once: the office edits the school's data
afterwards, and a new import would undo that), the secret key (instance/secret_key) and the demo's
credentials (instance/demo.json, mode 0600: a token for the simulator, one for the
README's try-outs bound to the spare station ST-SOUD-05, a teacher and an administrator
with one-time passwords, an MQTT password per broker user), reused while they still work,
the office's routing templates (demo/office.py, once), and the broker's files
(demo/broker.py).

Then honcho's Manager runs five processes, each in its own process group, their output in
instance/logs/NAME.log: the broker, the web server (gunicorn, 2 workers, loopback), the
MQTT ingest worker, the simulator, which plays one compressed workshop day after the
other by itself (`devices.simulate shift --loop`), and the closing bell (demo/closing.py),
which runs `flask --app app day close` when the real clock passes ATELIER_CLOSING_TIME.
As with any Procfile runner, when one process ends, honcho stops the others: the demo
then says which one and why. Ctrl-C (or SIGTERM) sends SIGTERM to every group and SIGKILL
to what is left 5 s later. The welcome block is printed once the web server answers.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import requests
import yaml
from honcho.manager import Manager

from demo import broker as brokers
from demo.files import (
    CREDENTIALS_FILE,
    Credentials,
    ensure_secret_key,
    load_credentials,
    save_credentials,
)

logger = logging.getLogger("demo")

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
LOGS = INSTANCE / "logs"
DEMO_SCHOOL = ROOT / "app" / "data" / "demo" / "belfort.yaml"
SHIPPED_MOSQUITTO = ROOT / "deploy" / "mosquitto" / "atelier.conf"
SIMULATOR_STATE = INSTANCE / "simulator.json"
LOOPBACK = "127.0.0.1"

DEFAULT_WEB_PORT = 8000
DEFAULT_MQTT_PORT = 1883
WEB_WORKERS = 2
# At ×150 the first welds come 30 to 40 s after a day begins, and a day lasts 3 minutes.
DEFAULT_SPEED = 150.0
DEFAULT_STUDENTS = 6
PIECES_PER_ORDER = 2
WEB_START_TIMEOUT_S = 60.0

# What the README's try-outs use, in app/data/demo/belfort.yaml: the simulator never
# touches them (devices.simulate shift --reserve).
TRY_STATION = "ST-SOUD-05"
TRY_DEVICE = "ws05"
# The student who left (no badge, past the retention period): the office's erasure to try.
LEFT_STUDENT = "E2025-014"
RESERVED = (
    "E2026-099",
    "B-0099",
    TRY_STATION,
    TRY_DEVICE,
    "OF-2026-0090",
    "P-2026-900001",
    LEFT_STUDENT,
)
SIMULATOR_TOKEN_NAME = "simulateur-demo"  # noqa: S105  (a label, not a token)
TRY_TOKEN_NAME = "essais-readme"  # noqa: S105  (a label, not a token)
# The kiosk whose one-time enrolment link the demo prints (a new one at every start).
DEMO_KIOSK = "ST-KIOSK-1"
TEACHER_NAME = "Maître de démo"
ADMIN_NAME = "Direction (démo)"

LABELS = {
    "broker": "courtier MQTT",
    "web": "serveur web",
    "ingest": "worker d'ingestion MQTT",
    "simulator": "simulateur",
    "closing": "horloge de fin de journée",
}
SIGNAL_NAMES = {"SIGINT": "Ctrl-C", "SIGTERM": "SIGTERM"}
_STOPPED = re.compile(r"^(\S+) stopped \(rc=(-?\d+)\)")
_SIGNALLED = re.compile(r"^(SIGINT|SIGTERM) received")

EXIT_OK = 0
EXIT_CHILD_DIED = 1
EXIT_SETUP_FAILED = 2


class DemoError(Exception):
    """The demo cannot start; the message says why, in French."""


@dataclass(frozen=True)
class Settings:
    """What the command line chose."""

    port: int
    mqtt_port: int
    broker: str
    speed: float
    students: int


@dataclass(frozen=True)
class Program:
    """One process of the demo: its honcho name, command line and environment."""

    name: str
    command: list[str]
    env: dict[str, str]


class Console:
    """The French lines the person who typed `make demo` reads (thread-safe)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def say(self, *lines: str) -> None:
        """Print lines as they are, together."""
        with self._lock:
            for line in lines or ("",):
                print(line, file=self.stream, flush=True)

    def ok(self, text: str) -> None:
        """Print a step that went well."""
        self.say(f"  ✓ {text}")

    def fail(self, text: str, tail: Sequence[str] = ()) -> None:
        """Print why the demo stops, with the end of the relevant log."""
        heading = ["    Dernières lignes du journal :"] if tail else []
        self.say(f"  ✗ {text}", *heading, *[f"    | {line}" for line in tail])


def shown(path: Path) -> str:
    """Return a path relative to the current directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def log_tail(path: Path, lines: int = 12) -> list[str]:
    """Return the last lines of a log file (none if it cannot be read)."""
    try:
        text = path.read_bytes()[-16384:].decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def port_is_free(port: int) -> bool:
    """Tell whether a server could listen on this loopback port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too: a port left in TIME_WAIT by the last demo is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def choose_port(preferred: int, tries: int = 20) -> int:
    """Return the preferred loopback port or the next free one, else one the system gives."""
    for port in range(preferred, min(preferred + tries, 65536)):
        if port_is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class LogPrinter:
    """honcho's printer: each process's lines to its log, the runner's events to the demo."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.width = 0  # honcho sets it; the logs need no alignment
        self._files: dict[str, IO[str]] = {}
        self._lock = threading.Lock()

    def write(self, message: Any) -> None:
        """Route one line: a process's output to its log, honcho's own to demo.log."""
        data = message.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        with self._lock:
            name = message.name or "system"
            target = self._files.get(name)
            if target is None:
                log_name = "demo" if name == "system" else name
                target = (LOGS / f"{log_name}.log").open("a", encoding="utf-8")
                self._files[name] = target
            stamp = message.time.strftime("%H:%M:%S")
            for line in text.splitlines():
                target.write(f"{stamp} {line}\n" if name == "system" else f"{line}\n")
            target.flush()
        if name == "system":
            self.demo.on_runner_event(text.strip())
        self.demo.on_first_output()

    def close(self) -> None:
        """Close the log files."""
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


class Demo:
    """Prepares instance/, runs the programs under honcho, tells the user what happens."""

    def __init__(self, settings: Settings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self.env: dict[str, str] = {}
        self.credentials = Credentials()
        self.teacher_chose_password = False
        self.admin_chose_password = False
        self.broker_kind = ""
        self.mqtt_host = LOOPBACK
        self.mqtt_port = 0
        self.web_url = ""
        self.kiosk_link = ""
        self.first_stop: tuple[str, int] | None = None
        self.stop_signal: str | None = None
        self.setup_failed = False
        self._watch_started = False
        self._lock_file: IO[str] | None = None

    # -- the whole run ---------------------------------------------------------------------

    def run(self) -> int:
        """Prepare, run until a signal or a process's end, and say how it ended."""
        self.console.say("Atelier — démonstration (École de Production de Belfort)")

        def interrupt(signum: int, frame: FrameType | None) -> None:
            """Stop the preparation: what it started ends with it (same process group)."""
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
        try:
            programs = self.prepare()
        except DemoError as exc:
            self.console.fail(str(exc))
            return EXIT_SETUP_FAILED
        except KeyboardInterrupt:
            self.console.say("Arrêt demandé pendant la préparation : la démo s'arrête.")
            return EXIT_OK
        printer = LogPrinter(self)
        manager = Manager(printer=printer)
        for program in programs:
            command = "exec " + shlex.join(program.command)
            manager.add_process(program.name, command, env=program.env, cwd=str(ROOT))
            logger.info("%s: %s", program.name, command)
        try:
            manager.loop()
        finally:
            printer.close()
            if self._lock_file is not None:
                self._lock_file.close()
        return self.report()

    def report(self) -> int:
        """Say how the demo ended and return the exit code."""
        if self.first_stop is not None and not self.stop_signal:
            name, code = self.first_stop
            self.console.fail(
                f"le {LABELS.get(name, name)} s'est arrêté de lui-même ({_exit_text(code)}) ; "
                f"journal : {shown(LOGS / f'{name}.log')}. La démo s'arrête.",
                log_tail(LOGS / f"{name}.log"),
            )
            return EXIT_CHILD_DIED
        if self.setup_failed:
            return EXIT_SETUP_FAILED
        self.console.say(
            "Démo arrêtée : plus aucun de ses programmes ne tourne. Les données restent dans "
            f"{shown(INSTANCE)}/ ; `make demo` reprend là où elle en était."
        )
        return EXIT_OK

    # -- events from honcho (its loop runs in the main thread) -----------------------------

    def on_runner_event(self, text: str) -> None:
        """React to honcho's own messages: a signal received, a process stopped."""
        signalled = _SIGNALLED.match(text)
        if signalled and self.stop_signal is None and not self.setup_failed:
            self.stop_signal = signalled.group(1)
            self.console.say(
                f"Arrêt demandé ({SIGNAL_NAMES[self.stop_signal]}) : "
                "arrêt de tous les programmes de la démo…"
            )
        stopped = _STOPPED.match(text)
        if stopped:
            name, code = stopped.group(1), int(stopped.group(2))
            if self.first_stop is None:
                self.first_stop = (name, code)
            if self.stop_signal or self.setup_failed:
                self.console.ok(f"{LABELS.get(name, name)} arrêté")

    def on_first_output(self) -> None:
        """Start watching for the web server, once honcho has forked every process."""
        # Forking with a thread running is unsafe: honcho forks all its processes in
        # loop() before it reads the first line, so the thread starts only after.
        if self._watch_started:
            return
        self._watch_started = True
        threading.Thread(target=self._welcome_when_ready, name="demo-ready", daemon=True).start()

    def _welcome_when_ready(self) -> None:
        deadline = time.monotonic() + WEB_START_TIMEOUT_S
        health = f"{self.web_url}/api/v1/health"
        while time.monotonic() < deadline:
            if self.first_stop is not None or self.stop_signal:
                return
            try:
                if requests.get(health, timeout=1.0).status_code == 200:
                    self.print_welcome()
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.setup_failed = True
        self.console.fail(
            f"le serveur web ne répond pas sur {self.web_url} après "
            f"{WEB_START_TIMEOUT_S:g} s ; journal : {shown(LOGS / 'web.log')}",
            log_tail(LOGS / "web.log"),
        )
        # honcho's signal handler, in the main thread, then stops every process.
        os.kill(os.getpid(), signal.SIGTERM)

    # -- preparation -----------------------------------------------------------------------

    def prepare(self) -> list[Program]:
        """Make instance/ ready and return the programs to run."""
        INSTANCE.mkdir(mode=0o700, exist_ok=True)
        LOGS.mkdir(mode=0o700, exist_ok=True)
        self._take_lock()
        handler = logging.FileHandler(LOGS / "demo.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        self.env = self._base_env()

        fresh_database = not (INSTANCE / "atelier.db").exists()
        self.flask("db", "upgrade", what="la création de la base de données")
        if fresh_database:
            # A new database has no pieces: the simulator's label count starts over too.
            SIMULATOR_STATE.unlink(missing_ok=True)
        self.console.ok(f"base de données à jour : {self._database_shown()}")
        self._load_school()

        self.credentials = load_credentials(INSTANCE)
        created = self._ensure_accounts()
        broker = self._prepare_broker()
        save_credentials(INSTANCE, self.credentials)
        where = shown(INSTANCE / CREDENTIALS_FILE)
        if created:
            self.console.ok(
                f"identifiants de démo créés ({', '.join(created)}), gardés dans {where} "
                "(lisible par vous seul)"
            )
        else:
            self.console.ok(f"identifiants de démo repris de {where}")

        port = choose_port(self.settings.port)
        self.web_url = f"http://{LOOPBACK}:{port}"
        if port != self.settings.port:
            self.console.ok(f"port {self.settings.port} occupé : le serveur web prend le {port}")
        # Enrolment links and QR codes point at the server the demo runs.
        self.env.setdefault("ATELIER_PUBLIC_URL", self.web_url)
        out = self.flask(
            "kiosk", "enrol", DEMO_KIOSK, what="le lien d'activation de la borne", secret=True
        )
        self.kiosk_link = _last_line(out)
        programs = [] if broker is None else [broker]
        programs += [self._web(port), self._worker(), self._simulator(), self._closing()]
        return programs

    def _take_lock(self) -> None:
        lock = (INSTANCE / "demo.lock").open("a+", encoding="utf-8")
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
        # Each process gets only the secrets it needs, below.
        for name in ("ATELIER_TOKEN", "ATELIER_STATION_PASSWORD", "ATELIER_STATION_PASSWORDS"):
            env.pop(name, None)
        if not env.get("ATELIER_DATABASE_URL"):
            env["ATELIER_DATABASE_URL"] = f"sqlite:///{INSTANCE / 'atelier.db'}"
        # Plain HTTP on the loopback: the teacher's session cookie must not demand HTTPS.
        env.setdefault("ATELIER_COOKIE_SECURE", "0")
        if not env.get("ATELIER_SECRET_KEY"):
            env["ATELIER_SECRET_KEY"] = ensure_secret_key(INSTANCE)
        # Every process imports this checkout's code, wherever the interpreter comes from.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _database_shown(self) -> str:
        url = self.env["ATELIER_DATABASE_URL"]
        if url == f"sqlite:///{INSTANCE / 'atelier.db'}":
            return shown(INSTANCE / "atelier.db")
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)

    def flask(self, *args: str, what: str, secret: bool = False, check: bool = True) -> str:
        """Run `flask --app app ARGS` to its end; stderr to setup.log; return stdout."""
        command = [sys.executable, "-m", "flask", "--app", "app", *args]
        result = subprocess.run(  # noqa: S603  (our interpreter, our arguments)
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        log = LOGS / "setup.log"
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(args)}\n")
            handle.write(result.stderr)
            handle.write(
                "(standard output withheld: it holds a secret)\n" if secret else result.stdout
            )
        if check and result.returncode != 0:
            tail = "\n    | ".join(["", *log_tail(log)])
            raise DemoError(
                f"échec de {what} (`flask --app app {' '.join(args[:2])}`, code "
                f"{result.returncode}) ; journal : {shown(log)}{tail}"
            )
        return result.stdout if result.returncode == 0 else ""

    def _ensure_accounts(self) -> list[str]:
        """Reuse the saved tokens and password while they work; create what is missing."""
        creds = self.credentials
        check = _Checker(self.env)
        created: list[str] = []
        try:
            if not (creds.token and check.token_works(creds.token)):
                out = self.flask(
                    "token", "create", SIMULATOR_TOKEN_NAME, "--read", what="un jeton", secret=True
                )
                creds.token = _last_line(out)
                created.append("jeton du simulateur")
            if not (creds.try_token and check.token_works(creds.try_token)):
                out = self.flask(
                    "token",
                    "create",
                    TRY_TOKEN_NAME,
                    "--station",
                    TRY_STATION,
                    "--read",
                    what="un jeton",
                    secret=True,
                )
                creds.try_token = _last_line(out)
                created.append("jeton d'essai")
            password = self._ensure_staff(
                check, creds.teacher_email, "teacher", TEACHER_NAME, creds.teacher_password
            )
            if password is None:
                self.teacher_chose_password = True
            elif password != creds.teacher_password:
                creds.teacher_password = password
                created.append("compte enseignant")
            password = self._ensure_staff(
                check, creds.admin_email, "admin", ADMIN_NAME, creds.admin_password
            )
            if password is None:
                self.admin_chose_password = True
            elif password != creds.admin_password:
                creds.admin_password = password
                created.append("compte administrateur")
        finally:
            check.close()
        return created

    def _ensure_staff(
        self, check: _Checker, email: str, role: str, name: str, password: str | None
    ) -> str | None:
        """Return the account's working one-time password, creating the account if need be.

        None: the account exists with a password of its owner's own choosing.
        """
        if password and check.password_works(email, password):
            return password
        what = "le compte administrateur" if role == "admin" else "le compte enseignant"
        out = self.flask(
            "user",
            "create",
            email,
            "--role",
            role,
            "--name",
            name,
            what=what,
            secret=True,
            check=False,
        )
        return _last_line(out) if out.strip() else None

    def _load_school(self) -> None:
        """Import the demo school into a database without it, then give the office's templates.

        Once only: what the office changes afterwards (a badge given, a student erased, a
        work order closed) is the school's data now, which a new import would undo.
        """
        check = _Checker(self.env)
        try:
            school = yaml.safe_load(DEMO_SCHOOL.read_text(encoding="utf-8"))
            if check.site_exists(str(school["site"])):
                self.console.ok(
                    "école de démonstration déjà chargée : ce que le bureau y a changé reste "
                    f"(pour repartir de zéro : supprimer {shown(INSTANCE / 'atelier.db')})"
                )
            else:
                summary = self.flask(
                    "data",
                    "import",
                    str(DEMO_SCHOOL.relative_to(ROOT)),
                    what="l'import de l'école",
                )
                counts = _last_line(summary).partition(" : ")[2].partition(" — ")[0]
                self.console.ok(f"école de démonstration chargée : {counts or 'ok'}")
            office = importlib.import_module("demo.office")
            created, refused = office.seed_templates(check.app, DEMO_SCHOOL)
        finally:
            check.close()
        if refused:
            raise DemoError("gammes de démonstration refusées : " + " ; ".join(refused))
        count = len(office.TEMPLATES)
        self.console.ok(
            f"gammes de démonstration : {created} créée(s)"
            if created
            else f"gammes de démonstration : {count} déjà là"
        )

    def _prepare_broker(self) -> Program | None:
        external = os.environ.get("ATELIER_MQTT_URL")
        if external:
            self.broker_kind = "external"
            self.env["ATELIER_MQTT_URL"] = external
            self.console.ok("courtier MQTT : celui de ATELIER_MQTT_URL")
            return None
        mosquitto = brokers.find_program("mosquitto")
        passwd = brokers.find_program("mosquitto_passwd")
        wanted = self.settings.broker
        if wanted == "mosquitto" and not (mosquitto and passwd):
            raise DemoError("--broker mosquitto : mosquitto ou mosquitto_passwd introuvable.")
        self.broker_kind = "mosquitto" if wanted != "amqtt" and mosquitto and passwd else "amqtt"
        self.mqtt_port = choose_port(self.settings.mqtt_port)
        if self.broker_kind == "amqtt":
            config = brokers.write_amqtt_config(INSTANCE / "amqtt.yaml", self.mqtt_port)
            self.console.ok(
                f"courtier MQTT : amqtt (MQTT 3.1.1, sans mot de passe ni ACL : pour essayer "
                f"seulement ; Mosquitto s'il est installé) sur {LOOPBACK}:{self.mqtt_port}"
            )
        else:
            assert mosquitto is not None and passwd is not None
            config = self._mosquitto_files(passwd)
            self.console.ok(
                f"courtier MQTT : Mosquitto, configuration de deploy/mosquitto/ (mots de passe, "
                f"ACL), sur {LOOPBACK}:{self.mqtt_port}"
            )
        command = brokers.broker_command(
            self.broker_kind, mosquitto=mosquitto, config=config, python=sys.executable
        )
        return Program("broker", list(command), self._env_without_mqtt())

    def _mosquitto_files(self, passwd_tool: str) -> Path:
        here = INSTANCE / "mosquitto"
        here.mkdir(mode=0o700, exist_ok=True)
        (here / "data").mkdir(mode=0o700, exist_ok=True)
        acl = here / "atelier.acl"
        self.flask("mqtt", "acl", "-o", str(acl), what="l'écriture de l'ACL MQTT")
        users = brokers.acl_users(acl.read_text(encoding="utf-8"))
        passwords = {user: self.credentials.mqtt_password(user) for user in users}
        brokers.write_password_file(passwd_tool, here / "atelier.passwd", passwords)
        config = here / "mosquitto.conf"
        config.write_text(
            brokers.mosquitto_config(
                SHIPPED_MOSQUITTO.read_text(encoding="utf-8"),
                port=self.mqtt_port,
                persistence_dir=here / "data",
                password_file=here / "atelier.passwd",
                acl_file=acl,
                as_root=os.geteuid() == 0,
            ),
            encoding="utf-8",
        )
        return config

    # -- the programs ----------------------------------------------------------------------

    def _env_without_mqtt(self) -> dict[str, str]:
        env = dict(self.env)
        env.pop("ATELIER_MQTT_URL", None)
        return env

    def _mqtt_url(self, user: str | None) -> str:
        if self.broker_kind == "external":
            return self.env["ATELIER_MQTT_URL"]
        if user is None or self.broker_kind == "amqtt":
            return f"mqtt://{LOOPBACK}:{self.mqtt_port}"
        return f"mqtt://{user}:{self.credentials.mqtt_password(user)}@{LOOPBACK}:{self.mqtt_port}"

    def _web(self, port: int) -> Program:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WEB_WORKERS),
            "--bind",
            f"{LOOPBACK}:{port}",
            "--graceful-timeout",
            "3",
            "--access-logfile",
            str(LOGS / "web-access.log"),
            *_no_control_socket(),
            "app:create_app()",
        ]
        return Program("web", command, self._env_without_mqtt())

    def _worker(self) -> Program:
        command = [sys.executable, "-m", "flask", "--app", "app", "ingest", "mqtt"]
        if self.broker_kind == "amqtt":
            # amqtt speaks 3.1.1 only: saying so spares the worker a failed MQTT 5 try.
            command += ["--protocol", "3.1.1"]
        return Program(
            "ingest", command, {**self.env, "ATELIER_MQTT_URL": self._mqtt_url(brokers.INGEST_USER)}
        )

    def _simulator(self) -> Program:
        assert self.credentials.token is not None
        command = [
            sys.executable,
            "-m",
            "devices.simulate",
            "shift",
            "--loop",
            "--server",
            self.web_url,
            "--school",
            str(DEMO_SCHOOL),
            "--speed",
            f"{self.settings.speed:g}",
            "--students",
            str(self.settings.students),
            "--state",
            str(SIMULATOR_STATE),
            "--pieces-per-order",
            str(PIECES_PER_ORDER),
            "--reserve",
            ",".join(RESERVED),
            "--wait-s",
            f"{WEB_START_TIMEOUT_S:g}",
        ]
        # Secrets go through the environment, never the command line every user can read.
        env = {**self.env, "ATELIER_TOKEN": self.credentials.token}
        env["ATELIER_MQTT_URL"] = self._mqtt_url(None)
        if self.broker_kind == "mosquitto":
            env["ATELIER_STATION_PASSWORDS"] = ",".join(
                f"{user}={password}"
                for user, password in self.credentials.mqtt_passwords.items()
                if user != brokers.INGEST_USER
            )
        return Program("simulator", command, env)

    def _closing(self) -> Program:
        # Its own small process, not a thread of the web server (each worker would ring)
        # nor the MQTT worker's job: demo/closing.py says when it rings.
        command = [sys.executable, "-m", "demo.closing"]
        return Program("closing", command, self._env_without_mqtt())

    # -- the welcome block -----------------------------------------------------------------

    def print_welcome(self) -> None:
        """Print the URLs (the board first), the logins and the try-out values."""
        creds = self.credentials
        url = self.web_url
        chosen = "celui que vous avez choisi à la première connexion"
        if self.teacher_chose_password:
            password = chosen
        else:
            password = f"{creds.teacher_password}  (provisoire : à changer à la connexion)"
        if self.admin_chose_password:
            admin_password = chosen
        else:
            admin_password = f"{creds.admin_password}  (provisoire : à changer à la connexion)"
        if self.broker_kind == "external":
            station = "courtier de ATELIER_MQTT_URL : identifiants du poste ws05 chez vous"
            exports = f"export ATELIER={url} TOKEN={creds.try_token}"
        else:
            station_password = (
                creds.mqtt_password(TRY_DEVICE) if self.broker_kind == "mosquitto" else "-"
            )
            station = (
                f"hôte {LOOPBACK}, port {self.mqtt_port}, utilisateur {TRY_DEVICE}, "
                f"mot de passe {station_password}"
            )
            exports = (
                f"export ATELIER={url} TOKEN={creds.try_token} MQTT_HOST={LOOPBACK} "
                f"MQTT_PORT={self.mqtt_port} MQTT_USER={TRY_DEVICE} "
                f"MQTT_PASSWORD={station_password}"
            )
        closing = (self.env.get("ATELIER_CLOSING_TIME") or "").strip() or "18:00"
        broker = {
            "mosquitto": f"Mosquitto sur {LOOPBACK}:{self.mqtt_port}",
            "amqtt": f"amqtt sur {LOOPBACK}:{self.mqtt_port} (sans mot de passe : essai seulement)",
            "external": "celui de ATELIER_MQTT_URL",
        }[self.broker_kind]
        self.console.say(
            "",
            "┌─ Démo Atelier prête " + "─" * 58,
            f"│  Tableau de l'atelier  {url}/",
            f"│  API (OpenAPI)         {url}/api/v1/openapi.json",
            "│",
            f"│  Borne des élèves      {self.kiosk_link}",
            f"│    lien d'activation de la borne {DEMO_KIOSK} : à ouvrir une fois, dans les "
            "15 minutes,",
            "│    dans le navigateur de la borne ; elle reste activée ensuite (/borne)",
            "│",
            f"│  Connexion enseignant  {url}/connexion",
            f"│    identifiant         {creds.teacher_email}",
            f"│    mot de passe        {password}",
            f"│  Tablette enseignant   {url}/enseignant/  (pièces à évaluer, soudures à "
            "attribuer, livrets)",
            "│",
            f"│  Bureau                {url}/bureau/  (OF, gammes, élèves et badges, bornes, "
            "données de l'école, journal)",
            "│    connexion administrateur (toutes les pages du bureau) :",
            f"│    identifiant         {creds.admin_email}",
            f"│    mot de passe        {admin_password}",
            f"│    élève sorti de l'école, à exporter puis effacer : {LEFT_STUDENT} (Jules P.)",
            "│",
            f"│  Courtier MQTT         {broker}",
            f"│  Jeton du simulateur   {creds.token}",
            "│",
            f"│  Essais du README : élève Zoé (B-0099), poste {TRY_STATION}, OF-2026-0090",
            f"│    jeton de scan       {creds.try_token}  (poste {TRY_STATION}, lecture)",
            f"│    poste MQTT          {station}",
            "│    dans un autre terminal, avant les commandes du README :",
            f"│    {exports}",
            "│",
            f"│  Fin de journée        {closing} (ATELIER_CLOSING_TIME) : opérations en pause, "
            "élèves badgés sortis",
            f"│  Journaux              {shown(LOGS)}/ (web, broker, ingest, simulator, closing, "
            "demo)",
            "└" + "─" * 79,
            "Les élèves badgent dans les secondes qui viennent ; les premières soudures leur "
            "sont attribuées en moins d'une minute. Chaque journée simulée commence par une "
            "soudure de réglage faite sans élève badgé : elle attend d'être attribuée depuis "
            "la tablette.",
            "Ctrl-C pour tout arrêter.",
            "",
        )


class _Checker:
    """Asks the application itself, in this process, whether saved credentials still work."""

    def __init__(self, env: dict[str, str]) -> None:
        os.environ.update({k: v for k, v in env.items() if k.startswith("ATELIER_")})
        app_module = importlib.import_module("app")
        self.app = app_module.create_app()

    def site_exists(self, code: str) -> bool:
        """Tell whether the database has this site (the demo school was imported)."""
        sites = importlib.import_module("app.read.sites")
        extensions = importlib.import_module("app.extensions")
        with self.app.app_context():
            found = sites.site_by_code(extensions.db.session(), code) is not None
            extensions.db.session.remove()
        return bool(found)

    def token_works(self, token: str) -> bool:
        """Tell whether the token opens the read API (as the scan API's 401 would say)."""
        answer = self.app.test_client().get(
            "/api/v1/stations", headers={"Authorization": f"Bearer {token}"}
        )
        return bool(answer.status_code == 200)

    def password_works(self, email: str, password: str) -> bool:
        """Tell whether the sign-in page takes this email and password."""
        client = self.app.test_client()
        form = client.get("/connexion").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        answer = client.post(
            "/connexion",
            data={
                "csrf_token": csrf.group(1) if csrf else "",
                "email": email,
                "password": password,
            },
        )
        return bool(answer.status_code in {302, 303} and "/connexion" not in answer.location)

    def close(self) -> None:
        """Close the database connections before honcho forks this process."""
        extensions = importlib.import_module("app.extensions")
        with self.app.app_context():
            for engine in extensions.db.engines.values():
                engine.dispose()


def _no_control_socket() -> list[str]:
    """Return the option that turns off gunicorn's control socket, when it has one."""
    # gunicorn 25+ opens ~/.gunicorn/gunicorn.ctl by default: another gunicorn of the same
    # user (a test server, a second checkout's demo) would fight over it.
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


def parse(argv: Sequence[str] | None) -> Settings:
    """Read the command line (defaults from ATELIER_DEMO_* variables)."""
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Démo complète d'Atelier : base, école de démonstration, serveur web, "
        "courtier MQTT, worker d'ingestion et appareils simulés. Ctrl-C arrête tout.",
    )
    defaults: dict[str, int] = {}
    for option, variable, default in (
        ("port", "ATELIER_DEMO_PORT", DEFAULT_WEB_PORT),
        ("mqtt_port", "ATELIER_DEMO_MQTT_PORT", DEFAULT_MQTT_PORT),
    ):
        text = os.environ.get(variable)
        try:
            defaults[option] = _port(text) if text else default
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{variable} : {exc}")
    parser.add_argument(
        "--port",
        type=_port,
        default=defaults["port"],
        help=f"port du serveur web (ou ATELIER_DEMO_PORT ; {DEFAULT_WEB_PORT} ou le suivant libre)",
    )
    parser.add_argument(
        "--mqtt-port",
        type=_port,
        default=defaults["mqtt_port"],
        help=f"port du courtier MQTT (ou ATELIER_DEMO_MQTT_PORT ; {DEFAULT_MQTT_PORT} ou un libre)",
    )
    parser.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "amqtt"],
        default=os.environ.get("ATELIER_DEMO_BROKER", "auto"),
        help="courtier MQTT : Mosquitto s'il est installé (auto), sinon amqtt",
    )
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="accélération")
    parser.add_argument("--students", type=int, default=DEFAULT_STUDENTS, help="élèves simulés")
    args = parser.parse_args(argv)
    if args.speed <= 0 or args.students < 1:
        parser.error("--speed doit être positif et --students au moins 1")
    return Settings(args.port, args.mqtt_port, args.broker, args.speed, args.students)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C and return the process exit code."""
    settings = parse(argv)
    # Everything the demo and its programs write in instance/ is the user's alone.
    os.umask(0o077)
    if hasattr(sys.stdout, "reconfigure"):
        # A terminal that cannot show "é" or "✓" should get "?" rather than a traceback.
        sys.stdout.reconfigure(errors="replace")
    return Demo(settings, Console(sys.stdout)).run()
