"""Child processes of the demo, each in its own process group, stopped without leftovers.

Every child leads a new process group, so the terminal's Ctrl-C reaches the orchestrator
alone (which then stops the children in a useful order) and a stop signal sent to the group
also reaches what the child forked (gunicorn's workers). On Linux each child also asks the
kernel to send it SIGTERM if the orchestrator dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
POLL_S = 0.05


@dataclass(frozen=True)
class StopOutcome:
    """How a child ended when it was asked to stop."""

    child: Child
    returncode: int
    forced: bool


@dataclass
class Child:
    """One program the demo runs: what to start, where its output goes, its process."""

    name: str
    label: str
    command: list[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def pid(self) -> int:
        """Return the child's pid, which is also its process group id."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.pid

    def start(self) -> None:
        """Start the program in a new process group, its output appended to its log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n=== {stamp} starting {self.name}: {' '.join(self.command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
                self.command,
                cwd=self.cwd,
                env=dict(self.env) if self.env else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                # The orchestrator runs no thread of its own, which is what makes
                # preexec_fn safe here.
                preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,  # noqa: PLW1509
            )
        self.started_at = time.monotonic()
        logger.info("started %s (pid %d): %s", self.name, self.process.pid, self.command)

    def has_exited(self) -> bool:
        """Tell whether the child's main process has ended (without reaping it)."""
        if self.process is None:
            return True
        if self.process.returncode is not None:
            return True
        if sys.platform == "linux":
            # WNOWAIT leaves the zombie in place: its pid, and so its process group id,
            # cannot be reused before `finish` has killed what is left of the group.
            try:
                found = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return self.process.poll() is not None
            return found is not None
        return self.process.poll() is not None

    def signal_group(self, signum: int) -> None:
        """Send a signal to every process of the child's group."""
        if self.process is None:
            return
        # Nobody left in the group raises ProcessLookupError (or, on macOS with a zombie
        # leader, PermissionError): there is nothing to stop then.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def finish(self) -> int:
        """Kill whatever is left of an exited child's group, reap it, return its exit code."""
        if self.process is None:
            return 0
        self.signal_group(signal.SIGKILL)
        returncode = self.process.wait()
        logger.info("%s (pid %d) ended with code %d", self.name, self.process.pid, returncode)
        return returncode

    def log_tail(self, lines: int = 12) -> list[str]:
        """Return the last lines of the child's log."""
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int = 12) -> list[str]:
    """Return the last lines of a log file (none if it cannot be read)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


@dataclass(frozen=True)
class CommandResult:
    """The end of a command run to completion: exit code and standard output."""

    returncode: int
    stdout: str
    interrupted: bool = False


def run_to_end(
    command: list[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
    hurry: Callable[[], bool] = lambda: False,
    timeout_s: float = 120.0,
    secret_output: bool = False,
) -> CommandResult:
    """Run a short command in its own process group; stderr to the log, stdout returned."""
    # Its own group keeps the terminal's Ctrl-C away from a migration half done: the
    # orchestrator lets it finish unless asked twice (`hurry`).
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n=== {datetime.now(UTC).isoformat(timespec='seconds')} ".encode())
        log.write(f"running: {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            process_group=0,
            # No thread runs in the orchestrator, so preexec_fn is safe here.
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        deadline = time.monotonic() + timeout_s
        interrupted = False
        while True:
            try:
                out, _ = process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if hurry() or time.monotonic() > deadline:
                    interrupted = True
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
        text = out.decode("utf-8", errors="replace")
        log.write(b"(standard output withheld: it holds a secret)\n" if secret_output else out)
    logger.info("%s ended with code %d", command, process.returncode)
    return CommandResult(process.returncode, text, interrupted)


def stop_children(
    children: Sequence[Child],
    timeout_s: float,
    *,
    hurry: Callable[[], bool] = lambda: False,
) -> list[StopOutcome]:
    """SIGTERM each child's group, wait up to timeout_s, SIGKILL stragglers, reap all."""
    running = [c for c in children if c.process is not None]
    for child in running:
        if not child.has_exited():
            logger.info("sending SIGTERM to %s (group %d)", child.name, child.pid)
            child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not hurry():
        if all(c.has_exited() for c in running):
            break
        time.sleep(POLL_S)
    outcomes = []
    for child in running:
        forced = not child.has_exited()
        if forced:
            logger.warning("%s did not stop in %.0f s: SIGKILL", child.name, timeout_s)
        outcomes.append(StopOutcome(child, child.finish(), forced))
    return outcomes


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Return a pre-exec hook that makes the child get SIGTERM when the orchestrator dies."""
    libc = ctypes.CDLL(None, use_errno=True)

    def prepare() -> None:
        """Ask for SIGTERM on the parent's death; give up at once if it already died."""
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return prepare
