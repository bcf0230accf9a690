"""Run a real Mosquitto broker for a test, on a free port, with its own persistence."""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.services import free_port, require_binary, wait_for_port

logger = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install mosquitto"
STOP_TIMEOUT_S = 10.0
START_TIMEOUT_S = 10.0

# What a broker that cannot save its state writes (mqtt-measured.md point 4); a test that
# relies on persistence must fail loudly instead of silently losing the session.
LOG_ERROR_PATTERNS = (
    "Error saving",
    "Permission denied",
    "Error opening",
    "Unable to open",
    "Error: ",
)

DEFAULT_CONFIG = """\
# Test broker: see tests/support/mosquitto.py
listener ${port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location ${persistence_dir}/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
"""

# Directives whose value is a path or a port of the machine the config was written for;
# they are replaced so that a shipped config runs unchanged inside a test's directory.
_REWRITTEN = {"listener", "port", "persistence_location", "password_file", "acl_file"}
_DROPPED = {"log_dest", "pid_file", "persistence_file"}


class MosquittoBroker:
    """A Mosquitto process owned by a test: start, stop, kill, restart on the same port.

    `config` is a mosquitto.conf text. It may use the placeholders `${port}`,
    `${persistence_dir}`, `${password_file}` and `${acl_file}`; independently, the
    directives `listener`/`port`, `persistence_location`, `password_file` and `acl_file` of a
    shipped configuration are rewritten to this broker's port and files, and its
    `log_dest`/`pid_file` are replaced by a log on the process's stdout. With no config,
    DEFAULT_CONFIG is used (persistence on, autosave every second, unlimited queues).
    """

    def __init__(
        self,
        config: str | None = None,
        *,
        workdir: Path | None = None,
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        acl_text: str | None = None,
        allow_anonymous: bool | None = None,
    ) -> None:
        self._binary = require_binary("mosquitto", INSTALL_HINT)
        template = DEFAULT_CONFIG if config is None else config
        if users is None and _mentions(template, "password_file"):
            raise ValueError("the configuration names a password_file: pass users={...}")
        if acl_text is None and _mentions(template, "acl_file"):
            raise ValueError("the configuration names an acl_file: pass acl_text=...")
        self._owns_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="atelier-mosquitto-")) if workdir is None else workdir
        )
        self.port = port if port is not None else free_port()
        self.persistence_dir = self.workdir / "persistence"
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.password_file: Path | None = None
        self.acl_file: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # A test that forgets close() must leave neither a broker nor a directory behind.
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._finalizer = weakref.finalize(
            self, _cleanup, self._running, self.workdir if self._owns_workdir else None
        )
        try:
            self._prepare(template, users, acl_text, allow_anonymous)
        except BaseException:
            self._finalizer()
            raise

    def _prepare(
        self,
        template: str,
        users: Mapping[str, str] | None,
        acl_text: str | None,
        allow_anonymous: bool | None,
    ) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.persistence_dir.mkdir(exist_ok=True)
        if users is not None:
            self.password_file = self.workdir / "passwd"
            self._write_password_file(users)
        if acl_text is not None:
            self.acl_file = self.workdir / "acl"
            self.acl_file.write_text(acl_text, encoding="utf-8")
        # As root, Mosquitto drops to its `user` (mosquitto by default) and then cannot
        # write a root-owned persistence directory (mqtt-measured.md point 4).
        chown_to: tuple[int, int] | None = None
        stay_root = False
        if os.geteuid() == 0:
            chown_to = self._broker_user_ids(template)
            stay_root = chown_to is None
        text = self._render(template, allow_anonymous, stay_root=stay_root)
        self.config_path.write_text(text, encoding="utf-8")
        if chown_to is not None:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, *chown_to)

    @property
    def host(self) -> str:
        """Return the address the broker listens on."""
        return "127.0.0.1"

    @property
    def url(self) -> str:
        """Return the broker's URL in the form ATELIER_MQTT_URL uses."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Tell whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def config_text(self) -> str:
        """Return the configuration the broker runs with."""
        return self.config_path.read_text(encoding="utf-8")

    def start(self) -> MosquittoBroker:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            raise RuntimeError("the broker is already running")
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self.config_path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if not wait_for_port(self.port, START_TIMEOUT_S) or not self.running:
            self.kill()
            raise RuntimeError(
                f"mosquitto did not start on port {self.port}:\n{self.log_text()}\n"
                f"config:\n{self.config_text()}"
            )
        self._running["process"] = self._process
        logger.info("mosquitto started on port %d (pid %d)", self.port, self._process.pid)
        return self

    def stop(self) -> None:
        """Stop the broker with SIGTERM (it saves its persistence file) and wait for it."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the broker with SIGKILL: what arrived since the last autosave is lost."""
        self._end(signal.SIGKILL)

    def restart(self, *, kill: bool = False) -> None:
        """Stop (or kill) the broker and start it again on the same port and persistence."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.start()

    def log_text(self) -> str:
        """Return everything the broker has logged so far, across restarts."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_errors(self) -> list[str]:
        """Return the log lines that show the broker failed to read or save a file."""
        return [
            line
            for line in self.log_text().splitlines()
            if any(pattern in line for pattern in LOG_ERROR_PATTERNS)
        ]

    def assert_log_clean(self) -> None:
        """Fail the test if the broker logged a persistence or file permission error."""
        errors = self.log_errors()
        assert not errors, "mosquitto logged errors:\n" + "\n".join(errors)

    def close(self) -> None:
        """Stop the broker and remove the directory this object created."""
        if self._process is not None:
            self.stop()
        self._finalizer()

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _end(self, sig: signal.Signals) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        self._running.pop("process", None)
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                logger.warning("mosquitto ignored %s; killing it", sig.name)
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        # The listening socket is closed by then, but a client might still be reconnecting:
        # a short pause keeps "broker down" observable for tests that need it.
        time.sleep(0.05)
        logger.info("mosquitto on port %d ended by %s", self.port, sig.name)

    def _write_password_file(self, users: Mapping[str, str]) -> None:
        assert self.password_file is not None
        tool = require_binary("mosquitto_passwd", INSTALL_HINT)
        self.password_file.unlink(missing_ok=True)
        self.password_file.touch()
        for username, password in users.items():
            subprocess.run(
                [tool, "-b", str(self.password_file), username, password],
                check=True,
                capture_output=True,
            )

    def _render(self, template: str, allow_anonymous: bool | None, *, stay_root: bool) -> str:
        substituted = Template(template).safe_substitute(
            port=str(self.port),
            persistence_dir=str(self.persistence_dir),
            password_file=str(self.password_file or ""),
            acl_file=str(self.acl_file or ""),
        )
        lines: list[str] = []
        seen_listener = False
        for raw in substituted.splitlines():
            words = raw.split()
            directive = words[0] if words and not words[0].startswith("#") else ""
            if directive in _DROPPED:
                continue
            if directive == "allow_anonymous" and allow_anonymous is not None:
                continue
            if directive in _REWRITTEN:
                if directive in {"listener", "port"}:
                    if seen_listener:
                        raise ValueError(f"tests run one listener; cannot rewrite {raw!r}")
                    seen_listener = True
                    lines.append(f"listener {self.port} 127.0.0.1")
                elif directive == "persistence_location":
                    lines.append(f"persistence_location {self.persistence_dir}/")
                elif directive == "password_file":
                    lines.append(f"password_file {self.password_file}")
                else:
                    lines.append(f"acl_file {self.acl_file}")
                continue
            lines.append(raw)
        if not seen_listener:
            lines.insert(0, f"listener {self.port} 127.0.0.1")
        if self.password_file is not None and not _mentions(substituted, "password_file"):
            lines.append(f"password_file {self.password_file}")
        if self.acl_file is not None and not _mentions(substituted, "acl_file"):
            lines.append(f"acl_file {self.acl_file}")
        if allow_anonymous is not None:
            lines.append(f"allow_anonymous {'true' if allow_anonymous else 'false'}")
        lines.append("log_dest stdout")
        if stay_root:
            lines = [line for line in lines if line.split()[:1] != ["user"]]
            lines.append("user root")
        return "\n".join(lines) + "\n"

    def _broker_user_ids(self, config: str) -> tuple[int, int] | None:
        """Return the uid/gid to give the workdir to, or None when the broker must stay root."""
        name = "mosquitto"
        for raw in config.splitlines():
            words = raw.split()
            if len(words) == 2 and words[0] == "user":
                name = words[1]
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        if entry.pw_uid == 0:
            return None
        # A chowned workdir is still unreachable under a private parent (pytest's tmp_path
        # lives in a 0700 directory), so check every ancestor lets the broker user through.
        for ancestor in self.workdir.resolve().parents:
            info = ancestor.stat()
            if info.st_uid != entry.pw_uid and not info.st_mode & stat.S_IXOTH:
                return None
        return entry.pw_uid, entry.pw_gid


