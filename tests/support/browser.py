"""Headless Chromium for the browser tests: Debian's `chromium` package, driven by Playwright.

Without a Chromium the tests are skipped with how to get one, except under CI, where a
missing browser is a failure (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "services" / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
HOW = "install it with `apt-get install -y chromium` (Debian), or set JEDI_CHROMIUM to a Chromium binary"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_path() -> str:
    """The system Chromium, or skip (fail under CI)."""
    found = (
        os.environ.get("JEDI_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    problem = None
    if not found:
        problem = f"no Chromium found: {HOW}"
    elif not AXE.is_file():
        problem = (
            "axe-core is missing: run `make install` (it installs the dashboard's npm packages)"
        )
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "Playwright is a dev dependency: run `make install`"
    if problem:
        if _in_ci():
            pytest.fail(f"{problem} (CI is set: this is a failure, not a skip)", pytrace=False)
        pytest.skip(problem)
    return str(found)


def artefacts_dir() -> Path:
    """Where screenshots and reports go (JEDI_TEST_ARTEFACTS, default .local/test-artefacts)."""
    path = (
        Path(os.environ.get("JEDI_TEST_ARTEFACTS", ROOT / ".local" / "test-artefacts"))
        / "dashboard"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path
