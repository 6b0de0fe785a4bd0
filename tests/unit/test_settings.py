"""Settings come from defaults, then the environment, then explicit overrides; bad values name the variable."""

from pathlib import Path

import pytest

from services.ingest.settings import IngestSettings
from services.processor.settings import ProcessorSettings
from shared.settings import SettingsError, load_settings


def test_defaults_without_environment():
    settings = load_settings(IngestSettings, environ={})
    assert settings.port == 50051 and settings.host == "127.0.0.1"
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert settings.site_id is None


def test_environment_then_overrides():
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": "k:9092",
        "JEDI_PORT": "6000",
        "JEDI_SITE_ID": "site-north",
        "JEDI_CREDENTIALS_FILE": "/etc/jedi/keys.json",
        "JEDI_TLS_CERT_FILE": "",
    }
    settings = load_settings(IngestSettings, environ=environ, port=7000)
    assert settings.kafka_bootstrap_servers == "k:9092"
    assert settings.port == 7000
    assert settings.site_id == "site-north"
    assert settings.credentials_file == Path("/etc/jedi/keys.json")
    assert settings.tls_cert_file is None


def test_a_bad_value_names_the_variable():
    with pytest.raises(SettingsError, match="JEDI_MIN_CELL_SIZE='ten'"):
        load_settings(ProcessorSettings, environ={"JEDI_MIN_CELL_SIZE": "ten"})


@pytest.mark.parametrize("given", ["JEDI_TLS_CERT_FILE", "JEDI_TLS_KEY_FILE"])
def test_a_tls_certificate_and_its_key_come_together(given):
    with pytest.raises(SettingsError, match="JEDI_TLS_CERT_FILE and JEDI_TLS_KEY_FILE go together"):
        load_settings(IngestSettings, environ={given: "/etc/jedi/tls/file.pem"})
    both = {"JEDI_TLS_CERT_FILE": "/tls/cert.pem", "JEDI_TLS_KEY_FILE": "/tls/key.pem"}
    settings = load_settings(IngestSettings, environ=both)
    assert settings.tls_cert_file == Path("/tls/cert.pem") and settings.tls_key_file == Path(
        "/tls/key.pem"
    )
