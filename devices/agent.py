"""Serial reader agent: badge and barcode readers -> local spool -> Atelier server.

Run one per reader (docs/contract.md sections 1, 4 and 5)::

    ATELIER_TOKEN=... python -m devices.agent --port /dev/ttyUSB0 \\
        --server https://atelier.example.org --protocol rdm6300

A reader thread turns serial bytes into codes (devices.framing) and commits each scan to
the spool (devices.spool) before anything else happens; a sender thread drains the spool
in capture order, one scan at a time, and removes a scan only once the server gave it a
final answer. `--check` shows what a reader sends without sending anything.
"""

from __future__ import annotations

import argparse
import enum
import logging
import os
import random
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, Self, TextIO

import requests
import serial

from devices.framing import (
    Framer,
    ProtocolName,
    RepeatFilter,
    make_framer,
)
from devices.spool import Scan, Spool, SpoolEntry, SpoolLockedError, new_scan

logger = logging.getLogger(__name__)

USER_AGENT: Final = "atelier-agent/0.1"
SERIAL_READ_TIMEOUT_S: Final = 0.5  # how soon the reader loop notices a stop request
RECONNECT_BASE_DELAY_S: Final = 0.5
RECONNECT_MAX_DELAY_S: Final = 5.0
# A connection that lasted this long was healthy: the next reconnection starts fast again.
STABLE_CONNECTION_S: Final = 10.0
RETRY_BASE_DELAY_S: Final = 0.5
RETRY_MAX_DELAY_S: Final = 30.0
HTTP_CONNECT_TIMEOUT_S: Final = 3.05
HTTP_READ_TIMEOUT_S: Final = 10.0
IDLE_POLL_S: Final = 5.0  # the sender looks at the spool at least this often
STATS_INTERVAL_S: Final = 600.0
REMINDER_INTERVAL_S: Final = 300.0  # a problem that lasts is logged again this often
SHUTDOWN_JOIN_S: Final = HTTP_CONNECT_TIMEOUT_S + HTTP_READ_TIMEOUT_S + 2.0
SIGNAL_POLL_S: Final = 0.2
# The server's final refusals (docs/contract.md section 5): sending again cannot change them.
FINAL_REJECTION_STATUSES: Final = frozenset({400, 409, 422})
UNAUTHORIZED_STATUSES: Final = frozenset({401, 403})

COUNTER_LABELS_FR: Final = {
    "dropped_too_long": "lignes trop longues",
    "dropped_non_ascii": "lignes hors ASCII imprimable",
    "dropped_bad_checksum": "trames à somme de contrôle fausse",
    "dropped_broken": "trames cassées",
    "dropped_noise_bytes": "octets parasites hors trame",
    "suppressed_repeats": "répétitions ignorées",
}


class Verdict(enum.Enum):
    """What to do with a spooled scan after a delivery attempt."""

    ACCEPTED = "accepted"  # 2xx: the server applied the scan
    DUPLICATE = "duplicate"  # 200 duplicate: an earlier attempt was applied
    REJECTED = "rejected"  # final 4xx: recorded or refused for good
    UNAUTHORIZED = "unauthorized"  # 401/403: the token must be fixed, keep the scan
    RETRY = "retry"  # 5xx, other statuses, network errors: keep and retry


@dataclass(frozen=True)
class Outcome:
    """The classified answer to one delivery attempt."""

    verdict: Verdict
    status: int | None
    detail: str


def classify_response(status: int, body: Any) -> Outcome:
    """Classify the server's answer to a scan by status code and JSON body."""
    if 200 <= status < 300:
        if isinstance(body, dict) and body.get("duplicate") is True:
            return Outcome(Verdict.DUPLICATE, status, "déjà reçu")
        message = body.get("message") if isinstance(body, dict) else None
        return Outcome(Verdict.ACCEPTED, status, str(message or ""))
    if status in FINAL_REJECTION_STATUSES:
        return Outcome(Verdict.REJECTED, status, _error_text(body) or f"HTTP {status}")
    if status in UNAUTHORIZED_STATUSES:
        return Outcome(Verdict.UNAUTHORIZED, status, _error_text(body) or f"HTTP {status}")
    return Outcome(Verdict.RETRY, status, f"HTTP {status}")


def _error_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return " : ".join(str(part) for part in (code, message) if part)
    return str(error or body.get("message") or "")