def _cleanup(running: dict[str, subprocess.Popen[bytes]], workdir: Path | None) -> None:
    process = running.pop("process", None)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def _mentions(config: str, directive: str) -> bool:
    return re.search(rf"(?m)^\s*{re.escape(directive)}\s", config) is not None


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as a test subscriber saw it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> Any:
        """Return the payload decoded as JSON."""
        return json.loads(self.payload)


class MqttRecorder:
    """A real paho subscriber that records every message it receives, for assertions.

    With `persistent=True` it uses a fixed client id and `clean_session=False`, so the
    broker queues QoS 1 messages for it while it (or the broker) is down.
    """

    def __init__(
        self,
        url: str,
        topics: Sequence[str],
        *,
        client_id: str = "",
        persistent: bool = False,
        qos: int = 1,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.topics = list(topics)
        self.qos = qos
        if persistent and not client_id:
            raise ValueError("a persistent session needs a fixed client id")
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not persistent,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._lock = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._subscribed = threading.Event()
        self.session_present: bool | None = None

    def connect(self, timeout_s: float = 10.0) -> MqttRecorder:
        """Connect, subscribe and wait for the broker to confirm the subscriptions."""
        self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.disconnect()
            raise TimeoutError(f"no SUBACK from {self.host}:{self.port} within {timeout_s} s")
        return self

    def disconnect(self) -> None:
        """Disconnect cleanly and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def messages(self, topic_suffix: str = "") -> list[ReceivedMessage]:
        """Return the messages received so far whose topic ends with the suffix."""
        with self._lock:
            return [m for m in self._messages if m.topic.endswith(topic_suffix)]

    def wait_for(
        self,
        predicate: Callable[[list[ReceivedMessage]], bool],
        timeout_s: float = 10.0,
    ) -> list[ReceivedMessage]:
        """Wait until the predicate holds on all messages received; return them."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not predicate(list(self._messages)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"condition not met after {timeout_s} s; "
                        f"{len(self._messages)} messages received"
                    )
                self._lock.wait(remaining)
            return list(self._messages)

    def wait_count(
        self, count: int, topic_suffix: str = "", timeout_s: float = 10.0
    ) -> list[ReceivedMessage]:
        """Wait until at least `count` messages with that topic suffix have arrived."""
        self.wait_for(
            lambda msgs: sum(m.topic.endswith(topic_suffix) for m in msgs) >= count, timeout_s
        )
        return self.messages(topic_suffix)

    def __enter__(self) -> MqttRecorder:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            logger.warning("test subscriber refused: %s", reason_code)
            return
        self.session_present = flags.session_present
        # Subscriptions are re-sent on every connection: a clean session forgets them.
        client.subscribe([(topic, self.qos) for topic in self.topics])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        if all(not code.is_failure for code in reason_codes):
            self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = ReceivedMessage(
            message.topic, bytes(message.payload), message.qos, message.retain
        )
        with self._lock:
            self._messages.append(received)
            self._lock.notify_all()
