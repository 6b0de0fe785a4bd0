"""`jedi credentials`: issue, add and revoke API keys; only their hashes are stored."""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path

from shared.auth import (
    CredentialStore,
    PrincipalRole,
    StoredCredential,
    credentials_document,
    hash_key,
    issue_credentials,
    new_api_key,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("credentials", help="manage API keys (hashes stored only)")
    commands = parser.add_subparsers(dest="action", required=True)

    create = commands.add_parser(
        "create", help="a new credentials file: a coordinator and one key per site"
    )
    create.add_argument("--sites", required=True, help="comma-separated site ids")
    create.add_argument(
        "--file", type=Path, required=True, help="credentials file to write (hashes)"
    )
    create.add_argument(
        "--keys-out", type=Path, required=True, help="where the plain keys go (mode 600)"
    )
    create.set_defaults(handler=_create)

    add = commands.add_parser("add", help="a further key for a site (rotation) or a coordinator")
    add.add_argument("--file", type=Path, required=True)
    add.add_argument("--site", help="the site the key writes; omit for a coordinator key")
    add.set_defaults(handler=_add)

    revoke = commands.add_parser("revoke", help="remove a key by its id")
    revoke.add_argument("--file", type=Path, required=True)
    revoke.add_argument("--key-id", required=True)
    revoke.set_defaults(handler=_revoke)


def _create(arguments: argparse.Namespace) -> int:
    site_ids = [site.strip() for site in arguments.sites.split(",") if site.strip()]
    keys, stored = issue_credentials(site_ids)
    _write(arguments.file, stored)
    lines = [f"{_env_name(key_id)}={key}" for key_id, key in keys.items()]
    _write_private(arguments.keys_out, "\n".join(lines) + "\n")
    print(f"wrote {len(stored)} credentials to {arguments.file}; keys in {arguments.keys_out}")
    return 0


def _add(arguments: argparse.Namespace) -> int:
    stored = _read(arguments.file)
    key_id = f"{arguments.site or 'coordinator'}-{secrets.token_hex(3)}"
    key = new_api_key(key_id)
    role = PrincipalRole.SITE if arguments.site else PrincipalRole.COORDINATOR
    _write(arguments.file, [*stored, StoredCredential(key_id, hash_key(key), role, arguments.site)])
    print(key)  # shown once: only its hash is kept
    return 0


def _revoke(arguments: argparse.Namespace) -> int:
    stored = _read(arguments.file)
    kept = [credential for credential in stored if credential.key_id != arguments.key_id]
    if len(kept) == len(stored):
        print(f"no key with id {arguments.key_id!r} in {arguments.file}")
        return 1
    _write(arguments.file, kept)
    return 0


def _env_name(key_id: str) -> str:
    return "JEDI_KEY_" + key_id.upper().replace("-", "_")


def _read(path: Path) -> list[StoredCredential]:
    return list(CredentialStore.from_file(path).credentials)


def _write(path: Path, stored: list[StoredCredential]) -> None:
    _write_private(path, json.dumps(credentials_document(stored), indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
