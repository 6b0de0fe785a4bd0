"""`jedi response-key create --site SITE`: the site's response key, made once and kept.

`jedi push survey` turns each response's id in the survey tool (Qualtrics `ResponseId`,
REDCap `record_id`, ...) into its event id with HMAC-SHA256 under this key
(`shared.domain.response_keys`), so that the same response keeps one event id in every export
and nothing published can be linked back to the survey tool's id without the key.

- Where it lives: a file only the site holds, `$JEDI_RESPONSE_KEY_FILE`, or by default
  `$XDG_CONFIG_HOME/jedi/response-keys/<site id>.key` (`~/.config/...`), mode 600: 64 hex digits.
  It never leaves the site's machine: the platform never sees it.
- How it is made: `jedi response-key create --site SITE` writes 32 random bytes (Python's
  `secrets`), and refuses to overwrite a key that exists.
- Keep it for as long as the site uploads exports of its surveys, on every machine that
  uploads for the site (and in the site's backups or password manager). Losing it, or
  making a new one, gives every response of an export uploaded again a new event id: ingest
  would count it again (up to the eligible-headcount check, which then refuses the upload).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shared.domain.response_keys import ResponseKeyError, new_response_key, parse_response_key

ENV_FILE = "JEDI_RESPONSE_KEY_FILE"


def default_key_file(site_id: str) -> Path:
    """$JEDI_RESPONSE_KEY_FILE, else the site's file under $XDG_CONFIG_HOME (~/.config)."""
    if named := os.environ.get(ENV_FILE):
        return Path(named)
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "jedi" / "response-keys" / f"{site_id}.key"


def load_response_key(path: Path, site_id: str) -> bytes:
    """The key's bytes; ResponseKeyError saying what to do when there is none or it is bad."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ResponseKeyError(
            f"no response key for site {site_id!r} at {path}: create it once with "
            f"'jedi response-key create --site {site_id}' (or pass --response-key / set "
            f"{ENV_FILE} to where the site keeps it); every upload of the site's exports "
            "must use the same key"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ResponseKeyError(f"cannot read the response key {path}: {error}") from None
    try:
        return parse_response_key(text)
    except ResponseKeyError as error:
        raise ResponseKeyError(f"{path} {error}") from None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "response-key", help="the site's secret that keys survey response ids (made once)"
    )
    commands = parser.add_subparsers(dest="action", required=True)
    create = commands.add_parser("create", help="make the site's response key (never overwrites)")
    create.add_argument("--site", required=True, help="your site id")
    create.add_argument(
        "--file",
        type=Path,
        help=f"where to write it (default: ${ENV_FILE}, else "
        "$XDG_CONFIG_HOME/jedi/response-keys/SITE.key)",
    )
    create.set_defaults(handler=_create)


def _create(arguments: argparse.Namespace) -> int:
    path: Path = arguments.file or default_key_file(arguments.site)
    if path.exists():
        print(
            f"jedi response-key: {path} exists: keep using it (a new key would count every "
            "response of an export uploaded again a second time)",
            file=sys.stderr,
        )
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(new_response_key() + "\n")
    print(
        f"wrote the response key of {arguments.site} to {path} (mode 600). Keep it, and back it "
        "up: every upload of this site's survey exports needs this same key"
    )
    return 0
