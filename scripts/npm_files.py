"""The one way claimd's vendoring scripts take files from npm: ``npm pack`` into a folder, then only
the files asked for (and package.json) out of the tarball. Used by vendor_web_assets.py and
vendor_swagger_ui.py."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any


def unpack(package: str, version: str, files: list[str], into: Path) -> tuple[Path, Path, dict[str, Any]]:
    """``package@version``'s ``files`` unpacked into ``into``/package: (the tarball, that folder, its package.json)."""
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
        cwd=into,
    ).stdout
    tgz = into / json.loads(out)[0]["filename"]
    wanted = {f"package/{name}" for name in [*files, "package.json"]}
    with tarfile.open(tgz) as tar:
        tar.extractall(into, members=[m for m in tar.getmembers() if m.name in wanted], filter="data")
    pkg = into / "package"
    return tgz, pkg, json.loads((pkg / "package.json").read_text())
