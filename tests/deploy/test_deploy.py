"""The deployment descriptions agree with the code: Kubernetes overlays and docker-compose.yml.

Each kustomize overlay under deploy/k8s/overlays is rendered with the kustomize binary and
every object validated offline: built-in kinds against the Kubernetes JSON schemas that the
`kubernetes-validate` package ships (strict: unknown fields fail), the Strimzi kinds against
the JSON Schemas in deploy/schemas. Then the workloads are checked against the services'
settings classes (every JEDI_* variable names a real field, ports and probes agree), the
KafkaTopics against shared/topics.py, and the platform's rules (probes, resources,
autoscalers, disruption budgets, network policies, one entry to add a site).

The kustomize binary comes from $KUSTOMIZE, .cache/bin/kustomize or PATH. Without it these
tests are skipped on a developer's machine, and fail under CI (CI set in the environment).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import pytest


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(message: str) -> None:
    """Skip on a developer's machine; under CI a missing tool or package is a failure."""
    if _in_ci():
        pytest.fail(f"{message} (CI is set: this is a failure, not a skip)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


try:
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    _missing("PyYAML is a dev dependency (pip install PyYAML)")

from services.dashboard.settings import DashboardSettings  # noqa: E402
from services.ingest.settings import IngestSettings  # noqa: E402
from services.processor.settings import ProcessorSettings  # noqa: E402
from services.query.settings import QuerySettings  # noqa: E402
from shared.auth import CredentialStore, PrincipalRole  # noqa: E402
from shared.settings import load_settings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SCHEMAS = REPO / "deploy" / "schemas"
COMPOSE_FILE = REPO / "docker-compose.yml"
OVERLAYS = sorted(
    p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file()
)

# Built-in kinds are validated against this Kubernetes version's schemas.
K8S_VERSION = "1.35"
IMAGE = "equity-benchmarks"
METRICS_PORT = 9464
# (topic replication, min.insync.replicas) each overlay must give every KafkaTopic.
DURABILITY = {"prod": (3, 2), "dev": (1, 1)}
STRIMZI_SCHEMAS = {
    "Kafka": "kafka.schema.json",
    "KafkaNodePool": "kafkanodepool.schema.json",
    "KafkaTopic": "kafkatopic.schema.json",
    "KafkaUser": "kafkauser.schema.json",
}
# `python -m <module>` -> the settings class that service loads.
SERVICES: dict[str, type] = {
    "services.ingest": IngestSettings,
    "services.processor": ProcessorSettings,
    "services.query": QuerySettings,
    "services.dashboard": DashboardSettings,
}
# Web services: HTTP probes and health checks, no Kafka settings and no Kafka egress; they
# reach the platform only through the query service's gRPC port.
HTTP_SERVICES = {"services.dashboard"}
QUERY_PORT = 50061
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
DEMO_SITES = {"site-north", "site-south", "site-east"}


# --------------------------------------------------------------------------- helpers


def _kustomize_binary() -> str | None:
    explicit = os.environ.get("KUSTOMIZE")
    if explicit:
        return explicit
    cached = REPO / ".cache" / "bin" / "kustomize"
    if os.access(cached, os.X_OK):
        return str(cached)
    return shutil.which("kustomize")


def _topic_specs() -> tuple:
    """Production's topics (no namespace prefix) from shared/topics.py."""
    import shared.topics as topics

    if hasattr(topics, "Topics"):
        return (*topics.Topics().all, topics.Topics().audit_trail)
    return tuple(topics.ALL_TOPICS)


def env_names(settings_class: type) -> dict[str, str]:
    """Environment variable -> field, by the rule of shared/settings.py."""
    return {
        field.metadata.get("env", f"JEDI_{field.name.upper()}"): field.name
        for field in dataclasses.fields(settings_class)
    }


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels / matchExpressions) against a label set."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator, values = (
            expression["key"],
            expression["operator"],
            expression.get("values", []),
        )
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _import(module: str):
    try:
        return __import__(module)
    except ImportError:
        _missing(f"{module} is a dev dependency (pip install {module.replace('_', '-')})")


