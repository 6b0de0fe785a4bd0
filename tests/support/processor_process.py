"""The processor as a real subprocess: its settings, its life cycle, and what it reports (its
Prometheus metrics, and its consumer group's committed offsets on the broker)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.processor.lag import consumer_lag
from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from tests.support.platform import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ProcessorProcess:
    """`python -m services.processor` with its own settings; logs go to a file."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessorProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.processor"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def topics(self) -> ProcessorTopics:
        return ProcessorTopics.of(
            ProcessorSettings(
                topic_namespace=self.env["JEDI_TOPIC_NAMESPACE"], app_id=self.env["JEDI_APP_ID"]
            )
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def terminate(self, timeout: float = 60) -> int | None:
        if self.process is None:
            return None
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    async def sample(self, name: str, **labels: str) -> float:
        """One sample of its Prometheus metrics (0 until the sample exists); raises OSError
        while the metrics server is not up."""
        url = f"http://127.0.0.1:{self.env['JEDI_METRICS_PORT']}/metrics"

        def scrape() -> str:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return str(reply.read().decode())

        for family in text_string_to_metric_families(await asyncio.to_thread(scrape)):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return 0.0

    async def inputs(self, outcome: str) -> int:
        """Input records it folded with this outcome (applied, duplicate, rejected), as counted
        by `jedi_processor_inputs_total`."""
        return int(await self.sample("jedi_processor_inputs_total", outcome=outcome))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def stopped_afterwards(processes: list[ProcessorProcess]) -> Iterator[None]:
    """Terminates every process in `processes` (the block may add more) when the block ends,
    after printing the last lines of each one's log if it failed."""
    try:
        yield
    except BaseException:
        for process in processes:
            print(f"--- {process.log_path.name}\n{process.log_tail(30)}")
        raise
    finally:
        for process in processes:
            process.terminate()


def processor_env(
    *,
    namespace: str,
    state_dir: Path,
    servers: str,
    app_id: str = "jedi-processor",
    **settings: object,
) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_APP_ID": app_id,
        "JEDI_STATE_DIR": str(state_dir),
        "JEDI_WEB_ENABLED": "false",
        "JEDI_METRICS_PORT": str(free_port()),
        "JEDI_LOG_LEVEL": "INFO",
        "JEDI_RELEASE_EVERY": "1s",  # releases on a short calendar (docs/privacy.md)
        "PYTHONUNBUFFERED": "1",
    }
    env.update({f"JEDI_{name.upper()}": str(value) for name, value in settings.items()})
    return env


async def uncommitted_inputs(servers: str, topics: ProcessorTopics) -> dict[tuple[str, int], int]:
    """Records on the processor's input partitions (events, site changes, summaries) that its
    consumer group has not committed. None once it is done with everything on them: a batch is
    committed only after what it caused is on the benchmarks topic."""
    inputs = [
        topics.platform.survey_responses.name,
        topics.platform.interventions.name,
        topics.site_changes.name,
        topics.site_summaries.name,
    ]
    lag = await consumer_lag(servers, topics.app_id, inputs)
    return {tp: n for tp, n in lag.items() if n}
