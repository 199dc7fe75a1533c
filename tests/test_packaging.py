"""Packaging metadata that installs without setuptools deprecation warnings (PEP 639 license fields)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import keyplane

ROOT = Path(keyplane.__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # a string, not the deprecated {text = ...} table
    assert [(ROOT / name).is_file() for name in project["license-files"]] == [True]
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]


def test_the_build_backend_understands_those_fields() -> None:
    requires = PYPROJECT["build-system"]["requires"]
    assert requires == ["setuptools>=77"]  # the first setuptools that reads SPDX `license` strings
