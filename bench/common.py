"""Shared pieces of claimd's benchmarks: a claimd process to measure, its memory, result files."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from servers import LiveServer, start_server

RESULTS = Path(__file__).resolve().parent / "results"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def start_claimd(**env: str | None) -> LiveServer:
    return start_server(Path(tempfile.mkdtemp(prefix="claimd-bench-")), extra_env=env)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    memory = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} cores ({model}), {memory / 2**20:.1f} GiB, {platform.system()} {platform.release()}"


def write_results(name: str, rows: list[dict], notes: str = "") -> None:
    """Print the table and keep it as markdown and JSON under bench/results/."""
    RESULTS.mkdir(exist_ok=True)
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    table = "\n".join(lines)
    print(table)
    (RESULTS / f"{name}.md").write_text(f"# {name}\n\n{machine()}\n\n{table}\n\n{notes}\n")
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), "rows": rows, "notes": notes}, indent=2))
