"""The embedded MQTT broker of the demo: amqtt, configured from a YAML file in instance/.

amqtt speaks MQTT 3.1.1 only, keeps everything in memory and forgets the session of an
anonymous client when it disconnects: it is a zero-install broker for trying Atelier, not
one that promises no message is ever lost. Production runs Mosquitto (deploy/).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from app.demo_support.credentials import write_private

CONFIG_FILE = "amqtt.yaml"
DEFAULT_MQTT_PORT = 1883

_HEADER = """\
# Embedded MQTT broker of `make demo` (amqtt, MQTT 3.1.1), rewritten at each start.
# Listens on the loopback interface only: anonymous clients are accepted because nothing
# outside this machine can connect. Not for production: use Mosquitto (see deploy/).
"""


def amqtt_available() -> bool:
    """Tell whether the amqtt package (the `demo` extra) is installed."""
    return importlib.util.find_spec("amqtt") is not None


def amqtt_config(port: int, host: str = "127.0.0.1") -> dict[str, object]:
    """Return the broker configuration: one TCP listener on host:port, anonymous access."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # Only the authentication plugin: the default event and packet loggers and the
        # $SYS publisher would fill the log without telling the demo anything.
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


def write_amqtt_config(instance: Path, port: int, host: str = "127.0.0.1") -> Path:
    """Write the broker's YAML configuration into instance/ and return its path."""
    path = instance / CONFIG_FILE
    body = yaml.safe_dump(amqtt_config(port, host), sort_keys=False)
    write_private(path, _HEADER + body)
    return path


def broker_args(config_path: Path) -> list[str]:
    """Return the interpreter arguments that run amqtt's broker on a configuration file."""
    return ["-m", "amqtt.scripts.broker_script", "-c", str(config_path)]


def mask_url(url: str) -> str:
    """Return a URL with its password replaced by ***, fit for a console or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def broker_address(url: str) -> tuple[str, int]:
    """Return (host, port) of an mqtt:// or mqtts:// URL, with the protocol's default port."""
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        raise ValueError(url)
    return parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else DEFAULT_MQTT_PORT)
