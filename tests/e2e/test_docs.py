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

import importlib.util
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
SHOWN = {
    "text",
    "csv",
    "json",
    "toml",
    "http",
    "console",
    "cddl",
    "ini",
    "dockerfile",
}  # not programs: shown, never run
FENCE = re.compile(
    r"(?:<!--\s*(?P<mark>[^>]*?)\s*-->\s*\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```[ \t]*$", re.S | re.M
)


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
    return [
        Block(page, text.count("\n", 0, m.start("lang")) + 1, m.group("lang"), m.group("code"), m.group("mark"))
        for m in FENCE.finditer(text)
    ]


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
    with subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
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
    page.write_text(
        "Text.\n\n```sh\nA=1\necho first\n```\n\n```sh\nfalse | cat\necho second\n```\n\n"
        "```python\nimport os\nprint('third', os.environ['A'])\n```\n"
    )
    result = run_script(page_script(blocks(page)), tmp_path, {})
    assert result.returncode != 0
    assert "first" in result.stdout and "second" not in result.stdout and "third" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(">>> ") and "page.md:8" in result.stderr


def test_a_page_that_hangs_is_killed_with_what_it_started(tmp_path):
    result = run_script("sleep 30 & echo started; wait", tmp_path, {}, timeout=1)
    assert result.returncode != 0 and "started" in result.stdout and "killed after 1 s" in result.stderr


