"""``newswire``: run a worker, feed or read topics, run the demo.

Settings come from the environment (``NEWSWIRE_*``, see services/runtime/settings.py). When
``NEWSWIRE_KAFKA__BOOTSTRAP`` is unset and the repository's local broker is running
(``deploy/local/kafka start``), its address is used, so commands work right after ``make kafka``.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas import topics
from services.runtime.settings import RuntimeSettings


def _default_bootstrap() -> None:
    if "NEWSWIRE_KAFKA__BOOTSTRAP" in os.environ:
        return
    from services.runtime.local import running_broker

    try:
        broker = running_broker()
    except (RuntimeError, OSError):
        broker = None
    if broker is not None:
        os.environ["NEWSWIRE_KAFKA__BOOTSTRAP"] = broker.bootstrap


def _run_service(name: str) -> int:
    from services.runtime.app import run_worker
    from services.runtime.logging import configure_logging
    from services.runtime.worker import Worker

    _default_bootstrap()
    settings: RuntimeSettings
    worker: Worker[Any, Any]
    if name == "ingest":
        from services.ingest.settings import IngestSettings
        from services.ingest.step import build_worker as build_ingest

        settings = IngestSettings()
        configure_logging(settings.log_level, settings.log_format, name)
        worker = build_ingest(settings)
    elif name == "enrich":
        from services.enrich.settings import EnrichSettings
        from services.enrich.step import build_worker as build_enrich

        settings = EnrichSettings()
        configure_logging(settings.log_level, settings.log_format, name)
        worker = build_enrich(settings)
    else:
        from services.notify.settings import NotifySettings
        from services.notify.step import build_worker as build_notify

        settings = NotifySettings()
        configure_logging(settings.log_level, settings.log_format, name)
        worker = build_notify(settings)
    asyncio.run(run_worker(worker, settings, handle_signals=True))
    return 0


def _produce(args: argparse.Namespace) -> int:
    from services.runtime.io import produce_raw, raw_event_from_file

    _default_bootstrap()
    settings = RuntimeSettings()
    events = [
        raw_event_from_file(Path(f), args.source, args.content_type, args.url) for f in args.files
    ]
    topic = settings.topic(topics.RAW.name)
    sent = asyncio.run(produce_raw(settings.kafka, topic, events))
    for path, (partition, offset) in zip(args.files, sent, strict=True):
        print(json.dumps({"file": path, "topic": topic, "partition": partition, "offset": offset}))
    return 0


def _tail(args: argparse.Namespace) -> int:
    from services.runtime.io import read_topic, record_as_dict

    _default_bootstrap()
    settings = RuntimeSettings()

    async def run() -> None:
        async for record in read_topic(
            settings.kafka.bootstrap,
            settings.topic(args.topic),
            from_beginning=not args.new,
            idle_timeout=args.idle,
            max_records=args.max,
        ):
            print(json.dumps(record_as_dict(record), ensure_ascii=False), flush=True)

    asyncio.run(run())
    return 0


def _topics(args: argparse.Namespace) -> int:
    from services.runtime.kafka import ensure_topics

    _default_bootstrap()
    settings = RuntimeSettings()
    bootstrap = args.bootstrap or settings.kafka.bootstrap
    names = [settings.topic(n) for n in topics.all_topic_names()]
    created = asyncio.run(ensure_topics(bootstrap, names, args.partitions))
    print(
        f"topics: {len(created)} created, {len(names) - len(created)} already there",
        file=sys.stderr,
    )
    return 0


def _kafka_ready(args: argparse.Namespace) -> int:
    from services.runtime.kafka import broker_ready

    return 0 if asyncio.run(broker_ready(args.bootstrap, args.timeout)) else 1


def _schemas(args: argparse.Namespace) -> int:
    from schemas.export import SCHEMA_DIR, rendered, write

    if args.check:
        stale = [
            name
            for name, text in rendered().items()
            if not (SCHEMA_DIR / name).exists()
            or (SCHEMA_DIR / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"stale: {stale}; run 'newswire schemas export'", file=sys.stderr)
            return 1
        return 0
    for path in write():
        print(path)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from services.demo import run_demo

    return asyncio.run(run_demo(timeout=args.timeout))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newswire", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ingest", "enrich", "notify"):
        sub.add_parser(name, help=f"run the {name} worker until SIGTERM/SIGINT")

    p = sub.add_parser("produce", help="publish raw files to news.raw as a scraper would")
    p.add_argument("files", nargs="+")
    p.add_argument("--source", default="cli", help="source name recorded on each event")
    p.add_argument("--content-type", help="override the type guessed from the file extension")
    p.add_argument("--url", help="URL the document was fetched from")

    p = sub.add_parser("tail", help="print a topic's records as JSON lines")
    p.add_argument("topic", help="e.g. news.alerts (the topic prefix is added)")
    p.add_argument("--new", action="store_true", help="only records produced from now on")
    p.add_argument("--max", type=int, help="stop after this many records")
    p.add_argument("--idle", type=float, default=5.0, help="stop after this many idle seconds")

    p = sub.add_parser("topics", help="create newswire's topics if missing")
    p.add_argument("action", choices=["ensure"])
    p.add_argument("--bootstrap")
    p.add_argument("--partitions", type=int, default=3)

    p = sub.add_parser("kafka-ready", help="exit 0 when the broker answers a metadata request")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--timeout", type=float, default=5.0)

    p = sub.add_parser("schemas", help="write or check the JSON Schema files in schemas/json")
    p.add_argument("action", choices=["export"])
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")

    p = sub.add_parser("demo", help="Kafka + all three workers + sample articles → alerts")
    p.add_argument("--timeout", type=float, default=120.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("ingest", "enrich", "notify"):
        return _run_service(args.command)
    handlers = {
        "produce": _produce,
        "tail": _tail,
        "topics": _topics,
        "kafka-ready": _kafka_ready,
        "schemas": _schemas,
        "demo": _demo,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
