"""The README's walk-through, run verbatim against a real claimd serve: the docs must match the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    match = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```\s*<!-- /walkthrough -->", text, re.S)
    assert match, "README.md lost its walk-through block"
    return match.group(1)


def test_readme_starts_with_the_two_commands():
    first_lines = [line for line in README.read_text().splitlines() if line.strip()][:4]
    assert first_lines[1] == "```sh"
    assert "claimd serve" in first_lines[2] and "pip install" in first_lines[2]
    assert "pytest" in first_lines[3] and ".[test]" in first_lines[3]
    ci = (README.parent / ".ci" / "run").read_text()
    assert first_lines[3] in ci, ".ci/run must run the README's test command"


def test_readme_walkthrough_runs_as_written(live_server):
    if shutil.which("jq") is None or shutil.which("curl") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the walk-through needs curl and jq")
        pytest.skip("the walk-through needs curl and jq")
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", walkthrough()],
                            env={**os.environ, "BASE": live_server.base_url},
                            capture_output=True, text=True, timeout=60)
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