def render(kustomize: str, overlay_dir: Path) -> list[dict]:
    result = subprocess.run(
        [kustomize, "build", str(overlay_dir)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kustomize build {overlay_dir} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@dataclass
class Rendered:
    overlay: str
    objects: list[dict]

    def of_kind(self, *kinds: str) -> list[dict]:
        return [obj for obj in self.objects if obj["kind"] in kinds]

    def get(self, kind: str, name: str) -> dict:
        matches = [obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name]
        assert len(matches) == 1, (
            f"{self.overlay}: expected one {kind}/{name}, found {len(matches)}"
        )
        return matches[0]

    @property
    def workloads(self) -> list[dict]:
        return self.of_kind(*WORKLOAD_KINDS)

    @property
    def kafka(self) -> dict:
        (kafka,) = self.of_kind("Kafka")
        return kafka

    def secret_value(self, name: str, key: str) -> str:
        """A Secret's value; a KafkaUser's Secret is the User Operator's, made in the cluster:
        it holds `password` and `sasl.jaas.config`, stood in for here by a placeholder."""
        users = {user["metadata"]["name"] for user in self.of_kind("KafkaUser")}
        if name in users and not [
            s for s in self.of_kind("Secret") if s["metadata"]["name"] == name
        ]:
            assert key in ("password", "sasl.jaas.config"), (
                f"KafkaUser/{name}'s Secret has no {key}"
            )
            return f"<{key} of KafkaUser/{name}>"
        return self.secret_data(name)[key].decode()

    def secret_data(self, name: str) -> dict[str, bytes]:
        secret = self.get("Secret", name)
        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        data.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
        return data


def workload_id(workload: dict) -> str:
    return f"{workload['kind']}/{workload['metadata']['name']}"


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def the_container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload_id(workload)}: one container per pod expected"
    return containers[0]


def service_module(container: dict) -> str:
    command = list(container.get("command") or []) + list(container.get("args") or [])
    assert command[:2] == ["python", "-m"] and len(command) == 3, (
        f"container {container['name']}: command must be `python -m services.<name>`, got {command}"
    )
    assert command[2] in SERVICES, f"unknown service module {command[2]}"
    return command[2]


def container_env(rendered: Rendered, workload: dict, container: dict) -> dict[str, str]:
    """The environment the container gets: envFrom ConfigMaps/Secrets, then env entries."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = rendered.get("ConfigMap", source["configMapRef"]["name"]).get("data") or {}
            env.update({prefix + k: v for k, v in data.items()})
        elif "secretRef" in source:
            data = rendered.secret_data(source["secretRef"]["name"])
            env.update({prefix + k: v.decode() for k, v in data.items()})
    labels = pod_labels(workload)
    annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
    for entry in container.get("env") or ():
        name = entry["name"]
        if "value" in entry:
            env[name] = str(entry["value"])
            continue
        source = entry.get("valueFrom", {})
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
            assert match, f"{name}: unsupported fieldRef {path}"
            values = labels if match.group(1) == "labels" else annotations
            assert match.group(2) in values, (
                f"{name}: the pod has no {match.group(1)[:-1]} {match.group(2)}"
            )
            env[name] = values[match.group(2)]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[name] = rendered.get("ConfigMap", ref["name"])["data"][ref["key"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[name] = rendered.secret_value(ref["name"], ref["key"])
        else:
            pytest.fail(f"{name}: unsupported valueFrom {source}")
    return env


def load_service_settings(module: str, env: dict[str, str], where: str):
    """Every JEDI_* variable must name a field; the values must convert."""
    settings_class = SERVICES[module]
    known = env_names(settings_class)
    unknown = sorted(
        name
        for name in env
        if (name.startswith("JEDI_") or name.startswith("KAFKA_")) and name not in known
    )
    assert not unknown, (
        f"{where}: {unknown} are not settings of {settings_class.__name__} ({sorted(known)})"
    )
    return load_settings(settings_class, environ=env)


def probes(container: dict) -> dict[str, dict]:
    return {
        kind: container[kind]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        if kind in container
    }


def named_ports(container: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", ()) if "name" in p}


def kafka_bootstrap(kafka: dict) -> str:
    """The bootstrap address Strimzi gives the cluster's plain internal listener."""
    listeners = [
        listener
        for listener in kafka["spec"]["kafka"]["listeners"]
        if listener["type"] == "internal" and not listener["tls"]
    ]
    assert listeners, "the Kafka cluster needs a plain internal listener for the services"
    return f"{kafka['metadata']['name']}-kafka-bootstrap:{listeners[0]['port']}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def kustomize() -> str:
    binary = _kustomize_binary()
    if binary is None:
        message = (
            "kustomize not found ($KUSTOMIZE, .cache/bin/kustomize or PATH): install it with "
            "GOBIN=$PWD/.cache/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2"
        )
        _missing(message)
    return binary


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request, kustomize) -> Rendered:
    return Rendered(request.param, render(kustomize, K8S / "overlays" / request.param))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# --------------------------------------------------------------------------- kubernetes


def test_there_are_dev_and_prod_overlays():
    assert {"dev", "prod"} <= set(OVERLAYS)
    assert set(OVERLAYS) <= set(DURABILITY), "declare each overlay's topic durability in DURABILITY"


def test_every_object_validates(rendered):
    jsonschema = _import("jsonschema")
    kubernetes_validate = _import("kubernetes_validate")

    errors = []
    for obj in rendered.objects:
        where = f"{rendered.overlay}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if obj.get("apiVersion", "").startswith("kafka.strimzi.io/"):
            # Strimzi CRDs: kubernetes-validate has no schema for them; ours in deploy/schemas.
            assert obj["kind"] in STRIMZI_SCHEMAS, f"{where}: no schema for this Strimzi kind"
            schema = json.loads((SCHEMAS / STRIMZI_SCHEMAS[obj["kind"]]).read_text())
            validator = jsonschema.Draft202012Validator(schema)
            errors += [
                f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(obj)
            ]
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{where}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{where}: {error.message}")
    assert not errors, "\n".join(errors)


def test_everything_lives_in_the_overlay_namespace(rendered):
    (namespace,) = rendered.of_kind("Namespace")
    name = namespace["metadata"]["name"]
    for obj in rendered.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == name, (
                f"{obj['kind']}/{obj['metadata']['name']}"
            )


def test_workloads_run_the_services_with_probes_and_resources(rendered):
    modules = set()
    for workload in rendered.workloads:
        where = f"{rendered.overlay}: {workload_id(workload)}"
        container = the_container(workload)
        modules.add(service_module(container))

        repository, _, tag = container["image"].rpartition(":")
        assert repository.rsplit("/", 1)[-1] == IMAGE, f"{where}: image {container['image']}"
        assert tag and tag != "latest", f"{where}: the overlay must pin the image tag"

        found = probes(container)
        assert {"readinessProbe", "livenessProbe"} <= set(found), f"{where}: probes {sorted(found)}"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container.get("resources", {}).get(kind, {})), (
                f"{where}: resources.{kind} needs cpu and memory"
            )

        pod_security = workload["spec"]["template"]["spec"].get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
        assert container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, where
        assert container["securityContext"].get("allowPrivilegeEscalation") is False, where
    assert modules == set(SERVICES), f"{rendered.overlay}: services deployed {sorted(modules)}"


