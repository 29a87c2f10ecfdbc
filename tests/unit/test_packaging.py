"""The package's licence and metadata: what `pip install .` builds from, read without building."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_licence_file_is_the_apache_license_the_metadata_names():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole text, not a notice
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0", "an SPDX expression (PEP 639), not the table form"
    assert project["license-files"] == ["LICENSE"]


def test_the_build_requires_a_setuptools_that_reads_spdx_licences():
    requires = PYPROJECT["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    minimum = re.search(r">=\s*(\d+)", setuptools)
    assert minimum and int(minimum.group(1)) >= 77, setuptools


def test_no_third_party_archives_at_the_root():
    archives = [p.name for p in ROOT.iterdir() if p.suffix in {".whl", ".tar", ".gz", ".zip", ".egg"}]
    assert not archives, f"archives at the repository root: {archives}"
