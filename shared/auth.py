"""Per-site API credentials: stored only as SHA-256 hashes, checked in constant time.

API keys are long random tokens, so an unsalted SHA-256 is enough to keep the stored
form useless to a reader of the file (unlike passwords, they cannot be guessed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

API_KEY_METADATA = "x-api-key"


class PrincipalRole(StrEnum):
    SITE = "site"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a site (which writes and reads its own data) or a national coordinator."""

    key_id: str
    role: PrincipalRole
    site_id: str | None = None

    def may_write(self, site_id: str) -> bool:
        return self.role is PrincipalRole.COORDINATOR or self.site_id == site_id


@dataclass(frozen=True)
class StoredCredential:
    key_id: str
    key_sha256: str
    role: PrincipalRole
    site_id: str | None = None


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key(key_id: str) -> str:
    """A fresh key; its prefix names the credential so logs can say which one was used."""
    return f"{key_id}.{secrets.token_urlsafe(32)}"


class CredentialStore:
    def __init__(self, credentials: Iterable[StoredCredential]) -> None:
        self.credentials = tuple(credentials)

    @classmethod
    def from_file(cls, path: Path) -> CredentialStore:
        """Read `{"credentials": [{"key_id", "key_sha256", "role", "site_id"}, ...]}`."""
        document = json.loads(Path(path).read_text())
        return cls(
            StoredCredential(
                key_id=entry["key_id"],
                key_sha256=entry["key_sha256"],
                role=PrincipalRole(entry["role"]),
                site_id=entry.get("site_id"),
            )
            for entry in document["credentials"]
        )

    def authenticate(self, api_key: str | None) -> Principal | None:
        """The principal the key belongs to, or None for a missing or unknown key."""
        if not api_key:
            return None
        offered = hash_key(api_key)
        for credential in self.credentials:
            if hmac.compare_digest(offered, credential.key_sha256):
                return Principal(credential.key_id, credential.role, credential.site_id)
        return None


def credentials_document(entries: Iterable[StoredCredential]) -> dict[str, list[dict[str, str]]]:
    """The JSON document `CredentialStore.from_file` reads."""
    return {
        "credentials": [
            {
                "key_id": credential.key_id,
                "key_sha256": credential.key_sha256,
                "role": credential.role.value,
                **({"site_id": credential.site_id} if credential.site_id else {}),
            }
            for credential in entries
        ]
    }


def issue_credentials(
    site_ids: Iterable[str], coordinator_id: str = "coordinator"
) -> tuple[dict[str, str], list[StoredCredential]]:
    """New keys for a coordinator and each site: the keys (hand them out once) and what to store."""
    keys = {coordinator_id: new_api_key(coordinator_id)}
    stored = [
        StoredCredential(coordinator_id, hash_key(keys[coordinator_id]), PrincipalRole.COORDINATOR)
    ]
    for site_id in site_ids:
        keys[site_id] = new_api_key(site_id)
        stored.append(
            StoredCredential(site_id, hash_key(keys[site_id]), PrincipalRole.SITE, site_id)
        )
    return keys, stored
