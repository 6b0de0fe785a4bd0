"""The platform on a broker that requires what the deployment's requires: SASL_SSL logins with
SCRAM-SHA-512 (over TLS, with a certificate made for the test) and ACLs enforced.

A broker of its own (scripts/kafka.sh, KAFKA_SECURITY=sasl_ssl) on free ports, beside the plain
one; its users and ACLs are the KafkaUsers of deploy/k8s/base/kafka/users.yaml, and its topics
are production's names (no namespace), created by the admin as Strimzi's Topic Operator would.
Ingest, the processor and the query service run as real processes, each with its own user, set
through the same KAFKA_* settings the deploy gives them. A service whose user's ACLs do not
allow a topic is refused by the brokers, and its log says which user was denied what.
"""

from __future__ import annotations

import json

import grpc
import pytest
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from jedi.v1 import ingest_pb2, ingest_pb2_grpc, query_pb2, query_pb2_grpc
from services.local_process import ServiceProcess
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.kafka import ensure_topics, make_admin
from shared.topics import Topics
from tests.support.credentials import write_credentials
from tests.support.ingest import DATASET_NOW
from tests.support.platform import Platform, free_port, wait_serving
from tests.support.processor_process import processor_env
from tests.support.secure_kafka import (
    Acl,
    SecureBroker,
    deployed_acls,
    passwords,
    secure_broker_running,
)
from tests.support.waiting import eventually

TOPICS = Topics("")  # production's names: the ACLs of users.yaml are literal on them
SERVICES = ("ingest", "processor", "query")
# A user with all of ingest's ACLs but Write on the survey topic: refused when it publishes.
NO_SURVEY_WRITE = "ingest-without-survey-write"


@pytest.fixture(scope="module")
def dataset():
    return build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=0.05)


@pytest.fixture(scope="module")
def secure(tmp_path_factory) -> SecureBroker:
    with secure_broker_running(tmp_path_factory.mktemp("kafka-sasl-ssl")) as broker:
        yield broker


@pytest.fixture(scope="module")
def users(secure) -> dict[str, str]:
    """The deploy's users (and one short of ingest's grants) with their passwords."""
    acls = deployed_acls()
    assert set(SERVICES) <= set(acls), acls.keys()
    acls[NO_SURVEY_WRITE] = tuple(
        Acl(acl.resource_type, acl.name, acl.pattern_type, ("READ", "DESCRIBE"))
        if acl.name == TOPICS.survey_responses.name
        else acl
        for acl in acls["ingest"]
    )
    made = passwords(acls)
    secure.grant(made, acls)
    return made


@pytest.fixture(scope="module")
async def topics_created(secure, users) -> None:
    """Every platform topic, made by the admin (the deploy declares them as KafkaTopics)."""
    await ensure_topics(secure.admin, [*TOPICS.all, TOPICS.audit_trail])


def service(module: str, env: dict[str, str], log_name: str, tmp_path) -> ServiceProcess:
    return ServiceProcess(module, {**env, "JEDI_LOG_LEVEL": "INFO"}, tmp_path / log_name)


