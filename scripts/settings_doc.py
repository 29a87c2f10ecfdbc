"""Write the settings tables of docs/settings.md from :class:`claimd.config.Settings`.

Each table sits between two markers, ``<!-- settings:begin group=<group> -->`` and
``<!-- settings:end -->``; its rows are made from the Fields of that group (``json_schema_extra``'s
``"group"``), in the order of the model: the variable, the default, and the Field's description (the
text ``claimd serve --help`` shows too). Text outside the markers is the page's own.

    python scripts/settings_doc.py           # rewrite docs/settings.md
    python scripts/settings_doc.py --check   # exit 1 when the page differs from what it would write
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from claimd.config import SETTING_GROUPS, Settings, env_name

PAGE = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
MARKED = re.compile(r"(<!-- settings:begin group=(?P<group>[^>]*?) -->\n)(?P<table>.*?)(<!-- settings:end -->)", re.S)
BINARY_UNITS = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))


def extra(name: str) -> dict[str, Any]:
    value = Settings.model_fields[name].json_schema_extra
    return value if isinstance(value, dict) else {}


def group_of(name: str) -> str:
    group = extra(name).get("group")
    if group not in SETTING_GROUPS:
        raise SystemExit(f"settings_doc: Settings.{name} has no group of {SETTING_GROUPS} (json_schema_extra)")
    return str(group)


def shown_default(name: str) -> str:
    """The default as the page says it: the value in code, a size also in KiB/MiB/GiB, or the
    Field's ``"shown"`` text when the value is None (unset, generated…)."""
    default = Settings.model_fields[name].get_default()
    if default is None:
        return str(extra(name).get("shown", "unset"))
    if isinstance(default, bool):
        text = f"`{str(default).lower()}`"
    elif isinstance(default, float) and default.is_integer():
        text = f"`{int(default)}`"
    else:
        text = f"`{default}`"
    if name.endswith("_bytes") and isinstance(default, int):
        for size, unit in BINARY_UNITS:
            if default >= size and default % size == 0:
                return f"{text} ({default // size} {unit})"
    return text


def table(group: str) -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if group_of(name) != group:
            continue
        description = (field.description or "").replace("|", "\\|")
        if not description:
            raise SystemExit(f"settings_doc: Settings.{name} has no description")
        rows.append(f"| `{env_name(name)}` | {shown_default(name)} | {description} |")
    return "\n".join(rows) + "\n"


def render(page: str) -> str:
    """``page`` with every marked table written afresh; every group must have its table."""
    seen: list[str] = []

    def replace(m: re.Match[str]) -> str:
        seen.append(m.group("group"))
        return m.group(1) + table(m.group("group")) + m.group(4)

    out = MARKED.sub(replace, page)
    for name in Settings.model_fields:
        group_of(name)
    missing = [g for g in SETTING_GROUPS if g not in seen]
    if missing:
        raise SystemExit(f"settings_doc: {PAGE.name} has no table for {', '.join(missing)}")
    return out


def main(argv: list[str]) -> int:
    current = PAGE.read_text()
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print(f"{PAGE} is out of date: run scripts/settings_doc.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        PAGE.write_text(wanted)
        print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
