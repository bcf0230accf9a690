"""Loopback ports for the demo's servers: keep the usual one when free, else take another."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable

import requests

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Tell whether a server could listen on host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # gunicorn and amqtt set SO_REUSEADDR too: a port left in TIME_WAIT by the previous
        # demo is free for them, while one with a listener on it is still refused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in {errno.EADDRINUSE, errno.EACCES}:
                return False
            raise
        return True


def free_port(host: str = LOOPBACK) -> int:
    """Return a port the system says nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(preferred: int, host: str = LOOPBACK) -> int:
    """Return the preferred port when it is free, otherwise a free one."""
    if port_is_free(preferred, host):
        return preferred
    return free_port(host)


def wait_for_port(
    port: int, timeout_s: float, alive: Callable[[], bool], host: str = LOOPBACK
) -> bool:
    """Wait until something accepts TCP connections on the port, while `alive()` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_for_http(url: str, timeout_s: float, alive: Callable[[], bool]) -> bool:
    """Wait until GET url answers 200, while `alive()` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if requests.get(url, timeout=1.0).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False
