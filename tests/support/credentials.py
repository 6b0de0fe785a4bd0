"""Credentials files for tests: one key per site plus a coordinator key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shared.auth import credentials_document, issue_credentials


@dataclass(frozen=True)
class TestKeys:
    path: Path
    coordinator: str
    sites: dict[str, str]


def write_credentials(directory: Path, site_ids: list[str]) -> TestKeys:
    keys, stored = issue_credentials(site_ids)
    path = directory / "credentials.json"
    path.write_text(json.dumps(credentials_document(stored)))
    return TestKeys(path, keys.pop("coordinator"), keys)
