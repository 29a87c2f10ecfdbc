#!/usr/bin/env python3
"""Refresh the Swagger UI files claimd serves at /docs from the npm package swagger-ui-dist.

    python scripts/vendor_swagger_ui.py [VERSION]     # default: the latest version on npm

Needs ``npm``. Only the files the /docs page loads are copied (the bundle, the stylesheet, a favicon),
with the package's LICENSE, NOTICE and bundle licence notes, into src/claimd/entrypoints/http/static/swagger-ui/, and
VERSION and README.md there are rewritten.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from npm_files import unpack

PACKAGE = "swagger-ui-dist"
FILES = [
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "LICENSE",
    "NOTICE",
    "swagger-ui-bundle.js.LICENSE.txt",
]
DEST = Path(__file__).resolve().parents[1] / "src/claimd/entrypoints/http/static/swagger-ui"

README = """\
# Vendored Swagger UI

These files are the `{package}` npm package, version {version}, licence {licence}
(see LICENSE and NOTICE, and swagger-ui-bundle.js.LICENSE.txt for the libraries in the bundle,
all copied from the package), unchanged: {files}.
claimd serves them itself at `/docs/assets/` so that `/docs` works on a host without internet access.
Refresh them with `python scripts/vendor_swagger_ui.py [VERSION]`.
"""


def main(version: str = "latest") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _tgz, pkg, meta = unpack(PACKAGE, version, FILES, Path(tmp))
        if DEST.exists():
            shutil.rmtree(DEST)
        DEST.mkdir(parents=True)
        for name in FILES:
            shutil.copyfile(pkg / name, DEST / name)
    (DEST / "VERSION").write_text(meta["version"] + "\n")
    assets = ", ".join(f"`{f}`" for f in FILES[:3])
    (DEST / "README.md").write_text(
        README.format(package=PACKAGE, version=meta["version"], licence=meta.get("license"), files=assets)
    )
    print(f"{PACKAGE} {meta['version']} -> {DEST}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
