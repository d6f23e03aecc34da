"""Local processes for the demo, tests and benchmarks: the broker script and worker processes.

The broker is whatever ``deploy/local/kafka`` starts (real Apache Kafka); workers are real
``newswire <service>`` processes, stopped with real signals.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "local" / "kafka"
DEFAULT_STATE_DIR = REPO_ROOT / ".cache" / "kafka-run"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _script(command: str, state_dir: Path, extra_env: dict[str, str] | None = None) -> str:
    env = {
        **os.environ,
        "KAFKA_STATE_DIR": str(state_dir),
        "NEWSWIRE_PYTHON": sys.executable,
        **(extra_env or {}),
    }
    done = subprocess.run(
        [str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 3):
        raise RuntimeError(f"deploy/local/kafka {command} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


@dataclass
class LocalBroker:
    state_dir: Path
    bootstrap: str

    def stop(self) -> None:
        _script("stop", self.state_dir)

    def start(self) -> None:
        """Starts again on the same port and data directory (after :meth:`kill` or stop)."""
        self.bootstrap = _script("start", self.state_dir).splitlines()[-1]

    def kill(self) -> None:
        """SIGKILL, as a crash would; the data directory stays."""
        pid = int((self.state_dir / "broker.pid").read_text())
        os.kill(pid, signal.SIGKILL)


def running_broker(state_dir: Path = DEFAULT_STATE_DIR) -> LocalBroker | None:
    status = _script("status", state_dir)
    if not status.startswith("running"):
        return None
    return LocalBroker(state_dir, _script("bootstrap", state_dir))


def start_broker(state_dir: Path = DEFAULT_STATE_DIR, partitions: int = 3) -> LocalBroker:
    out = _script("start", state_dir, {"KAFKA_PARTITIONS": str(partitions)})
    return LocalBroker(state_dir, out.splitlines()[-1])


@dataclass
class WorkerProcess:
    """One ``newswire <service>`` process with its own HTTP port and log file."""

    service: str
    bootstrap: str
    topic_prefix: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    # notify's subscription API listens here (other services ignore the setting).
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "NEWSWIRE_KAFKA__BOOTSTRAP": self.bootstrap,
            "NEWSWIRE_TOPIC_PREFIX": self.topic_prefix,
            "NEWSWIRE_HTTP__PORT": str(self.port),
            "NEWSWIRE_API__PORT": str(self.api_port),
            "NEWSWIRE_LOG_FORMAT": "json",
            **self.env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", self.service],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.service} exited with {self.process.returncode}; "
                        f"log {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.service} not ready in {timeout}s:\n{self.log_tail()}")

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}{path}") as resp:
            return resp.status, await resp.text()

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` (e.g. ``newswire_records_consumed_total``) on
        this worker's /metrics whose labels include ``labels``."""
        _, text = await self.get("/metrics")
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for the orderly shutdown; SIGKILL if it overruns. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._log:
            self._log.close()
