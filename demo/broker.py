"""The demo's MQTT broker: the shipped Mosquitto configuration, moved into instance/.

With the `mosquitto` program installed, the demo runs it with `deploy/mosquitto/
atelier.conf` as a school would, changed only where it names a place: the listener
(loopback, a free port), the persistence directory, the password file and the ACL file
(under instance/). Passwords are random, one per user (the ingest worker and each
welding station), made into Mosquitto's password file by `mosquitto_passwd -b`; the ACL
comes from `flask --app app mqtt acl`. Without Mosquitto, the demo runs amqtt
(demo/amqtt_broker.py): MQTT 3.1.1 only, anonymous on the loopback, in memory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from demo.files import write_private

INGEST_USER = "atelier-ingest"
# Debian and Ubuntu put the broker in /usr/sbin, which a normal user's PATH often lacks.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")

_MOSQUITTO_HEADER = """\
# Written by `make demo` at each start from deploy/mosquitto/atelier.conf: the same
# settings, moved into instance/ (listener, persistence, password and ACL files).
"""
_AMQTT_HEADER = """\
# Embedded MQTT broker of `make demo` (amqtt, MQTT 3.1.1), rewritten at each start.
# Used only where Mosquitto is not installed. Listens on the loopback interface only:
# anonymous clients are accepted because nothing outside this machine can connect.
"""


def find_program(name: str, path: str | None = None) -> str | None:
    """Return where a program is: on PATH, or in the sbin directories."""
    search = os.pathsep.join([path if path is not None else os.environ.get("PATH", ""), *SBIN_DIRS])
    return shutil.which(name, path=search)


def mosquitto_config(
    shipped: str,
    *,
    port: int,
    persistence_dir: Path,
    password_file: Path,
    acl_file: Path,
    as_root: bool = False,
) -> str:
    """Return the shipped configuration with its places replaced by the demo's."""
    lines = [_MOSQUITTO_HEADER.rstrip("\n")]
    for raw in shipped.splitlines():
        words = raw.split()
        directive = words[0] if words and not raw.lstrip().startswith("#") else ""
        if directive in {"listener", "port"}:
            lines.append(f"listener {port} 127.0.0.1")
        elif directive == "persistence_location":
            lines.append(f"persistence_location {persistence_dir}/")
        elif directive == "password_file":
            lines.append(f"password_file {password_file}")
        elif directive == "acl_file":
            lines.append(f"acl_file {acl_file}")
        elif directive in {"log_dest", "pid_file", "user"}:
            continue
        else:
            lines.append(raw)
    # The log goes to the demo's log file, through the process runner.
    lines.append("log_dest stdout")
    if as_root:
        # Started as root, Mosquitto switches to the `mosquitto` user, who cannot read
        # instance/ (mode 0700): the demo's broker stays the user who ran `make demo`.
        lines.append("user root")
    return "\n".join(lines) + "\n"


def acl_users(acl: str) -> list[str]:
    """Return the users an ACL names, in order (`user NAME` lines)."""
    return [line.split(None, 1)[1].strip() for line in acl.splitlines() if line.startswith("user ")]


def write_password_file(tool: str, path: Path, passwords: Mapping[str, str]) -> None:
    """Write Mosquitto's password file for these users with `mosquitto_passwd -b`."""
    tmp = path.with_name(f".{path.name}.new")
    tmp.unlink(missing_ok=True)
    write_private(tmp, "")
    for user, password in passwords.items():
        # The password is on mosquitto_passwd's command line for an instant: the demo
        # runs on the loopback of one machine, and the file is the demo's own.
        subprocess.run(  # noqa: S603  (our own arguments)
            [tool, "-b", str(tmp), user, password], check=True, capture_output=True
        )
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def amqtt_config(port: int) -> dict[str, object]:
    """Return amqtt's configuration: one TCP listener on the loopback, anonymous access."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        # Only the authentication plugin: the default event and packet loggers and the
        # $SYS publisher would fill the log without telling the demo anything.
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


def write_amqtt_config(path: Path, port: int) -> Path:
    """Write amqtt's YAML configuration and return its path."""
    write_private(path, _AMQTT_HEADER + yaml.safe_dump(amqtt_config(port), sort_keys=False))
    return path


def broker_command(kind: str, *, mosquitto: str | None, config: Path, python: str) -> Sequence[str]:
    """Return the command that runs the broker in the foreground."""
    if kind == "mosquitto":
        assert mosquitto is not None
        return [mosquitto, "-c", str(config)]
    return [python, "-m", "demo.amqtt_broker", str(config)]