def test_workload_env_ports_and_probes_agree_with_the_settings(rendered):
    bootstrap = kafka_bootstrap(rendered.kafka)
    for workload in rendered.workloads:
        where = f"{rendered.overlay}: {workload_id(workload)}"
        container = the_container(workload)
        module = service_module(container)
        env = container_env(rendered, workload, container)
        settings = load_service_settings(module, env, where)
        ports = named_ports(container)

        assert settings.metrics_port == METRICS_PORT == ports.get("metrics"), (
            f"{where}: metrics port"
        )
        if (
            module in HTTP_SERVICES
        ):  # a web service: HTTP probes on its port, the query service over gRPC
            assert not hasattr(settings, "kafka_bootstrap_servers"), (
                f"{where}: a web service has no Kafka"
            )
            assert settings.host == "0.0.0.0", f"{where}: JEDI_HOST must be 0.0.0.0 in a pod"
            assert ports.get("http") == settings.port, f"{where}: containerPort http != JEDI_PORT"
            assert settings.query_address.rsplit(":", 1) == ["query", str(QUERY_PORT)], where
            rendered.get("Service", "query")
            for kind, probe in probes(container).items():
                assert probe.get("httpGet", {}).get("port") in (settings.port, "http"), (
                    f"{where}: {kind}"
                )
            continue
        assert settings.kafka_bootstrap_servers == bootstrap, where

        if hasattr(settings, "port"):  # gRPC services: probes use grpc.health.v1 on the port
            assert settings.host == "0.0.0.0", f"{where}: JEDI_HOST must be 0.0.0.0 in a pod"
            assert ports.get("grpc") == settings.port, f"{where}: containerPort grpc != JEDI_PORT"
            for kind, probe in probes(container).items():
                assert "grpc" in probe, f"{where}: {kind} must be a grpc probe"
                assert probe["grpc"]["port"] == settings.port, f"{where}: {kind} port != JEDI_PORT"
                assert probe["grpc"].get("service", "") == "", f"{where}: {kind} checks the server"
        else:  # the processor: Faust's web server
            assert ports.get("web") == settings.web_port, (
                f"{where}: containerPort web != JEDI_WEB_PORT"
            )
            for kind, probe in probes(container).items():
                port = probe.get("httpGet", {}).get("port")
                assert port in (settings.web_port, "web"), f"{where}: {kind} must GET the web port"

        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", ())}
        pod_volumes = {
            v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", ())
        }
        if hasattr(settings, "credentials_file"):
            directory = str(PurePosixPath(settings.credentials_file).parent)
            assert directory in mounts, f"{where}: nothing mounted at {directory}"
            volume = pod_volumes[mounts[directory]["name"]]
            assert "secret" in volume, f"{where}: credentials come from a Secret"
            data = rendered.secret_data(volume["secret"]["secretName"])
            assert settings.credentials_file.name in data, f"{where}: the Secret lacks the file"
        if hasattr(settings, "state_dir"):
            mount = mounts.get(str(settings.state_dir))
            assert mount, f"{where}: JEDI_STATE_DIR {settings.state_dir} is not a mounted volume"
            claims = {
                t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", ())
            }
            assert mount["name"] in claims, f"{where}: the state dir must be a persistent volume"


def test_services_route_to_container_ports(rendered):
    for service in rendered.of_kind("Service"):
        where = f"{rendered.overlay}: Service/{service['metadata']['name']}"
        selected = [
            w
            for w in rendered.workloads
            if selector_matches({"matchLabels": service["spec"]["selector"]}, pod_labels(w))
        ]
        assert len(selected) == 1, f"{where} selects {[workload_id(w) for w in selected]}"
        container = the_container(selected[0])
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            available = (
                named_ports(container)
                if isinstance(target, str)
                else {p["containerPort"]: p["containerPort"] for p in container.get("ports", ())}
            )
            assert target in available, f"{where}: targetPort {target} is not a container port"


def test_every_topic_has_a_kafka_topic_with_the_overlay_durability(rendered):
    replicas, min_insync = DURABILITY[rendered.overlay]
    kafka_name = rendered.kafka["metadata"]["name"]
    declared = {
        t["spec"].get("topicName", t["metadata"]["name"]): t for t in rendered.of_kind("KafkaTopic")
    }
    specs = {spec.name: spec for spec in _topic_specs()}
    assert set(declared) == set(specs), (
        f"{rendered.overlay}: KafkaTopics {sorted(declared)} != shared/topics.py {sorted(specs)}"
        " (regenerate with python deploy/generate_topics.py)"
    )
    for name, spec in specs.items():
        topic = declared[name]
        where = f"{rendered.overlay}: KafkaTopic {name}"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka_name, where
        assert topic["spec"]["partitions"] == spec.partitions, f"{where}: partitions"
        assert topic["spec"]["replicas"] == replicas, f"{where}: replicas"
        config = {k: str(v) for k, v in topic["spec"].get("config", {}).items()}
        assert config.get("min.insync.replicas") == str(min_insync), f"{where}: min.insync.replicas"
        for key, value in spec.config.items():
            assert config.get(key) == str(value), (
                f"{where}: {key}={config.get(key)}, topics.py says {value}"
            )


def test_kafka_cluster_matches_the_overlay_durability(rendered):
    replicas, min_insync = DURABILITY[rendered.overlay]
    config = rendered.kafka["spec"]["kafka"].get("config", {})
    assert int(config["default.replication.factor"]) == replicas
    assert int(config["min.insync.replicas"]) == min_insync
    assert int(config["offsets.topic.replication.factor"]) == replicas
    assert int(config["transaction.state.log.replication.factor"]) == replicas
    pools = [
        p
        for p in rendered.of_kind("KafkaNodePool")
        if p["metadata"]["labels"]["strimzi.io/cluster"] == rendered.kafka["metadata"]["name"]
    ]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert brokers >= replicas, f"{rendered.overlay}: {brokers} brokers for replication {replicas}"
    assert controllers % 2 == 1, (
        f"{rendered.overlay}: a KRaft quorum needs an odd number of controllers"
    )
    common = rendered.of_kind("ConfigMap")
    factors = {
        cm["data"]["JEDI_TOPIC_REPLICATION_FACTOR"]
        for cm in common
        if "JEDI_TOPIC_REPLICATION_FACTOR" in cm.get("data", {})
    }
    assert factors == {str(replicas)}, (
        f"{rendered.overlay}: JEDI_TOPIC_REPLICATION_FACTOR {factors}"
    )


