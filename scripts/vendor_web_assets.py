#!/usr/bin/env python3
"""Refresh the npm files the web pages load (and the test-only axe-core) from npm.

    python scripts/vendor_web_assets.py

Needs ``npm``. Each package is fetched with ``npm pack`` into a temporary directory, at the version
pinned below (change it here to upgrade), and only the files used are copied, with the package's
licence, next to a VENDOR.md naming version, licence, source and SHA-256:

- jsqr  → src/claimd/entrypoints/web/static/vendor/ (served at /static/web/vendor/, the QR decoder);
- axe-core → tests/browser/vendor/ (injected into the pages by the browser tests, never served).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from npm_files import unpack

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    files: dict[str, str]  # path in the package -> file name in dest
    dest: Path
    purpose: str


ASSETS = [
    Asset(
        "jsqr",
        "1.4.0",
        {"dist/jsQR.js": "jsQR.js", "LICENSE": "jsQR.LICENSE"},
        ROOT / "src/claimd/entrypoints/web/static/vendor",
        "the QR code decoder of the claim page (camera and uploaded photos), served at /static/web/vendor/",
    ),
    Asset(
        "axe-core",
        "4.14.1",
        {"axe.min.js": "axe.min.js", "LICENSE": "axe-core.LICENSE"},
        ROOT / "tests/browser/vendor",
        "the accessibility checker the browser tests inject into each page (tests only, not shipped)",
    ),
]

HEADER = """\
# Vendored files

Copied unchanged from npm by `python scripts/vendor_web_assets.py` (versions pinned in that script);
do not edit them here.

| file | package | version | licence | source | SHA-256 |
|---|---|---|---|---|---|
"""


def fetch(asset: Asset) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tgz, pkg, meta = unpack(asset.package, asset.version, list(asset.files), Path(tmp))
        asset.dest.mkdir(parents=True, exist_ok=True)
        for source, name in asset.files.items():
            shutil.copyfile(pkg / source, asset.dest / name)
            digest = hashlib.sha256((asset.dest / name).read_bytes()).hexdigest()
            url = f"https://registry.npmjs.org/{asset.package}/-/{tgz.name}"
            rows.append(
                f"| `{name}` | {asset.package} (`{source}`) | {meta['version']} | {meta.get('license')} | {url} | `{digest}` |"
            )
    return rows


def main() -> None:
    for dest in sorted({a.dest for a in ASSETS}):
        assets = [a for a in ASSETS if a.dest == dest]
        rows = [row for asset in assets for row in fetch(asset)]
        uses = "".join(f"\n- {a.package}: {a.purpose}." for a in assets)
        (dest / "VENDOR.md").write_text(HEADER + "\n".join(rows) + "\n\nWhat they are for:" + uses + "\n")
        print(f"{', '.join(a.package for a in assets)} -> {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
