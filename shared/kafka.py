"""Kafka clients for every service, made in one place: where the brokers are, how a client
proves who it is, and the safe defaults of each kind of client.

Every function takes a `KafkaConnection`, or a plain bootstrap address for an unauthenticated
local broker (what the tests and the demo use). The deployment's brokers want SASL/SCRAM,
optionally over TLS: the services build their connection from `CommonSettings.kafka`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    for_code,
)
from aiokafka.helpers import create_ssl_context

from shared.topics import TopicSpec

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how a client authenticates to them and checks their certificate."""

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    # The CA that signed the brokers' certificates (Strimzi: the cluster CA); None: the system's.
    ssl_cafile: Path | None = None

    def __post_init__(self) -> None:
        if self.security_protocol not in get_args(SecurityProtocol):
            raise ValueError(
                f"security protocol {self.security_protocol!r} is not one of {get_args(SecurityProtocol)}"
            )
        if self.sasl and self.sasl_mechanism not in get_args(SaslMechanism):
            raise ValueError(
                f"SASL mechanism {self.sasl_mechanism!r} is not one of {get_args(SaslMechanism)}"
            )
        if self.sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.security_protocol} needs a SASL username and password")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        return context

    def client_options(self) -> dict[str, Any]:
        """The aiokafka keyword arguments every client of this connection takes."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        return options


Kafka = KafkaConnection | str
"""A connection, or the bootstrap address of a broker that takes anonymous plaintext clients."""

AUTHORIZATION_ERRORS = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
)


class KafkaAccessDenied(KafkaError):  # type: ignore[misc]  # aiokafka's errors are untyped
    """The brokers refused this client an operation that its user's ACLs do not allow."""


def kafka_user(kafka: Kafka) -> str:
    """Who the brokers see: the SASL user, or "ANONYMOUS" for a plaintext client."""
    conn = connection(kafka)
    return conn.sasl_username if conn.sasl else "ANONYMOUS"


def access_denied(kafka: Kafka, operation: str, resources: Iterable[str], error: str) -> str:
    """The one wording of a refusal, so that an operator reading a log knows what to grant."""
    return (
        f"Kafka denied user {kafka_user(kafka)!r} {operation} on {', '.join(resources)} "
        f"({error}): its ACLs do not allow it (deploy/k8s/base/kafka/users.yaml grants each "
        "service's user its topics)"
    )


def connection(kafka: Kafka) -> KafkaConnection:
    return kafka if isinstance(kafka, KafkaConnection) else KafkaConnection(kafka)


def make_producer(kafka: Kafka, **overrides: Any) -> AIOKafkaProducer:
    """A producer that acknowledges only what all in-sync replicas have, without duplicates."""
    settings: dict[str, Any] = connection(kafka).client_options() | {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "request_timeout_ms": 15000,
    }
    return AIOKafkaProducer(**(settings | overrides))


def make_consumer(kafka: Kafka, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer that reads committed records from the beginning and commits only when told to.

    Without topics and a group it is for `assign`: the readers here follow whole topics.
    """
    settings: dict[str, Any] = connection(kafka).client_options() | {
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "isolation_level": "read_committed",
    }
    return AIOKafkaConsumer(*topics, **(settings | overrides))


def make_admin(kafka: Kafka, **overrides: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**(connection(kafka).client_options() | overrides))


async def ensure_topics(
    kafka: Kafka, specs: Iterable[TopicSpec], *, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            # Another process may create one between the listing and now.
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(
                    [
                        NewTopic(
                            name=spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=replication_factor,
                            topic_configs=dict(spec.config),
                        )
                        for spec in missing
                    ]
                )
                _raise_creation_errors(kafka, response.topic_errors)
            await _until_visible(admin, [spec.name for spec in missing])
        return [spec.name for spec in missing]
    finally:
        await admin.close()


def _raise_creation_errors(kafka: Kafka, topic_errors: Iterable[tuple[Any, ...]]) -> None:
    """Raise for the topics the brokers would not create (a topic created meanwhile is fine).

    A topic this client's user may not Describe looks missing from here, so a refused creation
    also says when the user is not allowed to see a topic that does exist.
    """
    denied: list[str] = []
    failed: list[str] = []
    for topic, code, *message in topic_errors:
        error = for_code(code) if code else None
        if error is None or error is TopicAlreadyExistsError:
            continue
        if issubclass(error, AUTHORIZATION_ERRORS):
            denied.append(f"topic {topic}")
        else:
            failed.append(f"{topic}: {error.__name__} {''.join(str(m) for m in message if m)}")
    if denied:
        raise KafkaAccessDenied(
            access_denied(
                kafka,
                "Describe/Create",
                denied,
                "TopicAuthorizationFailedError: the topic is missing, or this user may not see it",
            )
        )
    if failed:
        raise RuntimeError(f"Kafka could not create topics: {'; '.join(failed)}")


async def _until_visible(
    admin: AIOKafkaAdminClient, topics: list[str], *, wait_s: float = 30.0
) -> None:
    """Until every partition of the new topics has a leader: the broker accepts creation before
    its metadata shows the topics, and a describe or produce right after could fail."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        descriptions = await admin.describe_topics(topics)
        if all(
            d["error_code"] == 0
            and d["partitions"]
            and all(p["leader"] >= 0 for p in d["partitions"])
            for d in descriptions
        ) and len(descriptions) == len(topics):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"topics created but not visible after {wait_s:.0f} s: {topics}")
        await asyncio.sleep(0.1)  # pacing: the broker's metadata catches up within moments


async def replay_topics(
    kafka: Kafka,
    topics: Iterable[str],
    on_record: Callable[[ConsumerRecord], None],
    *,
    follow: bool = False,
    stop: asyncio.Event | None = None,
    caught_up: asyncio.Event | None = None,
) -> None:
    """Feed every record of `topics` to `on_record`, from the beginning.

    Without `follow`, returns once the end offsets seen at the start are reached: the
    caller has then seen everything published before it asked. With `follow`, goes on
    with new records until `stop` is set, and sets `caught_up` once the end is reached.
    """
    partitions = await topic_partitions(kafka, topics)
    if not partitions:
        if caught_up is not None:
            caught_up.set()
        return
    consumer = make_consumer(kafka)
    try:  # a stop can cancel the start itself, whose client must still be closed
        await consumer.start()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in end_offsets.items() if end > 0}
        while remaining or follow:
            if stop is not None and stop.is_set():
                return
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    on_record(record)
            for tp in list(remaining):
                if await consumer.position(tp) >= end_offsets[tp]:
                    remaining.discard(tp)
            if not remaining and caught_up is not None:
                caught_up.set()
    finally:
        await consumer.stop()


async def topic_partitions(kafka: Kafka, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of `topics`, in order; raises if a topic does not exist.

    Asked of the admin client: a consumer knows the partitions only of topics it subscribed to.
    """
    names = list(topics)
    admin = make_admin(kafka)
    await admin.start()
    try:
        descriptions = await admin.describe_topics(names)
    finally:
        await admin.close()
    found = {d["topic"]: d for d in descriptions if d["error_code"] == 0}
    missing = [topic for topic in names if topic not in found]
    if missing:
        raise RuntimeError(f"topics not found: {missing}")
    return [
        TopicPartition(topic, partition["partition"])
        for topic in names
        for partition in sorted(found[topic]["partitions"], key=lambda p: p["partition"])
    ]
