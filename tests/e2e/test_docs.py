"""Every shell and Python example of README.md and docs/*.md, run as written against a real claimd serve.

Each page runs as one bash script, its blocks in order, against a fresh server of its own (the pages
start from the state the README's walk-through starts from: an empty database whose tenant admin is
admin@example.com / admin-password). The script stops at the first command that fails and names the
block. A page gets ``BASE``, ``MQTT_PORT`` and ``COAP_PORT`` from the environment, as a reader sets
them for a server on other ports; the pages say so where they define them. A block that cannot run
is marked by an HTML comment right before it: ``<!-- not run: why -->``. The walk-through block is run
by test_readme.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import REAL_LOCKOUTS, start_server

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}
SHOWN = {"text", "csv", "json", "toml", "http", "console", "cddl", "ini", "dockerfile"}  # not programs: shown, never run
FENCE = re.compile(r"(?:<!--\s*(?P<mark>[^>]*?)\s*-->\s*\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```[ \t]*$",
                   re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    mark: str | None  # the HTML comment right before the block, if any

    @property
    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUN and self.mark is None


def blocks(page: Path, text: str | None = None) -> list[Block]:
    text = page.read_text() if text is None else text
    return [Block(page, text.count("\n", 0, m.start("lang")) + 1, m.group("lang"), m.group("code"), m.group("mark"))
            for m in FENCE.finditer(text)]


def page_script(page_blocks: list[Block]) -> str:
    """One bash script of a page's runnable blocks, in order; it stops at the first failing command.
    Variables are exported (``set -a``), so a Python block sees what the shell blocks before it set."""
    parts = ["set -euo pipefail -a"]
    for block in page_blocks:
        if not block.runs:
            continue
        parts.append(f"echo {shlex.quote('>>> ' + block.where)} >&2")
        if RUN[block.lang] == "sh":
            parts.append(block.code)
        else:
            parts.append(f"{shlex.quote(sys.executable)} - <<'CLAIMD_DOCS_PYTHON'\n{block.code}CLAIMD_DOCS_PYTHON")
    return "\n".join(parts) + "\n"


def run_script(script: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in its own process group, which is killed whole if it outlives ``timeout`` (an
    example that hangs, or a server it started, is not left behind)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMD_")}
    with subprocess.Popen(["bash", "-c", script], cwd=cwd, env={**clean, **env}, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            stderr += f"\n(killed after {timeout} s)"
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def require_tools() -> None:
    missing = [t for t in ("curl", "jq", "mosquitto_pub", "aiocoap-client") if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the docs' examples need {', '.join(missing)}")
        pytest.skip(f"the docs' examples need {', '.join(missing)}")


# the rules of the harness itself ------------------------------------------------------------------------

def test_a_failing_command_stops_the_page(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```sh\nA=1\necho first\n```\n\n```sh\nfalse | cat\necho second\n```\n\n"
                    "```python\nimport os\nprint('third', os.environ['A'])\n```\n")
    result = run_script(page_script(blocks(page)), tmp_path, {})
    assert result.returncode != 0
    assert "first" in result.stdout and "second" not in result.stdout and "third" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(">>> ") and "page.md:8" in result.stderr


def test_a_page_that_hangs_is_killed_with_what_it_started(tmp_path):
    result = run_script("sleep 30 & echo started; wait", tmp_path, {}, timeout=1)
    assert result.returncode != 0 and "started" in result.stdout and "killed after 1 s" in result.stderr


def test_python_blocks_see_the_shell_variables_and_marked_blocks_do_not_run(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh\nDEVICE=abc\n```\n\n<!-- not run: it would fail -->\n```sh\nexit 3\n```\n\n"
                    "```python\nimport os\nprint('device', os.environ['DEVICE'])\n```\n")
    result = run_script(page_script(blocks(page)), tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["device", "abc"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_block_is_run_or_says_why_not(page):
    for block in blocks(page):
        if block.mark == "walkthrough":
            assert page.name == "README.md", "only the README has the walk-through"
            continue
        assert block.lang in RUN or block.lang in SHOWN, f"{block.where}: a ```{block.lang} block (run as sh or " \
                                                          "python, or shown as text)"
        if block.mark is not None and block.lang in RUN:
            reason = block.mark.removeprefix("not run:")
            assert block.mark.startswith("not run:") and reason.strip(), \
                f"{block.where}: a block not run says why (<!-- not run: why -->)"


def test_the_docs_never_point_outside_the_project():
    for page in PAGES:
        text = page.read_text()
        assert "../shared" not in text and "shared/" not in text, f"{page.name} points outside the project"
        for target in re.findall(r"\]\(([^)#]+)", text):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name}: a link to {target}, which does not exist"


def test_readme_maps_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    for page in PAGES[1:]:
        assert f"(docs/{page.name})" in readme, f"README's map of docs/ lacks {page.name}"


# every page, run -----------------------------------------------------------------------------------------

@pytest.mark.slow  # 5 to 25 s a page: one server each, and a CLI process per `claimd` command
@pytest.mark.parametrize("page", [p for p in PAGES if any(b.runs for b in blocks(p))], ids=lambda p: p.name)
def test_page_examples_run_as_written(page, tmp_path):
    require_tools()
    script = page_script(blocks(page))
    work = tmp_path / "reader"
    work.mkdir()
    server = start_server(tmp_path / "server", extra_env=REAL_LOCKOUTS) if re.search(r"\$\{?(BASE|MQTT_PORT|COAP_PORT)\b", script) else None
    try:
        env = {"BASE": server.base_url, "MQTT_PORT": str(server.mqtt_port),
               "COAP_PORT": str(server.coap_port)} if server else {}
        result = run_script(script, work, env)
    finally:
        if server:
            server.stop()
    failed = result.stderr.strip().splitlines()
    where = next((line for line in reversed(failed) if line.startswith(">>> ")), "")
    assert result.returncode == 0, f"{where} failed (exit {result.returncode}):\n{result.stderr[-4000:]}\n" \
                                   f"{result.stdout[-2000:]}\nserver log:\n{server.log()[-2000:] if server else ''}"


def test_every_setting_is_documented_on_the_settings_page():
    from claimd.config import Settings

    page = (ROOT / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"`(CLAIMD_[A-Z0-9_]+)`", page))
    missing = [f"CLAIMD_{name.upper()}" for name in Settings.model_fields if f"CLAIMD_{name.upper()}" not in documented]
    assert not missing, f"docs/settings.md does not document {', '.join(missing)}"
