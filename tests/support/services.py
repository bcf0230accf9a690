"""Decide what a test does when a real service it needs is missing."""

from __future__ import annotations

import os
import shutil
import socket
import time

import pytest


def in_ci() -> bool:
    """Tell whether the suite runs in CI, where every real service is required."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(available: bool, what: str, install: str) -> None:
    """Skip the test with an install hint, or fail it in CI, when a service is missing."""
    if available:
        return
    message = f"{what} is not available: {install}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: real services are required)")
    pytest.skip(message)


def require_binary(name: str, install: str) -> str:
    """Return the path of an executable, or skip/fail the test when it is missing."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    require(path is not None, f"the '{name}' program", install)
    assert path is not None
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 10.0, host: str = "127.0.0.1") -> bool:
    """Wait until something accepts TCP connections on the port; tell whether it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
