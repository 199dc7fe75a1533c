"""The dashboard's assets are keyplane's own and ship in the wheel."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import keyplane
from keyplane.surfaces.dashboard.render import TEMPLATES_DIR
from keyplane.surfaces.dashboard.web import ASSETS_DIR

ROOT = Path(keyplane.__file__).parent
PYPROJECT = ROOT.parents[1] / "pyproject.toml"


def test_the_wheel_ships_every_template_and_asset() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["keyplane"]
    files = [p for d in (ASSETS_DIR, TEMPLATES_DIR) for p in d.rglob("*") if p.is_file()]
    shipped = {path.relative_to(ROOT).as_posix() for path in files}
    assert {"static/dashboard/dashboard.css", "static/dashboard/dashboard.js"} <= shipped
    assert "surfaces/dashboard/templates/base.html" in shipped
    packaged = {name for pattern in patterns for name in glob.glob(pattern, root_dir=ROOT, recursive=True)}
    assert sorted(shipped - packaged) == []


def test_no_template_names_another_origin() -> None:
    for template in TEMPLATES_DIR.glob("*.html"):
        text = template.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, template.name