def scan_payload(scan: Scan) -> dict[str, str]:
    """Return the JSON body of `POST /api/v1/scans` for a scan."""
    payload = {
        "event_id": scan.event_id,
        "code": scan.code,
        "source": scan.source,
        "scanned_at": scan.scanned_at,
    }
    if scan.station is not None:
        payload["station"] = scan.station
    return payload


class ScanClient:
    """Deliver scans to the server over one keep-alive HTTP session."""

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        timeout_s: tuple[float, float] = (HTTP_CONNECT_TIMEOUT_S, HTTP_READ_TIMEOUT_S),
    ) -> None:
        self.url = server_url.rstrip("/") + "/api/v1/scans"
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT})

    def post(self, scan: Scan) -> Outcome:
        """Send one scan and classify the answer; never raise for a network problem."""
        try:
            # No redirects: requests would turn a redirected POST into a GET and the
            # scan would never arrive; a redirect is a configuration error to report.
            response = self._session.post(
                self.url, json=scan_payload(scan), timeout=self._timeout_s, allow_redirects=False
            )
        except requests.RequestException as exc:
            return Outcome(Verdict.RETRY, None, f"{type(exc).__name__}: {exc}")
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location", "?")
            return Outcome(Verdict.RETRY, response.status_code, f"redirection vers {location}")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        return classify_response(response.status_code, body)

    def close(self) -> None:
        """Close the HTTP session and its connections."""
        self._session.close()