async def test_a_login_needs_the_users_password(secure, users):
    admin = make_admin(secure.connection("query", "not-the-password"), request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()


async def test_only_the_processor_and_ingest_may_see_raw_responses(secure, users, topics_created):
    """The brokers, not the services, keep the unsuppressed topics from other readers: to the
    query and dashboard users the survey topic does not even exist (no Describe, so no Read)."""
    seen = {}
    for user in ("processor", "ingest", "query", "dashboard"):
        admin = make_admin(secure.connection(user, users[user]))
        await admin.start()
        try:
            (description,) = await admin.describe_topics([TOPICS.survey_responses.name])
        finally:
            await admin.close()
        seen[user] = description["error_code"]
    denied = TopicAuthorizationFailedError.errno
    assert seen == {"processor": 0, "ingest": 0, "query": denied, "dashboard": denied}, seen


async def test_the_platform_runs_with_its_own_users_and_acls(
    secure, users, topics_created, dataset, tmp_path
):
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    ports = {"ingest": free_port(), "query": free_port()}
    platform = Platform(dataset, keys, ports)
    common = {"JEDI_CREDENTIALS_FILE": str(keys.path), "JEDI_TOPIC_NAMESPACE": ""}
    processes: list[ServiceProcess] = []
    try:
        ingest = service(
            "services.ingest",
            {
                **common,
                **secure.service_env("ingest", users["ingest"]),
                "JEDI_PORT": str(ports["ingest"]),
            },
            "ingest.log",
            tmp_path,
        )
        processes.append(ingest)
        await wait_serving(platform.ingest_address, ingest)
        processor = service(
            "services.processor",
            {
                **processor_env(
                    namespace="",
                    state_dir=tmp_path / "state",
                    servers=secure.bootstrap_servers,
                    registry_check_interval_s=1,
                ),
                **secure.service_env("processor", users["processor"]),
            },
            "processor.log",
            tmp_path,
        )
        processes.append(processor)
        query = service(
            "services.query",
            {
                **common,
                **secure.service_env("query", users["query"]),
                "JEDI_PORT": str(ports["query"]),
            },
            "query.log",
            tmp_path,
        )
        processes.append(query)
        await wait_serving(platform.query_address, query)

        await platform.push_dataset()
        sent = {
            site.site_id: sum(
                1
                for event in [*dataset.responses, *dataset.interventions]
                if event.site_id == site.site_id
            )
            for site in dataset.sites
        }

        async def releases() -> dict[str, int]:
            async with open_channel(platform.query_address) as channel:
                answer = await query_pb2_grpc.BenchmarkServiceStub(channel).ListReleases(
                    query_pb2.ListReleasesRequest(),
                    metadata=call_metadata(keys.coordinator),
                    timeout=10,
                )
            return {
                status.site_id: sum(status.covered.values()) + sum(status.held_back.values())
                for status in answer.releases
                if status.site_id
            }

        async def accounted() -> dict[str, int]:
            for process in processes:
                assert process.running, f"{process.module} exited:\n{process.tail()}"
            return await releases()

        # Every event went ingest → broker → processor → broker → query, each as its own user.
        await eventually(
            accounted,
            240,
            what="a release of every site accounting for every event sent",
            until=lambda seen: seen == sent,
            interval=0.5,
        )
        for process in processes:
            assert process.running, process.tail()
            assert "TopicAuthorizationFailed" not in "\n".join(process.log_lines())
    except BaseException:
        for process in processes:
            print(f"--- {process.log_path.name}\n{process.tail(40)}")
        raise
    finally:
        for process in reversed(processes):
            process.stop()


async def test_a_service_whose_acls_lack_a_topic_is_refused_and_says_so(
    secure, users, topics_created, tmp_path
):
    """The query service run as the `dashboard` user (the benchmarks topic only, not the sites
    registry) does not start, and its log names the user and the topic it was denied."""
    keys = write_credentials(tmp_path, ["site-north"])
    query = service(
        "services.query",
        {
            "JEDI_CREDENTIALS_FILE": str(keys.path),
            "JEDI_TOPIC_NAMESPACE": "",
            "JEDI_PORT": str(free_port()),
            **secure.service_env("dashboard", users["dashboard"]),
        },
        "query-as-dashboard.log",
        tmp_path,
    )
    try:
        code = query.process.wait(120)
    finally:
        query.stop()
    assert code == 1, query.tail()
    failures = [
        json.loads(line)
        for line in query.log_lines()
        if line.startswith("{") and '"service_start_failed"' in line
    ]
    assert len(failures) == 1, query.tail()
    reason = failures[0]["reason"]
    assert "Kafka denied user 'dashboard'" in reason, reason
    assert TOPICS.sites.name in reason and TOPICS.benchmarks.name not in reason, reason
    assert "ACLs do not allow it" in reason, reason


async def test_ingest_refused_a_write_answers_unavailable_and_logs_the_denial(
    secure, users, topics_created, dataset, tmp_path
):
    """An ingest whose user may not write the survey topic: the submission is not acknowledged
    (UNAVAILABLE, nothing stored) and the log says the brokers denied that user that Write."""
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    port = free_port()
    ingest = service(
        "services.ingest",
        {
            "JEDI_CREDENTIALS_FILE": str(keys.path),
            "JEDI_TOPIC_NAMESPACE": "",
            "JEDI_PORT": str(port),
            "JEDI_PUBLISH_TIMEOUT_S": "20",
            **secure.service_env(NO_SURVEY_WRITE, users[NO_SURVEY_WRITE]),
        },
        "ingest-no-write.log",
        tmp_path,
    )
    address = f"127.0.0.1:{port}"
    try:
        await wait_serving(address, ingest)
        site = dataset.sites[0].site_id
        # Not sent before (another seed, other event ids): they would be answered as duplicates.
        fresh = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=0.05, seed=20)
        responses = [r for r in fresh.responses if r.site_id == site][:3]
        assert not {r.event_id for r in responses} & {r.event_id for r in dataset.responses}
        async with open_channel(address) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            # Its user may write the registry: the site and instrument it takes responses for.
            coordinator = call_metadata(keys.coordinator)
            await stub.PutInstrument(
                ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(fresh.instrument)),
                metadata=coordinator,
                timeout=30,
            )
            await stub.PutSite(
                ingest_pb2.PutSiteRequest(site=site_to_proto(fresh.sites[0])),
                metadata=coordinator,
                timeout=30,
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SubmitEvents(
                    ingest_pb2.SubmitEventsRequest(events=[event_to_proto(r) for r in responses]),
                    metadata=call_metadata(keys.sites[site]),
                    timeout=60,
                )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value

        def denial() -> list[str]:
            return [
                reason
                for line in ingest.log_lines()
                if line.startswith("{") and '"publish_failed"' in line
                for reason in json.loads(line)["reasons"]
            ]

        reasons = await eventually(denial, 30, what="publish_failed logged", until=bool)
        assert reasons == [
            f"Kafka denied user '{NO_SURVEY_WRITE}' Write on {TOPICS.survey_responses.name} "
            "(TopicAuthorizationFailedError): its ACLs do not allow it "
            "(deploy/k8s/base/kafka/users.yaml grants each service's user its topics)"
        ], reasons
    finally:
        ingest.stop()
