"""Kafka client settings: the environment, through the typed settings, to every client's options."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from services.processor.faust.app import broker_credentials
from services.processor.settings import ProcessorSettings
from services.query.settings import QuerySettings
from shared.kafka import KafkaConnection, connection, make_admin, make_consumer, make_producer
from shared.service_settings import CommonSettings
from shared.settings import SettingsError, load_settings

SCRAM = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "query",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


def test_a_plain_address_is_an_anonymous_plaintext_connection() -> None:
    assert connection("k:1").client_options() == {
        "bootstrap_servers": "k:1",
        "security_protocol": "PLAINTEXT",
    }
    assert load_settings(CommonSettings, environ={}).kafka == KafkaConnection("127.0.0.1:19092")


async def test_scram_settings_reach_every_kind_of_client() -> None:
    kafka = load_settings(QuerySettings, environ=SCRAM).kafka
    expected = {
        "bootstrap_servers": "kafka:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "query",
        "sasl_plain_password": "s3cret",
    }
    assert kafka.client_options() == expected
    # Each client hands them to its connection to the brokers (never started here).
    consumer, producer, admin = make_consumer(kafka), make_producer(kafka), make_admin(kafka)
    try:
        for client in (consumer._client, producer.client, admin._client):
            assert client._security_protocol == "SASL_PLAINTEXT"
            assert client._sasl_mechanism == "SCRAM-SHA-512"
            assert client._sasl_plain_username == "query"
            assert client._sasl_plain_password == "s3cret"
    finally:
        await consumer.stop()
        await producer.stop()
        await admin.close()


def test_the_password_never_shows_in_a_repr() -> None:
    settings = load_settings(QuerySettings, environ=SCRAM)
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in repr(settings.kafka)


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAIN"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SASL_MECHANISM": "SCRAM"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs a SASL username and password"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "query"},
            "needs a SASL username and password",
        ),
    ],
)
def test_bad_kafka_settings_fail_at_load(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(CommonSettings, environ=environ)


def test_tls_verifies_the_brokers_against_the_given_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    cafile = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(cafile))
    settings = load_settings(
        CommonSettings,
        environ=SCRAM | {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SSL_CAFILE": str(cafile)},
    )
    context = settings.kafka.client_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1


@pytest.mark.parametrize(
    "environ",
    [
        {},
        SCRAM,
        SCRAM | {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
        {"KAFKA_SECURITY_PROTOCOL": "SSL"},
    ],
    ids=["plaintext", "scram", "scram-tls", "tls"],
)
def test_faust_gets_the_same_credentials_as_the_other_clients(environ: dict[str, str]) -> None:
    kafka = load_settings(ProcessorSettings, environ=environ).kafka
    faust_options = dict(credentials_to_aiokafka_auth(broker_credentials(kafka)))
    ours = kafka.client_options()
    ours.pop("bootstrap_servers")
    for options in (faust_options, ours):  # contexts are made anew each time: compare their kind
        context = options.pop("ssl_context", None)
        assert context is None or isinstance(context, ssl.SSLContext)
        options["tls"] = context is not None
    faust_options.setdefault("tls", False)
    assert faust_options == ours