def test_python_blocks_see_the_shell_variables_and_marked_blocks_do_not_run(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```sh\nDEVICE=abc\n```\n\n<!-- not run: it would fail -->\n```sh\nexit 3\n```\n\n"
        "```python\nimport os\nprint('device', os.environ['DEVICE'])\n```\n"
    )
    result = run_script(page_script(blocks(page)), tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["device", "abc"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_block_is_run_or_says_why_not(page):
    for block in blocks(page):
        if block.mark == "walkthrough":
            assert page.name == "README.md", "only the README has the walk-through"
            continue
        assert block.lang in RUN or block.lang in SHOWN, (
            f"{block.where}: a ```{block.lang} block (run as sh or python, or shown as text)"
        )
        if block.mark is not None and block.lang in RUN:
            reason = block.mark.removeprefix("not run:")
            assert block.mark.startswith("not run:") and reason.strip(), (
                f"{block.where}: a block not run says why (<!-- not run: why -->)"
            )


def test_the_docs_never_point_outside_the_project():
    for page in LINKED_PAGES:
        text = page.read_text()
        assert "../shared" not in text and "shared/" not in text, f"{page.name} points outside the project"
        for target, _line in links(text):
            path = target.split("#", 1)[0]
            if path and "://" not in path and not path.startswith("mailto:"):
                assert (page.parent / path).resolve().is_relative_to(ROOT), f"{page.name}: {target} is outside"


# links and anchors ---------------------------------------------------------------------------------------
#: The pages whose links must resolve: the README, docs/, and bench/README.md.
LINKED_PAGES = [*PAGES, ROOT / "bench" / "README.md"]
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.I)


def prose(text: str) -> str:
    """``text`` with fenced blocks and inline code blanked out (same length, same lines)."""

    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    text = re.sub(r"^(```|~~~).*?^\1[ \t]*$", blank, text, flags=re.S | re.M)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", blank, text)


def links(text: str) -> list[tuple[str, int]]:
    """Every link target of a Markdown page (inline, image and reference links), with its line."""
    plain = prose(text)
    found = [(m.group(1), m.start(1)) for m in INLINE_LINK.finditer(plain)]
    found += [(m.group(1), m.start(1)) for m in REFERENCE_LINK.finditer(plain)]
    return [(target, plain.count("\n", 0, at) + 1) for target, at in found]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (Markdown links and code marks dropped), lower
    case, punctuation other than ``-`` and ``_`` removed, each space a ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(\*\*|__|\*|(?<!\w)_|_(?!\w))", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The #anchors of a page: GitHub's heading slugs (a repeated one gets -1, -2, …) and HTML anchors."""
    text = page.read_text()
    seen: dict[str, int] = {}
    out = set(HTML_ANCHOR.findall(text))
    for m in HEADING.finditer(prose(text)):
        slug = github_slug(m.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def test_github_slugs():
    assert github_slug("Health and readiness") == "health-and-readiness"
    assert github_slug("`claimd serve`: the doors") == "claimd-serve-the-doors"
    assert github_slug("Backups: the database and the secret") == "backups-the-database-and-the-secret"
    assert github_slug("What [TR005](https://example.com) says, in 5 steps!") == "what-tr005-says-in-5-steps"
    assert github_slug("CLAIMD_REDIS_URL and co.") == "claimd_redis_url-and-co"


def test_links_skip_code_and_see_every_form(tmp_path):
    text = '[a](x.md) `[b](no.md)` ![c](img.png "t")\n\n```sh\n[d](no2.md)\n```\n[e]: ref.md#top\n'
    assert [t for t, _ in links(text)] == ["x.md", "img.png", "ref.md#top"]
    page = tmp_path / "p.md"
    page.write_text('# Title\n\n## Same\n\n## Same\n\n```sh\n# not a heading\n```\n<a id="here"></a>\n')
    assert anchors(page) == {"title", "same", "same-1", "here"}


@pytest.mark.parametrize("page", [p for p in LINKED_PAGES if p.exists()], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    """Every relative link of the page names a file of the repository, and every #anchor a heading
    (or HTML anchor) of the page it points to, by GitHub's slug rules."""
    broken = []
    for target, line in links(page.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: …: not a file of the repository
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_relative_to(ROOT):
            broken.append(f"line {line}: {target} points outside the repository")
        elif not file.exists():
            broken.append(f"line {line}: {target}: no such file")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"line {line}: {target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}:\n" + "\n".join(broken)


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
    server = (
        start_server(tmp_path / "server", extra_env=REAL_LOCKOUTS)
        if re.search(r"\$\{?(BASE|MQTT_PORT|COAP_PORT)\b", script)
        else None
    )
    try:
        env = (
            {"BASE": server.base_url, "MQTT_PORT": str(server.mqtt_port), "COAP_PORT": str(server.coap_port)}
            if server
            else {}
        )
        result = run_script(script, work, env)
    finally:
        if server:
            server.stop()
    failed = result.stderr.strip().splitlines()
    where = next((line for line in reversed(failed) if line.startswith(">>> ")), "")
    assert result.returncode == 0, (
        f"{where} failed (exit {result.returncode}):\n{result.stderr[-4000:]}\n"
        f"{result.stdout[-2000:]}\nserver log:\n{server.log()[-2000:] if server else ''}"
    )


def load_settings_doc():
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "scripts" / "settings_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_tables_are_written_from_the_settings():
    """docs/settings.md's tables are what scripts/settings_doc.py writes from Settings' Fields."""
    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == load_settings_doc().render(page), "docs/settings.md and Settings differ: run scripts/settings_doc.py"


def test_the_settings_doc_script_rewrites_a_drifted_table_and_refuses_a_missing_one():
    settings_doc = load_settings_doc()
    page = (ROOT / "docs" / "settings.md").read_text()
    drifted = page.replace("| `CLAIMD_HTTP_PORT` | `8080` |", "| `CLAIMD_HTTP_PORT` | `8081` |")
    assert drifted != page and settings_doc.render(drifted) == page
    begin = page.index("<!-- settings:begin group=Claiming -->")
    end = page.index("<!-- settings:end -->", begin) + len("<!-- settings:end -->")
    with pytest.raises(SystemExit, match="no table for Claiming"):
        settings_doc.render(page[:begin] + page[end:])


# Kept beside the generated tables: it also holds when a setting is named in the page's prose only.
def test_every_setting_is_documented_on_the_settings_page():
    from claimd.config import Settings

    page = (ROOT / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"`(CLAIMD_[A-Z0-9_]+)`", page))
    missing = [f"CLAIMD_{name.upper()}" for name in Settings.model_fields if f"CLAIMD_{name.upper()}" not in documented]
    assert not missing, f"docs/settings.md does not document {', '.join(missing)}"
