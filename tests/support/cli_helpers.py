"""The ``claimd`` command as a user runs it: its own process, with only the environment a test gives it
(and a HOME of the test's own, so no user's config file is read), and optionally its stderr on a
pseudo-terminal, where the progress bars are drawn."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_MAIN = "from claimd.entrypoints.cli import main; main()"


def run_claimd(
    home: Path, env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``claimd ARGS`` in ``home`` (its HOME and working directory), ``stdin`` as its input."""
    return subprocess.run(
        [sys.executable, "-c", _MAIN, *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env},
        cwd=home,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_claimd_on_a_terminal(
    home: Path, env: dict[str, str], *args: str, timeout: float = 240
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``claimd ARGS`` with stderr on a pseudo-terminal, as on a production line's console: the finished
    process (its stdout) and what it drew there, read as it is drawn (a long progress bar never fills
    the terminal's buffer)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", _MAIN, *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env},
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    drawn: list[bytes] = []

    def read() -> None:
        try:
            while chunk := os.read(leader, 65536):
                drawn.append(chunk)
        except OSError:  # EIO once the process has closed the terminal
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        reader.join(10)
        os.close(leader)
    ran = subprocess.CompletedProcess(process.args, process.returncode, out, "")
    return ran, b"".join(drawn).decode(errors="replace")


def admin_env(world: Any, live_server: Any) -> dict[str, str]:
    """The environment of a tenant admin's remote commands against ``world``'s server."""
    return {
        "CLAIMD_URL": world.base_url,
        "CLAIMD_USERNAME": live_server.admin_email,
        "CLAIMD_PASSWORD": live_server.admin_password,
    }