def test_processor_and_query_have_autoscalers(rendered):
    hpas = {}
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        target = rendered.get(ref["kind"], ref["name"])
        module = service_module(the_container(target))
        hpas[module] = (hpa, target)
        assert 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]
        assert "replicas" not in target["spec"], (
            f"{workload_id(target)}: the HPA owns replicas; setting them makes each apply fight it"
        )
    assert {"services.processor", "services.query"} <= set(hpas), f"HPAs for {sorted(hpas)}"
    most_partitions = max(spec.partitions for spec in _topic_specs())
    processor_hpa, _ = hpas["services.processor"]
    assert processor_hpa["spec"]["maxReplicas"] <= most_partitions, (
        "processor workers beyond the partition count would sit idle"
    )


def test_every_workload_has_a_disruption_budget(rendered):
    budgets = rendered.of_kind("PodDisruptionBudget")
    for workload in rendered.workloads:
        matching = [
            b for b in budgets if selector_matches(b["spec"]["selector"], pod_labels(workload))
        ]
        assert len(matching) == 1, (
            f"{rendered.overlay}: {workload_id(workload)} has {len(matching)} PDBs"
        )
        spec = matching[0]["spec"]
        # maxUnavailable never blocks a drain, whatever the replica count (dev runs one).
        assert "maxUnavailable" in spec and "minAvailable" not in spec, matching[0]["metadata"][
            "name"
        ]


def _rules(policies: Iterable[dict], direction: str) -> list[dict]:
    key = "ingress" if direction == "Ingress" else "egress"
    return [
        rule
        for policy in policies
        if direction in policy["spec"].get("policyTypes", ())
        for rule in policy["spec"].get(key) or ()
    ]


def _allows_port(rule: dict, port: int, protocol: str = "TCP") -> bool:
    ports = rule.get("ports")
    return not ports or any(
        p.get("port") in (port, None) and p.get("protocol", "TCP") == protocol for p in ports
    )


def test_network_policies_deny_by_default_and_allow_what_each_service_needs(rendered):
    policies = rendered.of_kind("NetworkPolicy")
    default_deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] in ({}, None)
        and set(p["spec"].get("policyTypes", ())) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert default_deny, f"{rendered.overlay}: no default-deny NetworkPolicy"

    kafka = rendered.kafka
    broker_labels = {"strimzi.io/cluster": kafka["metadata"]["name"], "strimzi.io/kind": "Kafka"}
    kafka_port = int(kafka_bootstrap(kafka).rsplit(":", 1)[1])
    for workload in rendered.workloads:
        where = f"{rendered.overlay}: {workload_id(workload)}"
        labels = pod_labels(workload)
        applying = [p for p in policies if selector_matches(p["spec"]["podSelector"], labels)]
        egress = _rules(applying, "Egress")
        module = service_module(the_container(workload))
        if module in HTTP_SERVICES:
            _check_web_service_policies(rendered, workload, applying, broker_labels, kafka_port)
            continue
        assert any(
            _allows_port(rule, kafka_port)
            and any(
                "namespaceSelector" not in peer
                and selector_matches(peer.get("podSelector"), broker_labels)
                for peer in rule.get("to", ())
            )
            for rule in egress
        ), f"{where}: no egress to the Kafka brokers on {kafka_port}"
        assert any(_allows_port(rule, 53, "UDP") and rule.get("to") for rule in egress), (
            f"{where}: DNS"
        )

        ingress = _rules(applying, "Ingress")
        settings = load_service_settings(
            service_module(the_container(workload)),
            container_env(rendered, workload, the_container(workload)),
            where,
        )
        if hasattr(settings, "port"):
            assert any(_allows_port(rule, settings.port) for rule in ingress), (
                f"{where}: no ingress on the gRPC port {settings.port}"
            )
        assert any(_allows_port(rule, METRICS_PORT) for rule in ingress), f"{where}: metrics scrape"

    # Kafka's own listener admits the platform's pods (and not the web services).
    peers = kafka["spec"]["kafka"]["listeners"][0].get("networkPolicyPeers", [])
    for workload in rendered.workloads:
        if service_module(the_container(workload)) in HTTP_SERVICES:
            assert not any(
                selector_matches(peer.get("podSelector"), pod_labels(workload)) for peer in peers
            ), f"{workload_id(workload)} is a Kafka listener peer"
            continue
        assert not peers or any(
            selector_matches(peer.get("podSelector"), pod_labels(workload)) for peer in peers
        ), f"{workload_id(workload)} is not a listener peer"


def _check_web_service_policies(
    rendered: Rendered,
    workload: dict,
    applying: list[dict],
    broker_labels: dict[str, str],
    kafka_port: int,
) -> None:
    """A web service reaches the query pods' gRPC port and DNS, never the brokers; browsers and
    Prometheus reach it."""
    where = f"{rendered.overlay}: {workload_id(workload)}"
    egress = _rules(applying, "Egress")
    assert not any(
        any(selector_matches(peer.get("podSelector"), broker_labels) for peer in rule.get("to", ()))
        or not rule.get("to")
        for rule in egress
    ), f"{where}: a web service must have no egress to Kafka (nor to everywhere)"
    query_pods = [
        pod_labels(w)
        for w in rendered.workloads
        if service_module(the_container(w)) == "services.query"
    ]
    assert query_pods and any(
        _allows_port(rule, QUERY_PORT)
        and any(
            selector_matches(peer.get("podSelector"), labels)
            for peer in rule.get("to", ())
            for labels in query_pods
        )
        for rule in egress
    ), f"{where}: no egress to the query service on {QUERY_PORT}"
    assert any(_allows_port(rule, 53, "UDP") and rule.get("to") for rule in egress), f"{where}: DNS"
    settings = load_service_settings(
        service_module(the_container(workload)),
        container_env(rendered, workload, the_container(workload)),
        where,
    )
    ingress = _rules(applying, "Ingress")
    assert any(_allows_port(rule, settings.port) for rule in ingress), (
        f"{where}: no ingress on {settings.port}"
    )
    assert any(_allows_port(rule, METRICS_PORT) for rule in ingress), f"{where}: metrics scrape"


