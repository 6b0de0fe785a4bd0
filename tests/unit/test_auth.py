"""API keys are stored as hashes only; a site writes only its own site, a coordinator any."""

import json

from shared.auth import CredentialStore, PrincipalRole, credentials_document, issue_credentials


def test_issued_keys_authenticate_and_only_hashes_are_stored(tmp_path):
    keys, stored = issue_credentials(["site-north", "site-south"])
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(credentials_document(stored)))
    assert not any(key in path.read_text() for key in keys.values())

    store = CredentialStore.from_file(path)
    north = store.authenticate(keys["site-north"])
    assert north.role is PrincipalRole.SITE and north.site_id == "site-north"
    assert north.may_write("site-north") and not north.may_write("site-south")
    coordinator = store.authenticate(keys["coordinator"])
    assert coordinator.role is PrincipalRole.COORDINATOR and coordinator.may_write("site-south")


def test_missing_and_unknown_keys_are_refused():
    _, stored = issue_credentials(["site-north"])
    store = CredentialStore(stored)
    assert store.authenticate(None) is None
    assert store.authenticate("") is None
    assert store.authenticate("site-north.guessed") is None