class Backoff:
    """Exponential back-off with jitter, so that agents recovering together spread out."""

    def __init__(self, base_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._base_s = base_s
        self._max_s = max_s
        self._failures = 0
        # Not for security: jitter only spreads retries.
        self._rng = rng or random.Random()  # noqa: S311

    def next_delay_s(self) -> float:
        """Return how long to wait before the next attempt, and count a failure."""
        delay_s = min(self._max_s, self._base_s * 2.0 ** min(self._failures, 30))
        self._failures += 1
        return delay_s * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Start again from the base delay after a success."""
        self._failures = 0


class _Trouble:
    """Tell when a lasting problem deserves a log line: at first, then as a reminder."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.kind: str | None = None
        self.since_s = 0.0
        self._logged_s = 0.0

    def report(self, kind: str) -> bool:
        now_s = self._clock()
        if kind != self.kind:
            self.kind, self.since_s, self._logged_s = kind, now_s, now_s
            return True
        if now_s - self._logged_s >= REMINDER_INTERVAL_S:
            self._logged_s = now_s
            return True
        return False

    def clear(self) -> float | None:
        if self.kind is None:
            return None
        self.kind = None
        return self._clock() - self.since_s


class SerialReader:
    """Read a serial port forever, reopening it whenever it disappears.

    A plain loop rather than `serial.threaded.ReaderThread`: a ReaderThread ends with
    its port, so reopening needs a supervisor anyway; one loop holds the reopen
    back-off, the outage logging and the stop request together.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int,
        on_data: Callable[[bytes], None],
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        reconnect_max_delay_s: float = RECONNECT_MAX_DELAY_S,
    ) -> None:
        self.url = url
        self._baudrate = baudrate
        self._on_data = on_data
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._backoff = Backoff(RECONNECT_BASE_DELAY_S, reconnect_max_delay_s)
        self.connected = threading.Event()
        self.connections = 0

    def run(self, stop: threading.Event) -> None:
        """Read until `stop` is set, reconnecting with back-off; log each outage once."""
        trouble = _Trouble()
        while not stop.is_set():
            try:
                port = serial.serial_for_url(
                    self.url,
                    baudrate=self._baudrate,
                    timeout=SERIAL_READ_TIMEOUT_S,
                    exclusive=True,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                if trouble.report("unavailable"):
                    logger.warning(
                        "lecteur %s indisponible (%s) ; nouvel essai automatique", self.url, exc
                    )
                else:
                    logger.debug("lecteur %s toujours indisponible : %s", self.url, exc)
                stop.wait(self._backoff.next_delay_s())
                continue
            outage_s = trouble.clear()
            if outage_s is None:
                logger.info("lecteur %s ouvert (%d bauds)", self.url, self._baudrate)
            else:
                logger.info("lecteur %s reconnecté après %.0f s", self.url, outage_s)
            self.connections += 1
            opened_s = time.monotonic()
            try:
                self.connected.set()
                if self._on_connect is not None:
                    self._on_connect()
                self._pump(port, stop)
            except (serial.SerialException, OSError) as exc:
                logger.warning(
                    "lecteur %s déconnecté (%s) ; reconnexion automatique", self.url, exc
                )
                trouble.report("unavailable")
            except Exception:
                # Reading must go on whatever happens downstream; reopen the port.
                logger.exception("erreur inattendue sur le lecteur %s ; réouverture", self.url)
            finally:
                self.connected.clear()
                _close_quietly(port)
                if self._on_disconnect is not None:
                    self._on_disconnect()
            if time.monotonic() - opened_s >= STABLE_CONNECTION_S:
                self._backoff.reset()
            if not stop.is_set():
                # Even a port that opens fine may fail at once again: never spin.
                stop.wait(self._backoff.next_delay_s())

    def _pump(self, port: serial.SerialBase, stop: threading.Event) -> None:
        while not stop.is_set():
            data = port.read(port.in_waiting or 1)
            if data:
                self._on_data(data)


def _close_quietly(port: serial.SerialBase) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError) as exc:
        logger.debug("fermeture du port : %s", exc)


@dataclass
class AgentCounters:
    """What the agent did since it started (each field written by one thread only)."""

    captured: int = 0  # committed to the spool
    lost: int = 0  # could not be committed (disk full, spool damaged)
    delivered: int = 0  # answered 2xx, duplicates included
    duplicates: int = 0  # answered 200 duplicate: applied by an earlier attempt
    rejected: int = 0  # answered 400, 409 or 422: removed for good
    retries: int = 0  # attempts that failed and will be repeated
    unauthorized: int = 0  # attempts answered 401 or 403


class Agent:
    """Capture codes from one serial reader into the spool and deliver them in order."""

    def __init__(
        self,
        *,
        port_url: str,
        spool_path: Path | str,
        client: ScanClient,
        protocol: ProtocolName = "lines",
        name: str,
        station: str | None = None,
        baudrate: int = 9600,
        retry_max_delay_s: float = RETRY_MAX_DELAY_S,
    ) -> None:
        self.counters = AgentCounters()
        self.spool = Spool(spool_path)
        self._client = client
        self._framer: Framer = make_framer(protocol)
        # RDM6300 readers repeat the frame while a badge is held; scanners do not.
        self._repeats = RepeatFilter() if protocol == "rdm6300" else None
        self._name = name
        self._station = station
        self._retry_max_delay_s = retry_max_delay_s
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self.reader = SerialReader(
            port_url, baudrate=baudrate, on_data=self.capture, on_disconnect=self._framer.reset
        )
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the reader and sender threads."""
        self._threads = [
            threading.Thread(
                target=self.reader.run, args=(self._stop,), name="reader", daemon=True
            ),
            threading.Thread(target=self._send_loop, name="sender", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def capture(self, data: bytes) -> None:
        """Frame a chunk of serial bytes and commit every new code to the spool."""
        for code in self._framer.feed(data):
            if self._repeats is not None and not self._repeats.accept(code):
                continue
            scan = new_scan(code, self._framer.source, name=self._name, station=self._station)
            try:
                self.spool.add(scan)
            except sqlite3.Error as exc:
                self.counters.lost += 1
                logger.error("scan perdu : écriture impossible dans le spool (%s)", exc)
                continue
            self.counters.captured += 1
            logger.debug("scan capturé %s : %s", scan.event_id, code)
            self._wakeup.set()

    def _send_loop(self) -> None:
        backoff = Backoff(RETRY_BASE_DELAY_S, self._retry_max_delay_s)
        trouble = _Trouble()
        while not self._stop.is_set():
            try:
                self._wakeup.clear()
                entry = self.spool.head()
                if entry is None:
                    self._wakeup.wait(IDLE_POLL_S)
                    continue
                outcome = self._client.post(entry.scan)
                if self._settle(entry, outcome, trouble):
                    backoff.reset()
                    continue
            except Exception:
                # The sender must outlive any surprise; the scan stays spooled.
                logger.exception("erreur inattendue de l'envoi ; nouvel essai")
            self._stop.wait(backoff.next_delay_s())

    def _settle(self, entry: SpoolEntry, outcome: Outcome, trouble: _Trouble) -> bool:
        """Act on an answer; return True when the scan got a final answer."""
        scan = entry.scan
        if outcome.verdict in (Verdict.RETRY, Verdict.UNAUTHORIZED):
            self.counters.retries += 1
            self.spool.record_failure(scan.event_id, outcome.detail)
            if outcome.verdict is Verdict.UNAUTHORIZED:
                self.counters.unauthorized += 1
                if trouble.report("unauthorized"):
                    logger.error(
                        "JETON REFUSÉ par %s (HTTP %s : %s) : corrigez ATELIER_TOKEN ; "
                        "les scans restent dans le spool (%d en attente)",
                        self._client.url,
                        outcome.status,
                        outcome.detail,
                        self.spool.count(),
                    )
            elif trouble.report("unreachable"):
                logger.warning(
                    "serveur %s indisponible (%s) ; les scans restent dans le spool "
                    "(%d en attente) et partiront dans l'ordre",
                    self._client.url,
                    outcome.detail,
                    self.spool.count(),
                )
            return False
        outage_s = trouble.clear()
        if outage_s is not None:
            logger.info(
                "serveur joignable à nouveau après %.0f s ; %d scans en attente",
                outage_s,
                self.spool.count(),
            )
        self.spool.remove(scan.event_id)
        if outcome.verdict is Verdict.REJECTED:
            self.counters.rejected += 1
            level = logging.INFO if outcome.status == 422 else logging.WARNING
            logger.log(
                level,
                "scan %s refusé par le serveur (HTTP %s) : %s",
                scan.event_id,
                outcome.status,
                outcome.detail,
            )
        else:
            self.counters.delivered += 1
            if outcome.verdict is Verdict.DUPLICATE:
                self.counters.duplicates += 1
            logger.debug("scan %s livré : %s", scan.event_id, outcome.detail)
        return True

    def stats(self) -> dict[str, int]:
        """Return every counter of the agent, the framer and the spool."""
        stats = asdict(self.counters)
        stats.update(self._framer.counters())
        if self._repeats is not None:
            stats.update(self._repeats.counters())
        stats["pending"] = self.spool.count()
        return stats

    def log_stats(self) -> None:
        """Log every counter on one line."""
        logger.info(
            "compteurs : %s", " ".join(f"{key}={value}" for key, value in self.stats().items())
        )

    def stop(self) -> None:
        """Ask both threads to stop; an HTTP request in flight is finished first."""
        self._stop.set()
        self._wakeup.set()

    def shutdown(self) -> None:
        """Stop the threads, wait for them, then close the spool and the HTTP session."""
        self.stop()
        for thread in self._threads:
            thread.join(SHUTDOWN_JOIN_S)
            if thread.is_alive():
                logger.warning("le fil %s ne s'arrête pas ; abandon", thread.name)
                return
        self.spool.close()
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()


def default_spool_path(port_url: str) -> Path:
    """Return the spool used when none is given: one file per port, in the state dir."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", port_url).strip("-") or "lecteur"
    return Path(state_home) / "atelier-agent" / f"{slug}.db"


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser (help in French, for the IT person)."""
    parser = argparse.ArgumentParser(
        prog="python -m devices.agent",
        description="Agent de lecteur série Atelier : lit un lecteur de badges ou de "
        "codes-barres et envoie chaque lecture au serveur, sans en perdre aucune.",
    )
    parser.add_argument(
        "--port",
        required=True,
        metavar="URL",
        help="port série : /dev/ttyUSB0, /dev/serial/by-id/..., hwgrep://VID:PID, loop://",
    )
    parser.add_argument("--server", metavar="URL", help="adresse du serveur Atelier")
    parser.add_argument(
        "--token",
        metavar="JETON",
        help="jeton de l'appareil ; préférez la variable ATELIER_TOKEN, invisible dans ps",
    )
    parser.add_argument(
        "--protocol",
        choices=("lines", "rdm6300"),
        default="lines",
        help="lines : douchette code-barres (une ligne par code) ; rdm6300 : lecteur RFID",
    )
    parser.add_argument("--spool", metavar="FICHIER", type=Path, help="fichier du spool local")
    parser.add_argument(
        "--station", metavar="CODE", help="code du poste, si le jeton n'est pas lié à un poste"
    )
    parser.add_argument("--baudrate", type=int, default=9600, help="vitesse (défaut 9600)")
    parser.add_argument(
        "--name",
        default=socket.gethostname(),
        help="nom de l'agent, préfixe des identifiants d'événement (défaut : nom de la machine)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="mode essai : affiche les octets reçus et les codes lus, n'envoie rien",
    )
    parser.add_argument(
        "--retry-max-s",
        type=float,
        default=RETRY_MAX_DELAY_S,
        metavar="S",
        help="attente maximale entre deux essais d'envoi (défaut %(default)s s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="journal détaillé")
    return parser


class _StopRequest:
    """Turn SIGTERM/SIGINT into a flag; a second signal forces the exit."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag here: taking a lock (logging, Event.set) inside a handler can
        # deadlock the main thread that the signal interrupted.
        if self.requested:
            os.write(2, "arrêt forcé : le spool garde les scans non envoyés\n".encode())
            os._exit(1)
        self.requested = True

    def wait(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.requested and time.monotonic() < deadline:
            time.sleep(SIGNAL_POLL_S)
        return self.requested


def run_agent(args: argparse.Namespace, token: str) -> int:
    """Run the agent until SIGTERM or SIGINT; return the exit status."""
    spool_path: Path = args.spool or default_spool_path(args.port)
    client = ScanClient(args.server, token)
    try:
        agent = Agent(
            port_url=args.port,
            spool_path=spool_path,
            client=client,
            protocol=args.protocol,
            name=args.name,
            station=args.station or None,
            baudrate=args.baudrate,
            retry_max_delay_s=args.retry_max_s,
        )
    except SpoolLockedError as exc:
        client.close()
        print(f"erreur : {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        client.close()
        print(f"erreur : impossible d'ouvrir le spool {spool_path} : {exc}", file=sys.stderr)
        return 1
    stop = _StopRequest()
    stop.install()
    logger.info(
        "agent %s démarré : lecteur %s (%s), serveur %s, spool %s (%d scans en attente)",
        args.name,
        args.port,
        args.protocol,
        client.url,
        spool_path,
        agent.spool.count(),
    )
    agent.start()
    while not stop.wait(STATS_INTERVAL_S):
        agent.log_stats()
    logger.info("arrêt demandé : fin de l'envoi en cours")
    agent.stop()
    agent.log_stats()
    agent.shutdown()
    logger.info("agent arrêté")
    return 0


def _printable(data: bytes) -> str:
    return "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in data)


def run_check(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Show raw bytes, decoded codes and drop counters of a reader; send nothing."""
    framer = make_framer(args.protocol)
    repeats = RepeatFilter() if args.protocol == "rdm6300" else None
    shown_counters: dict[str, int] = {}

    def counters() -> dict[str, int]:
        values = framer.counters()
        if repeats is not None:
            values.update(repeats.counters())
        return values

    def on_connect() -> None:
        print(
            f"Lecteur ouvert : {args.port} à {args.baudrate} bauds, protocole "
            f"{args.protocol}. Présentez un badge ou scannez un code (Ctrl-C pour arrêter).",
            file=out,
            flush=True,
        )

    def on_data(data: bytes) -> None:
        moment = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        print(
            f"{moment} reçu {len(data)} octet(s) : {data.hex(' ')}  |{_printable(data)}|",
            file=out,
        )
        for code in framer.feed(data):
            if repeats is not None and not repeats.accept(code):
                print(f"  code lu : {code} (répétition du même badge, ignorée)", file=out)
            else:
                print(f"  code lu : {code}", file=out)
        current = counters()
        if current != shown_counters:
            shown_counters.update(current)
            print(f"  rejets : {_counters_fr(current)}", file=out)
        out.flush()

    print(
        f"Mode essai : rien n'est envoyé au serveur. Ouverture de {args.port}…",
        file=out,
        flush=True,
    )
    reader = SerialReader(
        args.port,
        baudrate=args.baudrate,
        on_data=on_data,
        on_connect=on_connect,
        on_disconnect=framer.reset,
    )
    stop_request = _StopRequest()
    stop_request.install()
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop,), name="reader", daemon=True)
    thread.start()
    while not stop_request.wait(3600.0):
        pass
    stop.set()
    thread.join(SHUTDOWN_JOIN_S)
    print(f"Fin de l'essai. Rejets : {_counters_fr(counters())}", file=out, flush=True)
    return 0


def _counters_fr(values: dict[str, int]) -> str:
    return ", ".join(f"{COUNTER_LABELS_FR.get(key, key)} {value}" for key, value in values.items())


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the agent or the check mode."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    if args.baudrate <= 0:
        parser.error("--baudrate doit être un entier positif")
    if args.check:
        return run_check(args)
    token = args.token or os.environ.get("ATELIER_TOKEN")
    if not token:
        parser.error(
            "jeton manquant : passez --token JETON ou définissez la variable "
            "d'environnement ATELIER_TOKEN"
        )
    if not args.server:
        parser.error("--server URL est obligatoire (sauf en mode --check)")
    if not re.match(r"https?://", args.server):
        parser.error(f"--server doit commencer par http:// ou https:// (reçu : {args.server})")
    if args.retry_max_s <= 0:
        parser.error("--retry-max-s doit être positif")
    return run_agent(args, token)


if __name__ == "__main__":
    sys.exit(main())
