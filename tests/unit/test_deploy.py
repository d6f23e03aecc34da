"""Deploy files agree with the code: compose runs every service on its settings' port, and
Prometheus scrapes each of them."""

from pathlib import Path

import yaml

from services.enrich.settings import EnrichSettings
from services.ingest.settings import IngestSettings
from services.notify.settings import DeliverySettings, NotifySettings
from services.runtime.local import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PORTS = {
    "ingest": IngestSettings().http.port,
    "enrich": EnrichSettings().http.port,
    "notify": NotifySettings().http.port,
    "deliver": DeliverySettings().http.port,
}


def load(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def test_compose_runs_each_service_on_its_default_port() -> None:
    compose = load(DEPLOY / "compose.yaml")["services"]
    for service, port in PORTS.items():
        spec = compose[service]
        assert spec["command"] == [service]
        assert spec["environment"]["NEWSWIRE_HTTP__PORT"] == str(port)
        assert spec["environment"]["NEWSWIRE_KAFKA__BOOTSTRAP"] == "kafka:9092"
    assert {"kafka", "topics", "prometheus"} <= compose.keys()
    api_port = str(NotifySettings().api.port)
    assert compose["notify"]["environment"]["NEWSWIRE_API__PORT"] == api_port
    assert f"{api_port}:{api_port}" in compose["notify"]["ports"]


def test_prometheus_scrapes_every_service() -> None:
    config = load(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {
        t for sc in config["scrape_configs"] for g in sc["static_configs"] for t in g["targets"]
    }
    assert targets == {f"{s}:{p}" for s, p in PORTS.items()}


def test_ports_are_distinct() -> None:
    assert len(set(PORTS.values())) == len(PORTS)