def check_credentials(document: dict) -> set[str]:
    """Validate a credentials document (shared/auth.py's format); return its site ids."""
    key_ids = [entry["key_id"] for entry in document["credentials"]]
    assert len(key_ids) == len(set(key_ids)), f"duplicate key ids {key_ids}"
    for entry in document["credentials"]:
        role = PrincipalRole(entry["role"])
        assert (role is PrincipalRole.SITE) == bool(entry.get("site_id")), (
            f"{entry['key_id']}: a site key names its site, a coordinator key none"
        )
    return {entry["site_id"] for entry in document["credentials"] if entry.get("site_id")}


def mounted_credentials(rendered: Rendered, workload: dict) -> dict:
    """The credentials document a workload reads at JEDI_CREDENTIALS_FILE."""
    container = the_container(workload)
    env = container_env(rendered, workload, container)
    settings = load_service_settings(service_module(container), env, workload_id(workload))
    directory = str(PurePosixPath(settings.credentials_file).parent)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == directory)
    volume = next(
        v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    return json.loads(
        rendered.secret_data(volume["secret"]["secretName"])[settings.credentials_file.name]
    )


def test_site_credentials_parse_and_cover_every_dedicated_ingest(rendered, tmp_path):
    for workload in rendered.workloads:
        container = the_container(workload)
        module = service_module(container)
        if module not in ("services.ingest", "services.query"):
            continue
        document = mounted_credentials(rendered, workload)
        site_ids = check_credentials(document)
        path = tmp_path / f"{workload['metadata']['name']}.json"
        path.write_text(json.dumps(document))
        CredentialStore.from_file(path)  # the service's own reader accepts it
        env = container_env(rendered, workload, container)
        settings = load_service_settings(module, env, workload_id(workload))
        if getattr(settings, "site_id", None):
            assert settings.site_id != "unset", (
                f"{workload_id(workload)}: label the site ingest with its site id"
            )
            assert settings.site_id in site_ids, f"{settings.site_id} has no credentials"
            assert workload["metadata"]["name"].endswith(settings.site_id), workload_id(workload)


def test_adding_a_site_is_one_credentials_entry(kustomize, tmp_path):
    """One entry in an overlay's credentials.json: the new Secret reaches ingest and query
    under a new name (so they roll), and nothing else in the rendered output changes."""
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    for overlay in OVERLAYS:
        before = Rendered(overlay, render(kustomize, tree / "overlays" / overlay))
        credentials = tree / "overlays" / overlay / "credentials.json"
        document = json.loads(credentials.read_text())
        document["credentials"].append(
            {
                "key_id": "new-site-1",
                "key_sha256": "PLACEHOLDER",
                "role": "site",
                "site_id": "new-site",
            }
        )
        credentials.write_text(json.dumps(document, indent=2))
        after = Rendered(overlay, render(kustomize, tree / "overlays" / overlay))

        (old_secret,) = before.of_kind("Secret")
        (new_secret,) = after.of_kind("Secret")
        assert old_secret["metadata"]["name"] != new_secret["metadata"]["name"], "no rollout"
        for workload in after.workloads:
            if service_module(the_container(workload)) in ("services.ingest", "services.query"):
                assert "new-site" in check_credentials(mounted_credentials(after, workload)), (
                    workload_id(workload)
                )
        rename = {old_secret["metadata"]["name"]: new_secret["metadata"]["name"]}
        normalised = [
            obj
            for obj in (
                json.loads(json.dumps(o).replace(*next(iter(rename.items()))))
                for o in before.objects
            )
            if obj["kind"] != "Secret"
        ]
        assert normalised == [o for o in after.objects if o["kind"] != "Secret"], overlay


def test_strimzi_schemas_reject_what_strimzi_would():
    jsonschema = _import("jsonschema")

    topic = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t", "labels": {"strimzi.io/cluster": "c"}},
        "spec": {"topicName": "t", "partitions": 0, "replicas": 1},
    }
    schema = json.loads((SCHEMAS / "kafkatopic.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(topic)), "partitions 0 accepted"
    pool = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaNodePool",
        "metadata": {"name": "p", "labels": {"strimzi.io/cluster": "c"}},
        "spec": {"replicas": 1, "roles": ["broker"], "storage": {"type": "persistent-claim"}},
    }
    schema = json.loads((SCHEMAS / "kafkanodepool.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(pool)), (
        "a claim without size accepted"
    )
    kafka = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "Kafka",
        "metadata": {"name": "c"},
        "spec": {
            "kafka": {
                "replicas": 3,
                "listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
            }
        },
    }
    schema = json.loads((SCHEMAS / "kafka.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(kafka)), (
        "spec.kafka.replicas (ZooKeeper-era, not in v1) accepted"
    )


def test_generated_topics_file_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "generate_topics.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_benchmarks_topic_compacts_promptly():
    """Kafka never compacts the active segment: without a short segment.ms, old releases stay readable."""
    import shared.topics as topics

    config = dict(topics.Topics().benchmarks.config)
    week_ms = 7 * 24 * 3600 * 1000
    assert config["cleanup.policy"] == "compact"
    assert 0 < int(config["segment.ms"]) <= 6 * 3600 * 1000, (
        "the active segment must roll within hours"
    )
    assert 0 < float(config["min.cleanable.dirty.ratio"]) <= 0.25
    assert 0 < int(config["max.compaction.lag.ms"]) < week_ms
    assert 0 < int(config["delete.retention.ms"]) < week_ms


# --------------------------------------------------------------------------- kafka users and ACLs

# The Kafka principals the platform declares, by the workload (module) that uses each; the
# dashboard user is for readers outside the platform's workloads.
KAFKA_USERS = {
    "processor": "services.processor",
    "ingest": "services.ingest",
    "query": "services.query",
    "dashboard": None,
}


def _grants(user: dict, resource_type: str, name: str, operation: str) -> bool:
    """Whether a KafkaUser's simple-authorization ACLs allow `operation` on one resource."""
    for rule in user["spec"]["authorization"]["acls"]:
        if rule.get("type", "allow") != "allow":
            continue
        resource = rule["resource"]
        if resource["type"] != resource_type:
            continue
        pattern, kind = resource.get("name", ""), resource.get("patternType", "literal")
        if resource_type == "cluster":
            matches = True  # the cluster resource has no name
        elif kind == "prefix":
            matches = name.startswith(pattern)
        else:
            matches = pattern in ("*", name)
        if matches and (operation in rule["operations"] or "All" in rule["operations"]):
            return True
    return False


def _topic_rules(user: dict) -> list[dict]:
    return [
        rule
        for rule in user["spec"]["authorization"]["acls"]
        if rule["resource"]["type"] == "topic"
    ]


def _internal_topics(rendered: Rendered) -> tuple[str, set[str]]:
    """The processor's app id and its internal topic names, from its workload's settings."""
    from services.processor.topics import ProcessorTopics

    (processor,) = [
        w for w in rendered.workloads if service_module(the_container(w)) == "services.processor"
    ]
    container = the_container(processor)
    settings = load_service_settings(
        "services.processor", container_env(rendered, processor, container), workload_id(processor)
    )
    topics = ProcessorTopics.of(settings)
    platform = {spec.name for spec in topics.platform.all}
    internal = {spec.name for spec in topics.all} - platform
    internal.add(f"{topics.app_id}-__assignor-__leader")  # Faust's own
    return topics.app_id, internal


def test_kafka_requires_authentication_and_enforces_acls(rendered):
    spec = rendered.kafka["spec"]
    assert spec["kafka"].get("authorization", {}).get("type") == "simple", (
        f"{rendered.overlay}: the brokers must enforce the KafkaUsers' ACLs"
    )
    assert not spec["kafka"]["authorization"].get("superUsers"), (
        f"{rendered.overlay}: no super users"
    )
    assert (
        str(spec["kafka"].get("config", {}).get("allow.everyone.if.no.acl.found", "false")).lower()
        == "false"
    )
    methods = set()
    for listener in spec["kafka"]["listeners"]:
        authentication = listener.get("authentication", {}).get("type")
        assert authentication, (
            f"{rendered.overlay}: listener {listener['name']} admits anonymous clients"
        )
        methods.add(authentication)
    assert "userOperator" in spec.get("entityOperator", {}), (
        f"{rendered.overlay}: KafkaUsers need the User Operator"
    )
    users = {user["metadata"]["name"]: user for user in rendered.of_kind("KafkaUser")}
    assert set(KAFKA_USERS) <= set(users), f"{rendered.overlay}: KafkaUsers {sorted(users)}"
    for name, user in users.items():
        where = f"{rendered.overlay}: KafkaUser/{name}"
        assert (
            user["metadata"]["labels"]["strimzi.io/cluster"] == rendered.kafka["metadata"]["name"]
        ), where
        assert user["spec"]["authentication"]["type"] in methods, (
            f"{where}: no listener accepts its authentication"
        )
        assert user["spec"]["authorization"]["type"] == "simple", where


def test_each_kafka_workload_authenticates_as_its_own_user(rendered):
    """Every workload with Kafka settings connects with SASL/SCRAM as the KafkaUser made for it,
    with the password from that user's own Secret, over what the listener speaks."""
    users = {user["metadata"]["name"]: user for user in rendered.of_kind("KafkaUser")}
    (listener,) = rendered.kafka["spec"]["kafka"]["listeners"]
    protocol = "SASL_SSL" if listener.get("tls") else "SASL_PLAINTEXT"
    mechanism = {"scram-sha-512": "SCRAM-SHA-512"}[listener["authentication"]["type"]]
    for workload in rendered.workloads:
        container = the_container(workload)
        module = service_module(container)
        if module in HTTP_SERVICES:
            continue
        where = f"{rendered.overlay}: {workload_id(workload)}"
        settings = load_service_settings(
            module, container_env(rendered, workload, container), where
        )
        kafka = settings.kafka
        assert (kafka.security_protocol, kafka.sasl_mechanism) == (protocol, mechanism), where
        assert KAFKA_USERS.get(kafka.sasl_username) == module, (
            f"{where}: authenticates as {kafka.sasl_username!r}, not as its own KafkaUser"
        )
        assert kafka.sasl_username in users, where
        (password,) = [e for e in container["env"] if e["name"] == "KAFKA_SASL_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {
            "name": kafka.sasl_username,
            "key": "password",
        }, f"{where}: the password must come from its user's Secret"


def test_readers_get_the_benchmarks_topic_only(rendered):
    """The query service reads the benchmarks, the sites registry and the site flags (counts
    only); every other reader the benchmarks only."""
    topics = _topic_specs()
    benchmarks = next(spec.name for spec in topics if spec.name.startswith("jedi.benchmarks."))
    sites = next(spec.name for spec in topics if spec.name.startswith("jedi.sites."))
    trail = next(spec.name for spec in topics if spec.name.startswith("jedi.audit-trail."))
    flags = next(spec.name for spec in topics if spec.name.startswith("jedi.site-flags."))
    allowed = {"query": {benchmarks, sites, trail, flags}, "dashboard": {benchmarks}}
    for name, topic_names in allowed.items():
        user = rendered.get("KafkaUser", name)
        where = f"{rendered.overlay}: KafkaUser/{name}"
        for rule in user["spec"]["authorization"]["acls"]:
            resource = rule["resource"]
            assert resource["type"] in ("topic", "group"), (
                f"{where}: an ACL on a {resource['type']}"
            )
        for rule in _topic_rules(user):
            resource = rule["resource"]
            assert resource.get("patternType", "literal") == "literal", (
                f"{where}: a prefix ACL on topics"
            )
            assert resource["name"] in topic_names, f"{where}: an ACL on topic {resource['name']}"
            # The query service appends every query to the audit trail: its only Write.
            operations = {"Read", "Describe"} | ({"Write"} if resource["name"] == trail else set())
            assert set(rule["operations"]) <= operations, f"{where}: {rule['operations']}"
        for topic in topic_names:
            assert _grants(user, "topic", topic, "Read"), f"{where}: cannot read {topic}"


def test_only_the_processor_reads_unsuppressed_topics(rendered):
    """Event, registry and internal topics hold unsuppressed data: the processor reads them, ingest its own."""
    from shared.topics import Topics

    platform = Topics()
    specs = {spec.name: spec for spec in _topic_specs()}
    by_role = {
        role: getattr(platform, role).name
        for role in (
            "interventions",
            "survey_responses",
            "sites",
            "instruments",
            "cycles",
            "deadletter",
            "benchmarks",
            "site_flags",
        )
    }
    assert set(by_role.values()) <= set(specs)
    app_id, internal = _internal_topics(rendered)
    events = {by_role["interventions"], by_role["survey_responses"]}
    registry = {by_role["sites"], by_role["instruments"], by_role["cycles"]}
    users = {user["metadata"]["name"]: user for user in rendered.of_kind("KafkaUser")}
    processor, ingest = users["processor"], users["ingest"]

    for topic in events | registry:
        assert _grants(processor, "topic", topic, "Read"), f"processor cannot read {topic}"
        assert _grants(ingest, "topic", topic, "Write"), f"ingest cannot write {topic}"
        assert _grants(ingest, "topic", topic, "Read"), f"ingest cannot read {topic} back at start"
    for topic in (by_role["benchmarks"], by_role["deadletter"]):
        assert _grants(processor, "topic", topic, "Write"), f"processor cannot write {topic}"
    for topic in internal:
        for operation in ("Create", "Read", "Write"):
            assert _grants(processor, "topic", topic, operation), (
                f"processor: no {operation} on {topic}"
            )
    assert _grants(processor, "group", app_id, "Read"), f"processor: no Read on its group {app_id}"

    readers_of = {
        topic: sorted(name for name, user in users.items() if _grants(user, "topic", topic, "Read"))
        for topic in [*specs, *internal]
    }
    for topic, readers in readers_of.items():
        where = f"{rendered.overlay}: {topic} is readable by {readers}"
        if topic == by_role["benchmarks"]:
            continue  # suppressed: safe for any reader
        if topic == by_role["sites"]:
            assert set(readers) <= {"processor", "ingest", "query"}, where
        elif topic == platform.audit_trail.name:  # who did what: coordinators, via query
            assert readers == ["query"], where
        elif topic == by_role["site_flags"]:  # counts of refused uploads, for coordinators
            assert set(readers) <= {"query"}, where
        elif topic in events | registry:
            assert set(readers) <= {"processor", "ingest"}, where
        else:  # internal topics and dead letters (which carry raw records)
            assert set(readers) <= {"processor"}, where
    writers = sorted(
        name
        for name, user in users.items()
        if _grants(user, "topic", by_role["benchmarks"], "Write")
    )
    assert writers == ["processor"], (
        f"{rendered.overlay}: the benchmarks topic is written by {writers}"
    )
    for name, user in users.items():
        assert not _grants(user, "cluster", "", "Alter"), f"KafkaUser/{name} may alter the cluster"


def test_the_web_dashboard_has_no_kafka_user(rendered):
    """The `dashboard` KafkaUser is for direct readers of the benchmarks topic: the web dashboard
    reads the query service with each user's own key, and gets no Kafka setting or credential."""
    users = {user["metadata"]["name"] for user in rendered.of_kind("KafkaUser")}
    for workload in rendered.workloads:
        if service_module(the_container(workload)) not in HTTP_SERVICES:
            continue
        where = f"{rendered.overlay}: {workload_id(workload)}"
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"]:
            env = container_env(rendered, workload, container)
            assert not [name for name in env if name.startswith("KAFKA")], (
                f"{where}: Kafka settings"
            )
            referenced = {
                entry["valueFrom"]["secretKeyRef"]["name"]
                for entry in container.get("env") or ()
                if "secretKeyRef" in entry.get("valueFrom", {})
            }
            referenced |= {
                source["secretRef"]["name"]
                for source in container.get("envFrom") or ()
                if "secretRef" in source
            }
            assert not referenced & users, f"{where}: a KafkaUser's Secret"
        mounted = {
            volume["secret"]["secretName"]
            for volume in spec.get("volumes") or ()
            if "secret" in volume
        }
        assert not mounted & users, f"{where}: mounts a KafkaUser's Secret"


# --------------------------------------------------------------------------- docker compose


def _compose_app_services(compose: dict) -> dict[str, tuple[str, dict]]:
    """Compose service name -> (module, environment) for the services built from this repo."""
    found = {}
    for name, service in compose["services"].items():
        command = service.get("command")
        if command and command[:2] == ["python", "-m"]:
            env = service.get("environment") or {}
            if isinstance(env, list):
                env = dict(item.split("=", 1) for item in env)
            found[name] = (command[2], {k: str(v) for k, v in env.items()})
    return found


def _compose_mounts(service: dict) -> dict[str, str]:
    """Container path -> source (host path or named volume), from the short volume syntax."""
    mounts = {}
    for entry in service.get("volumes", ()):
        source, target, *_mode = str(entry).split(":")
        mounts[target] = source
    return mounts


def _published(service: dict) -> dict[int, int]:
    """Container port -> host port."""
    ports = {}
    for entry in service.get("ports", ()):
        if isinstance(entry, dict):
            ports[int(entry["target"])] = int(entry["published"])
            continue
        *host, container = str(entry).split(":")
        ports[int(container.split("/")[0])] = int(host[-1]) if host else int(container)
    return ports


def test_compose_runs_kafka_in_kraft_mode(compose):
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "healthcheck" in kafka
    assert not any("zookeeper" in name for name in compose["services"])


def test_compose_services_agree_with_the_settings(compose):
    apps = _compose_app_services(compose)
    modules = {module for module, _ in apps.values()}
    assert modules == set(SERVICES), f"compose runs {sorted(modules)}"

    kafka_env = compose["services"]["kafka"]["environment"]
    advertised = dict(
        reversed(listener.split("://", 1))
        for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    host_ports = []
    for name, (module, env) in apps.items():
        where = f"docker-compose.yml: {name}"
        service = compose["services"][name]
        settings = load_service_settings(module, env, where)
        if module in HTTP_SERVICES:
            _check_compose_web_service(compose, service, settings, where)
            host_ports += _published(service).values()
            continue
        assert settings.kafka_bootstrap_servers in advertised, (
            f"{where}: KAFKA_BOOTSTRAP_SERVERS is not an advertised listener {sorted(advertised)}"
        )
        assert settings.kafka_bootstrap_servers.split(":")[0] in compose["services"], where
        assert service.get("image", "").split(":")[0] == IMAGE, where
        assert (
            service["build"]["dockerfile"]
            and (REPO / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        ), where
        assert "healthcheck" in service, f"{where}: no healthcheck"
        depends = service.get("depends_on", {})
        assert depends.get("kafka", {}).get("condition") == "service_healthy", (
            f"{where}: waits for kafka"
        )
        for dependency, condition in depends.items():
            assert condition["condition"] == "service_healthy", f"{where}: {dependency}"
            assert "healthcheck" in compose["services"][dependency], (
                f"{where}: {dependency} has no healthcheck"
            )

        published = _published(service)
        host_ports += published.values()
        if hasattr(settings, "port"):
            assert settings.host == "0.0.0.0", f"{where}: JEDI_HOST must be 0.0.0.0 in a container"
            assert settings.port in published, (
                f"{where}: JEDI_PORT {settings.port} is not published"
            )
        if hasattr(settings, "credentials_file"):
            source = _compose_mounts(service).get(str(settings.credentials_file))
            assert source, f"{where}: nothing mounted at JEDI_CREDENTIALS_FILE"
            CredentialStore.from_file(REPO / source)
            site_ids = check_credentials(json.loads((REPO / source).read_text()))
            if getattr(settings, "site_id", None):
                assert settings.site_id in site_ids, (
                    f"{where}: no credentials for {settings.site_id}"
                )
        if hasattr(settings, "state_dir"):
            source = _compose_mounts(service).get(str(settings.state_dir))
            assert source in (compose.get("volumes") or {}), (
                f"{where}: JEDI_STATE_DIR is not a named volume"
            )
    assert len(host_ports) == len(set(host_ports)), f"host ports collide: {host_ports}"


def _check_compose_web_service(compose: dict, service: dict, settings, where: str) -> None:
    """A web service waits for a healthy query service, reaches it by its compose name, and
    publishes its HTTP port; it has no Kafka settings."""
    assert not hasattr(settings, "kafka_bootstrap_servers"), where
    assert service.get("image", "").split(":")[0] == IMAGE, where
    assert "healthcheck" in service, f"{where}: no healthcheck"
    host, port = settings.query_address.rsplit(":", 1)
    query_env = _compose_app_services(compose)[host][1]
    assert query_env.get("JEDI_PORT") == port, f"{where}: JEDI_QUERY_ADDRESS port"
    assert service.get("depends_on", {}).get(host, {}).get("condition") == "service_healthy", where
    assert settings.host == "0.0.0.0", f"{where}: JEDI_HOST must be 0.0.0.0 in a container"
    assert settings.port in _published(service), (
        f"{where}: JEDI_PORT {settings.port} is not published"
    )


def test_compose_dashboard_healthcheck_needs_the_ready_endpoint(compose):
    """The dashboard's healthcheck one-liner: healthy on a 200 from /readyz, not otherwise."""
    test = compose["services"]["dashboard"]["healthcheck"]["test"]
    answers = {"/readyz": 200}

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(answers.get(self.path, 404))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"JEDI_PORT": str(server.server_address[1])}
        assert _run_healthcheck(test, env) == 0
        answers["/readyz"] = 503
        assert _run_healthcheck(test, env) != 0
    finally:
        server.shutdown()
        server.server_close()


def test_compose_runs_one_ingest_per_demo_site(compose):
    sites = {}
    for name, (module, env) in _compose_app_services(compose).items():
        if module == "services.ingest":
            sites[name] = load_service_settings(module, env, name).site_id
    assert set(sites.values()) == DEMO_SITES, sites
    assert all(name.endswith(site) for name, site in sites.items()), sites


def test_compose_demo_keys_authenticate_as_documented():
    readme = (REPO / "deploy" / "compose" / "README.md").read_text()
    store = CredentialStore.from_file(REPO / "deploy" / "compose" / "credentials.json")
    rows = re.findall(r"^\| `([^`]+)` \| (\w+) \| `?([\w-]+)`? \|$", readme, flags=re.M)
    assert len(rows) == len(DEMO_SITES) + 1, rows
    for key, role, site in rows:
        principal = store.authenticate(key)
        assert principal is not None, key
        assert principal.role.value == role
        assert principal.site_id == (None if role == "coordinator" else site)


def _run_healthcheck(test: list[str], env: dict[str, str]) -> int:
    assert test[0] == "CMD" and test[1] == "python", test
    result = subprocess.run(
        [sys.executable, *test[2:]], env={**os.environ, **env}, capture_output=True, timeout=60
    )
    return result.returncode


def test_compose_grpc_healthcheck_reports_serving_only():
    """The one-liner the gRPC services' healthcheck runs, against a real health server."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    test = compose["services"]["query"]["healthcheck"]["test"]
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert _run_healthcheck(test, {"JEDI_PORT": str(port)}) != 0
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert _run_healthcheck(test, {"JEDI_PORT": str(port)}) == 0
    finally:
        server.stop(None)


def test_compose_processor_healthcheck_gets_the_web_port():
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    test = compose["services"]["processor"]["healthcheck"]["test"]

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _run_healthcheck(test, {"JEDI_WEB_PORT": str(server.server_address[1])}) == 0
    finally:
        server.shutdown()
        server.server_close()
    with ThreadingHTTPServer(("127.0.0.1", 0), Ok) as closed:
        free_port = closed.server_address[1]
    assert _run_healthcheck(test, {"JEDI_WEB_PORT": str(free_port)}) != 0


def test_image_runs_as_the_user_the_manifests_expect():
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^USER 10001(:10001)?$", dockerfile, flags=re.M)
    for path in (K8S / "base" / "apps").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] in WORKLOAD_KINDS:
                assert doc["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
