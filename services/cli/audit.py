"""`jedi audit`: run the privacy auditor over everything on `jedi.benchmarks.v1`.

Reads every partition of the benchmarks topic from offset 0 to the end offsets it finds when
it starts (`--bootstrap-servers` or KAFKA_BOOTSTRAP_SERVERS; `--topic-namespace` or
JEDI_TOPIC_NAMESPACE), decodes every release (`release_from_proto`) and runs the auditor
(`shared.domain.audit.audit`) over every release read, superseded ones included. Compaction
may already have removed older releases: the audit judges what is still on the topic, and the
summary says how many records that was. For the full history, audit a recording.

Prints a summary (records, releases, scopes, findings by kind), then one line per finding.
A record that cannot be read is a finding too (`unreadable_record`): the query service refuses
it, but a reader of the topic still holds it. Exit status: 1 when there is any finding, 0 when
there is none, 2 when the audit could not run (bad arguments, broker unreachable, no topic).
The `dashboard` Kafka user (read access to the benchmarks topic only) is enough.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field, replace

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from google.protobuf.message import DecodeError

from jedi.v1 import benchmarks_pb2
from shared.convert_releases import (
    PROGRESS_PREFIX,
    progress_from_proto,
    record_key,
    release_from_proto,
)
from shared.domain.audit import Finding, audit
from shared.domain.releases import Release
from shared.kafka import Kafka, make_admin, replay_topics, topic_partitions
from shared.service_settings import CommonSettings
from shared.settings import SettingsError, load_settings
from shared.topics import Topics

UNREADABLE = "unreadable_record"


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return number


def _env_int(name: str, default: int) -> int | str:
    return os.environ.get(name, default)  # converted (and checked) by argparse's type


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check every release on the benchmarks topic with the privacy auditor",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--bootstrap-servers", help="Kafka (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:19092)"
    )
    parser.add_argument(
        "--topic-namespace", help="prefix of the topic names (default: $JEDI_TOPIC_NAMESPACE)"
    )
    parser.add_argument(
        "--min-cell-size",
        type=_positive_int,
        default=_env_int("JEDI_MIN_CELL_SIZE", 10),
        help="k (default: $JEDI_MIN_CELL_SIZE or 10)",
    )
    parser.add_argument(
        "--min-sites",
        type=_positive_int,
        default=_env_int("JEDI_MIN_SITES", 10),
        help="fewest sites in a distribution (default: $JEDI_MIN_SITES or 10)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=15.0,
        help="seconds to reach the broker and find the topic (default 15)",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Unreadable:
    partition: int
    offset: int
    key: str
    reason: str

    def line(self) -> str:
        return f"{UNREADABLE} partition={self.partition} offset={self.offset} key={self.key}: {self.reason}"


@dataclass
class TopicContents:
    """What the audit read: every release, and counts of everything else."""

    records: int = 0
    partitions: int = 0
    releases: list[Release] = field(default_factory=list)
    progress: int = 0
    tombstones: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)

    def take(self, record: ConsumerRecord) -> None:
        self.records += 1
        try:
            key = record.key.decode() if record.key is not None else ""
        except UnicodeDecodeError:
            key = repr(record.key)
        problem = self._read(key, record.value)
        if problem is not None:
            self.unreadable.append(
                Unreadable(record.partition, record.offset, key or "(none)", problem)
            )

    def _read(self, key: str, value: bytes | None) -> str | None:
        """Keeps the record's release; the reason it cannot be read, or None."""
        if value is None:
            self.tombstones += 1
            return None
        try:
            message = benchmarks_pb2.BenchmarkRecord.FromString(value)
        except DecodeError as error:
            return f"not a BenchmarkRecord ({error})"
        kind = message.WhichOneof("record")
        if kind == "progress":
            progress = progress_from_proto(message.progress)
            self.progress += 1
            if key != record_key(progress).decode():
                return f"progress of {progress.scope!r} under another key"
            return None
        if kind != "release":
            return "a BenchmarkRecord holding neither a release nor progress"
        try:
            release = release_from_proto(message.release)
        except (ValueError, KeyError) as error:
            return f"a release that does not fit the contract ({error})"
        self.releases.append(release)  # kept either way: a reader of the topic holds it
        if key.startswith(PROGRESS_PREFIX) or key != record_key(release).decode():
            return f"release {release.number} of {release.scope!r} under another key"
        return None


