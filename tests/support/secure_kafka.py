"""A second local broker that requires SASL_SSL (SCRAM-SHA-512) and enforces ACLs, as the
deployment's does: started by `scripts/kafka.sh` (KAFKA_SECURITY=sasl_ssl) in a directory of
its own, on free ports, beside the plain broker `make test` runs; its users and ACLs are the
KafkaUsers of deploy/k8s/base/kafka/users.yaml, made by `scripts/kafka.sh grant`."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.kafka import KafkaConnection
from tests.support.platform import free_port

ROOT = Path(__file__).resolve().parents[2]
USERS_YAML = ROOT / "deploy/k8s/base/kafka/users.yaml"
PATTERN_TYPES = {"literal": "LITERAL", "prefix": "PREFIXED"}


@dataclass(frozen=True)
class Acl:
    """One ALLOW rule of a KafkaUser: a resource pattern and the operations on it."""

    resource_type: str  # TOPIC, GROUP, CLUSTER
    name: str
    pattern_type: str  # LITERAL, PREFIXED
    operations: tuple[str, ...]  # AclOperation names: READ, DESCRIBE_CONFIGS, ...


def deployed_acls(path: Path = USERS_YAML) -> dict[str, tuple[Acl, ...]]:
    """Every KafkaUser of the deploy and its ACLs, in Kafka's own names."""
    users: dict[str, tuple[Acl, ...]] = {}
    for document in yaml.safe_load_all(path.read_text()):
        if not document or document.get("kind") != "KafkaUser":
            continue
        spec = document["spec"]
        assert spec["authentication"]["type"] == "scram-sha-512", document["metadata"]
        users[document["metadata"]["name"]] = tuple(
            Acl(
                resource_type=rule["resource"]["type"].upper(),
                name=rule["resource"].get("name", "kafka-cluster"),
                pattern_type=PATTERN_TYPES[rule["resource"].get("patternType", "literal")],
                operations=tuple(_operation(op) for op in rule["operations"]),
            )
            for rule in spec["authorization"]["acls"]
        )
    return users


def _operation(name: str) -> str:
    """Strimzi's `DescribeConfigs` is Kafka's AclOperation DESCRIBE_CONFIGS."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


@dataclass(frozen=True)
class SecureBroker:
    bootstrap_servers: str
    ca_file: Path
    admin_password: str
    local_dir: Path
    env: Mapping[str, str]  # what kafka.sh ran with: the same for `grant` and `down`

    def connection(self, user: str, password: str) -> KafkaConnection:
        return KafkaConnection(
            self.bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=user,
            sasl_password=password,
            ssl_cafile=self.ca_file,
        )

    @property
    def admin(self) -> KafkaConnection:
        return self.connection("admin", self.admin_password)

    def service_env(self, user: str, password: str) -> dict[str, str]:
        """A service's settings for this broker, as the deploy gives them (KAFKA_SASL_*)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": password,
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    def grant(self, users: Mapping[str, str], acls: Mapping[str, Iterable[Acl]]) -> None:
        """Create the users (name: password) and their ACLs, as the User Operator would."""
        lines = [f"user {name} {password}" for name, password in users.items()]
        lines += [
            f"acl {user} {acl.resource_type} {acl.name} {acl.pattern_type} {','.join(acl.operations)}"
            for user, rules in acls.items()
            for acl in rules
        ]
        spec = self.local_dir / f"grant-{secrets.token_hex(4)}.txt"
        spec.write_text("\n".join(lines) + "\n")
        spec.chmod(0o600)
        try:
            _kafka_sh("grant", str(spec), env=self.env)
        finally:
            spec.unlink()


def _kafka_sh(*args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts/kafka.sh"), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"scripts/kafka.sh {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@contextlib.contextmanager
def secure_broker_running(directory: Path) -> Iterator[SecureBroker]:
    """A SASL_SSL broker of its own in `directory`, on free ports (or SECURE_KAFKA_PORT and
    SECURE_KAFKA_CONTROLLER_PORT), stopped when the block ends."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Its own broker, not the plain one `make test` points the tests at.
        if not key.startswith(("KAFKA_BOOTSTRAP", "KAFKA_SASL", "KAFKA_SECURITY", "KAFKA_SSL"))
    }
    env |= {
        "KAFKA_SECURITY": "sasl_ssl",
        "KAFKA_LOCAL_DIR": str(directory),
        "KAFKA_PORT": os.environ.get("SECURE_KAFKA_PORT") or str(free_port()),
        "KAFKA_CONTROLLER_PORT": os.environ.get("SECURE_KAFKA_CONTROLLER_PORT") or str(free_port()),
    }
    try:
        _kafka_sh("up", env=env)
        written = _read_env(directory / "kafka.env")
        yield SecureBroker(
            bootstrap_servers=written["KAFKA_BOOTSTRAP_SERVERS"],
            ca_file=Path(written["KAFKA_SSL_CAFILE"]),
            admin_password=written["KAFKA_SASL_PASSWORD"],
            local_dir=directory,
            env=env,
        )
    finally:
        _kafka_sh("down", env=env)


def passwords(users: Iterable[str]) -> dict[str, str]:
    """A random SCRAM password per user."""
    return {user: secrets.token_urlsafe(18) for user in users}
