"""The README's walk-through, run verbatim against a real claimd serve: the docs must match the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from servers import start_server

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    match = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```\s*<!-- /walkthrough -->", text, re.S)
    assert match, "README.md lost its walk-through block"
    return match.group(1)


def test_readme_starts_with_the_two_commands():
    shown = [line for line in README.read_text().splitlines() if line.strip() and not line.startswith("<!--")]
    first_lines = shown[:4]
    assert first_lines[1] == "```sh"
    assert "claimd serve" in first_lines[2] and "pip install" in first_lines[2]
    assert "pytest" in first_lines[3] and ".[test]" in first_lines[3]
    # .ci/run runs the README's test command: its install, then only the quality gates, then its tests
    install, tests = (part.strip() for part in first_lines[3].split("&&"))
    lines = [line.strip() for line in (README.parent / ".ci" / "run").read_text().splitlines()]
    assert install in lines and tests in lines, ".ci/run must run the README's test command"
    gates = lines[lines.index(install) + 1 : lines.index(tests)]
    assert gates and all(line.startswith(("python -m ruff ", "python -m mypy")) for line in gates), gates


def require_curl_and_jq() -> None:
    if shutil.which("jq") is None or shutil.which("curl") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the walk-through needs curl and jq")
        pytest.skip("the walk-through needs curl and jq")


def run_walkthrough(base_url: str) -> subprocess.CompletedProcess[str]:
    """The block as a reader runs it: ``bash walkthrough.sh``, with no options of ours."""
    return subprocess.run(
        ["bash", "-c", walkthrough()], env={**os.environ, "BASE": base_url}, capture_output=True, text=True, timeout=60
    )


def test_readme_walkthrough_stops_at_its_first_failure(tmp_path):
    """A server whose admin has another password: the login fails, and so does the block, at once."""
    require_curl_and_jq()
    server = start_server(tmp_path, extra_env={"CLAIMD_ADMIN_PASSWORD": "another-password"})
    try:
        result = run_walkthrough(server.base_url)
    finally:
        server.stop()
    assert result.returncode != 0, result.stdout
    assert result.stdout.strip() == "", "nothing after the failed login runs"


def test_readme_walkthrough_runs_as_written(live_server):
    require_curl_and_jq()
    result = run_walkthrough(live_server.base_url)
    assert result.returncode == 0, result.stderr + result.stdout
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    out = "\n".join(lines)
    # 3: the device, unassigned (ThingsBoard's null customer id)
    assert '"name": "Thermostat 0001"' in out and "13814000-1dd2-11b2-8080-808080808080" in out
    # 4, 5: window accepted, then SUCCESS with the device owned by Alice's customer
    assert lines.count("200") == 3, out  # steps 4, 7 and 8
    assert '"response": "SUCCESS"' in out
    owner = re.search(r'"owner": "([0-9a-f-]{36})"', out)
    assert owner and owner.group(1) != "13814000-1dd2-11b2-8080-808080808080"
    # 6: CLAIMED with 400; 8: SUCCESS again
    assert '"CLAIMED" 400' in lines
    assert lines[-1] == "SUCCESS"