class NoTopic(Exception):
    pass


async def _existing_partitions(kafka: Kafka, topic: str) -> int:
    """How many partitions `topic` has. Listed first: describing a topic that does not exist
    would create it on a broker with auto.create.topics.enable (a typo'd namespace would stay)."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            raise NoTopic(topic)
    finally:
        await admin.close()
    return len(await topic_partitions(kafka, [topic]))


async def read_benchmarks(kafka: Kafka, topic: str, *, connect_timeout: float) -> TopicContents:
    """Every record of `topic` up to the end offsets at the start."""
    partitions = await asyncio.wait_for(_existing_partitions(kafka, topic), connect_timeout)
    contents = TopicContents(partitions=partitions)
    await replay_topics(kafka, [topic], contents.take)
    return contents


def finding_line(finding: Finding) -> str:
    releases = ",".join(str(number) for number in finding.releases)
    return (
        f"{finding.kind.value} {finding.scope} releases={releases} size={finding.size} "
        f"keys={','.join(finding.keys)}: {finding.description}"
    )


def report(
    topic: str,
    servers: str,
    contents: TopicContents,
    findings: list[Finding],
    k: int,
    min_sites: int,
) -> str:
    scopes = Counter(release.scope for release in contents.releases)
    sites = sum(1 for scope in scopes if scope.startswith("site/"))
    older = len(contents.releases) - len(scopes)
    kinds = Counter(finding.kind.value for finding in findings)
    kinds.update({UNREADABLE: len(contents.unreadable)} if contents.unreadable else {})
    total = len(findings) + len(contents.unreadable)
    by_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    lines = [
        f"audit of {topic} at {servers} (k={k}, min sites={min_sites})",
        f"records: {contents.records} read from {contents.partitions} partitions, offset 0 to the end at start "
        f"(compaction may have removed superseded releases before this read)",
        f"releases: {len(contents.releases)} ({older} besides the latest of each scope), "
        f"progress records: {contents.progress}, tombstones: {contents.tombstones}, "
        f"unreadable: {len(contents.unreadable)}",
        f"scopes: {len(scopes)} ({sites} sites, {len(scopes) - sites} cross-site)",
        f"findings: {total}" + (f" ({by_kind})" if by_kind else ""),
    ]
    lines += [item.line() for item in contents.unreadable]
    lines += [finding_line(finding) for finding in findings]
    return "\n".join(lines)


def run(arguments: argparse.Namespace) -> int:
    try:
        common = load_settings(CommonSettings)
    except SettingsError as error:
        print(f"jedi audit: {error}", file=sys.stderr)
        return 2
    servers = arguments.bootstrap_servers or common.kafka_bootstrap_servers
    namespace = (
        common.topic_namespace if arguments.topic_namespace is None else arguments.topic_namespace
    )
    topic = Topics(namespace).benchmarks.name
    k, min_sites = arguments.min_cell_size, arguments.min_sites
    # aiokafka reports each failed connection attempt itself; the command says it once, below.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        contents = asyncio.run(
            read_benchmarks(
                replace(common.kafka, bootstrap_servers=servers),
                topic,
                connect_timeout=arguments.connect_timeout,
            )
        )
    except (TimeoutError, KafkaError, OSError) as error:
        reason = str(error) or type(error).__name__
        print(
            f"jedi audit: cannot read {topic} from the broker at {servers}: {reason}",
            file=sys.stderr,
        )
        return 2
    except (NoTopic, RuntimeError):  # RuntimeError: topic_partitions found no such topic either
        print(
            f"jedi audit: no topic {topic} at {servers} (is --topic-namespace right?)",
            file=sys.stderr,
        )
        return 2
    findings = audit(contents.releases, k, min_sites=min_sites)
    try:
        print(report(topic, servers, contents, findings, k, min_sites))
    except BrokenPipeError:  # piped into `head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if findings or contents.unreadable else 0
