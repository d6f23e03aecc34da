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
from services.runtime import event_loop
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
    event_loop.run(run_worker(worker, settings, handle_signals=True), settings.event_loop)
    return 0


def _run_deliver() -> int:
    """The webhook delivery worker. Targets are the subscriptions' webhooks, read from
    news.subscriptions (restored, then followed); a 410 disables the subscription there. With
    ``NEWSWIRE_NOTIFY__WEBHOOK_TARGETS_PATH`` they come from that file instead (no topic)."""
    import structlog

    from services.notify.delivery import load_targets, run_delivery, subscription_target
    from services.notify.settings import DeliverySettings
    from services.notify.store import SubscriptionStore
    from services.runtime.logging import configure_logging

    _default_bootstrap()
    settings = DeliverySettings()
    configure_logging(settings.log_level, settings.log_format, "deliver")
    log = structlog.get_logger("newswire.notify")
    path = settings.notify.webhook_targets_path
    if path is not None:
        static = load_targets(path)
        log.info("webhook_targets_loaded", count=len(static), path=str(path))

        async def log_gone(subscription_id: str, reason: str) -> None:
            log.warning("webhook_gone", subscription_id=subscription_id, reason=reason)

        event_loop.run(
            run_delivery(settings, static.get, log_gone, handle_signals=True), settings.event_loop
        )
        return 0

    store = SubscriptionStore(settings.kafka)

    async def disable(subscription_id: str, reason: str) -> None:
        updated = await store.set_status(subscription_id, "disabled", reason)
        log.warning(
            "subscription_disabled",
            subscription_id=subscription_id,
            reason=reason,
            found=updated is not None,
        )

    event_loop.run(
        run_delivery(
            settings,
            lambda sid: subscription_target(store.get(sid)),
            disable,
            tables=(store,),
            handle_signals=True,
        ),
        settings.event_loop,
    )
    return 0


def _produce(args: argparse.Namespace) -> int:
    from services.runtime import trace
    from services.runtime.io import produce_raw, raw_event_from_file

    upstream = trace.parse(args.traceparent) if args.traceparent else None
    if args.traceparent and upstream is None:
        print(f"not a valid W3C traceparent: {args.traceparent!r}", file=sys.stderr)
        return 2
    _default_bootstrap()
    settings = RuntimeSettings()
    events = [
        raw_event_from_file(Path(f), args.source, args.content_type, args.url) for f in args.files
    ]
    # Each file starts its own trace (or continues --traceparent), printed so that one
    # article can be followed through the workers' logs by its trace_id.
    spans = [upstream.child() if upstream else trace.new_trace() for _ in events]
    headers = [trace.with_traceparent([], span) for span in spans]
    topic = settings.topic(topics.RAW.name)
    sent = asyncio.run(produce_raw(settings.kafka, topic, events, headers))
    for path, (partition, offset), span in zip(args.files, sent, spans, strict=True):
        line = {"file": path, "topic": topic, "partition": partition, "offset": offset}
        print(json.dumps({**line, "trace_id": span.trace_id}))
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
    from services.runtime.kafka import ensure_newswire_topics

    _default_bootstrap()
    settings = RuntimeSettings()
    bootstrap = args.bootstrap or settings.kafka.bootstrap
    names = topics.all_topic_names()
    created = asyncio.run(ensure_newswire_topics(bootstrap, settings.topic_prefix, args.partitions))
    print(
        f"topics: {len(created)} created, {len(names) - len(created)} already there",
        file=sys.stderr,
    )
    return 0


def _parse(args: argparse.Namespace) -> int:
    """Offline: the same parse + normalise + dedup as the ingest worker, one JSON line each."""
    from schemas.raw import RawArticleEvent
    from services.ingest.dedup import Deduplicator, dedup_table
    from services.ingest.normalize import normalize
    from services.ingest.parse import ParseError
    from services.ingest.settings import IngestSettings
    from services.ingest.step import policy_from
    from services.runtime.clock import wall_clock_ms
    from services.runtime.io import raw_event_from_bytes

    settings = IngestSettings()
    policy = policy_from(settings)
    window = settings.dedup_window_ms
    dedup = Deduplicator(dedup_table("parse", window), window)
    unreadable = 0

    def emit(obj: dict[str, object]) -> None:
        print(json.dumps(obj, ensure_ascii=False, default=str), flush=True)

    for index, name in enumerate(args.files):
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            unreadable += 1
            emit({"file": name, "error": {"class": type(exc).__name__, "reason": str(exc)}})
            continue
        try:
            event: RawArticleEvent = raw_event_from_bytes(
                data, args.source, args.content_type or _content_type_of(name), args.url
            )
            result = normalize(event, policy)
        except ParseError as exc:
            emit({"file": name, "error": {"class": exc.reason, "reason": exc.detail}})
            continue
        claimed: set[str] = set()
        for article in result.articles:
            now = wall_clock_ms()
            first = dedup.duplicate_of(article, now, claimed)
            if first is not None:
                emit({"file": name, "duplicate_of": first})
                continue
            dedup.remember(article, (0, index), now, claimed)
            emit({"file": name, **article.model_dump(mode="json")})
        for error in result.errors:
            emit({"file": name, "error": {"class": error.reason, "reason": error.detail}})
    return 1 if unreadable else 0


def _read_articles(files: list[str], source: str) -> list[tuple[str, Any]]:
    """(file, Article) for every article in the files; errors go to stderr."""
    from services.ingest.normalize import normalize
    from services.ingest.parse import ParseError
    from services.ingest.settings import IngestSettings
    from services.ingest.step import policy_from
    from services.runtime.io import raw_event_from_bytes

    policy = policy_from(IngestSettings())
    out: list[tuple[str, Any]] = []
    for name in files:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        try:
            event = raw_event_from_bytes(data, source, _content_type_of(name))
            result = normalize(event, policy)
        except ParseError as exc:
            print(f"{name}: {exc.reason}: {exc.detail}", file=sys.stderr)
            continue
        out.extend((name, article) for article in result.articles)
    return out


def _analyze(args: argparse.Namespace) -> int:
    """Offline: parse + normalise + enrich, one EnrichedArticle JSON line per article."""
    from services.enrich.entities import load_gazetteer
    from services.enrich.settings import EnrichSettings
    from services.enrich.step import enrich
    from services.enrich.stories import StoryIndex, story_table
    from services.enrich.taxonomy import load_taxonomy
    from services.runtime.clock import wall_clock_ms

    settings = EnrichSettings()
    taxonomy = load_taxonomy(settings.taxonomy_path)
    gazetteer = load_gazetteer(settings.gazetteer_path)
    # Stories across the files of this invocation, in memory (no Kafka).
    stories = StoryIndex(
        story_table("analyze", settings.story_window_ms, wall_clock_ms), settings.story_threshold
    )
    for name, article in _read_articles(args.files, args.source):
        story, _, _ = stories.assign(article, wall_clock_ms())
        enriched = enrich(article, taxonomy, gazetteer, story_id=story)
        print(json.dumps({"file": name, **enriched.model_dump(mode="json")}, ensure_ascii=False))
    return 0


def _explain(args: argparse.Namespace) -> int:
    """Why each article in FILE does or does not match a topic (or an ad-hoc query)."""
    from services.enrich.entities import load_gazetteer
    from services.enrich.settings import EnrichSettings
    from services.enrich.step import enrich
    from services.enrich.taxonomy import load_taxonomy
    from services.query import QuerySyntaxError, evaluate, parse
    from services.query.article import enriched_document
    from services.query.explain import explain

    settings = EnrichSettings()
    gazetteer = load_gazetteer(settings.gazetteer_path)
    taxonomy = load_taxonomy(settings.taxonomy_path)
    topic = None
    if args.query:
        try:
            query_rule = parse(args.query)
        except QuerySyntaxError as exc:
            print(f"{args.query}\n{' ' * exc.position}^ {exc.message}", file=sys.stderr)
            return 2
    else:
        try:
            topic = taxonomy.get(args.topic)
        except KeyError as exc:
            ids = ", ".join(t.spec.id for t in taxonomy.topics)
            print(f"{exc.args[0]}; topics: {ids}", file=sys.stderr)
            return 2
    for name, article in _read_articles([args.file], args.source):
        # The article as notify sees it: enrich's entities, tags and tone included.
        doc = enriched_document(enrich(article, taxonomy, gazetteer))
        print(f"{name}: {article.title} (language {doc.lang or 'unknown'})")
        if topic is None:
            rule, title = query_rule, f"query {args.query}"
        else:
            # The article's language's rule when its pack has one, else the English rule.
            chosen = topic.rule_for(doc.lang)
            which = doc.lang if chosen is not topic else "en"
            rule = chosen.rule
            title = f"topic {topic.spec.id} ({topic.spec.label}), {which} rule: {chosen.spec.query}"
        match = evaluate(rule, doc)
        verdict = f"MATCH, score {match.score}" if match.matched else "no match"
        print(f"{title}\n→ {verdict}")
        print("\n".join(explain(rule, doc)))
    return 0


def _content_type_of(name: str) -> str | None:
    from services.runtime.io import content_type_for

    return None if name == "-" else content_type_for(Path(name))


def _dlq(args: argparse.Namespace) -> int:
    from services.runtime.dlq_tools import describe, replay
    from services.runtime.io import read_topic

    _default_bootstrap()
    settings = RuntimeSettings()
    topic = settings.topic(args.topic)
    if args.action == "list":

        async def show() -> None:
            async for record in read_topic(
                settings.kafka.bootstrap, topic, idle_timeout=args.idle, max_records=args.max
            ):
                row = describe(record)
                if args.reason is None or row["reason"] == args.reason:
                    print(json.dumps(row, ensure_ascii=False), flush=True)

        asyncio.run(show())
        return 0
    report = asyncio.run(replay(settings.kafka, topic, reason=args.reason, dry_run=args.dry_run))
    print(
        json.dumps(
            {
                "replayed": report.replayed,
                "skipped": report.skipped,
                "targets": report.targets,
                "dry_run": args.dry_run,
            }
        )
    )
    return 0


def _kafka_ready(args: argparse.Namespace) -> int:
    from services.runtime.kafka import broker_ready

    return 0 if asyncio.run(broker_ready(args.bootstrap, args.timeout)) else 1


def _schemas(args: argparse.Namespace) -> int:
    from schemas import openapi
    from schemas.export import SCHEMA_DIR, rendered, write

    if args.check:
        stale = [
            name
            for name, text in rendered().items()
            if not (SCHEMA_DIR / name).exists()
            or (SCHEMA_DIR / name).read_text(encoding="utf-8") != text
        ]
        path = openapi.OPENAPI_PATH
        if not path.exists() or path.read_text(encoding="utf-8") != openapi.rendered():
            stale.append(path.name)
        if stale:
            print(f"stale: {stale}; run 'newswire schemas export'", file=sys.stderr)
            return 1
        return 0
    for path in write():
        print(path)
    return 0


def _subscriptions(args: argparse.Namespace) -> int:
    from services.notify.seed import load_seed
    from services.runtime.logging import configure_logging

    _default_bootstrap()
    settings = RuntimeSettings()
    configure_logging(settings.log_level, settings.log_format)  # stderr: stdout is the report
    try:
        report = asyncio.run(load_seed(settings, Path(args.file), args.owner))
    except (OSError, ValueError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "topic": settings.topic(topics.SUBSCRIPTIONS.name),
                "written": report.written,
                "unchanged": report.unchanged,
                # Generated webhook secrets are shown once, here, as the API's create does.
                "webhook_secrets": report.secrets,
            }
        )
    )
    return 0


def _apikey(args: argparse.Namespace) -> int:
    from services.notify.apikeys import new_key

    try:
        key, line = new_key(args.id)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"key (give it to the client; it is not stored anywhere): {key}")
    print(f"hash line for NEWSWIRE_API__KEYS_FILE: {line}")
    key_id, digest = line.split()
    print(f"or in the environment: NEWSWIRE_API__KEYS='{json.dumps({key_id: digest})}'")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from services.demo import run_demo
    from services.runtime.logging import configure_logging

    # The demo prints its own story; its Kafka helpers' info lines would only interleave.
    configure_logging("warning", "console")
    return asyncio.run(run_demo(timeout=args.timeout))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newswire", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ingest", "enrich", "notify"):
        sub.add_parser(name, help=f"run the {name} worker until SIGTERM/SIGINT")
    sub.add_parser("deliver", help="run the webhook delivery worker until SIGTERM/SIGINT")

    p = sub.add_parser("produce", help="publish raw files to news.raw as a scraper would")
    p.add_argument("files", nargs="+")
    p.add_argument("--source", default="cli", help="source name recorded on each event")
    p.add_argument("--content-type", help="override the type guessed from the file extension")
    p.add_argument("--url", help="URL the document was fetched from")
    p.add_argument(
        "--traceparent",
        help="W3C traceparent to continue (default: a new trace per file, printed)",
    )

    p = sub.add_parser("tail", help="print a topic's records as JSON lines")
    p.add_argument("topic", help="e.g. news.alerts (the topic prefix is added)")
    p.add_argument("--new", action="store_true", help="only records produced from now on")
    p.add_argument("--max", type=int, help="stop after this many records")
    p.add_argument("--idle", type=float, default=5.0, help="stop after this many idle seconds")

    p = sub.add_parser("topics", help="create newswire's topics if missing")
    p.add_argument("action", choices=["ensure"])
    p.add_argument("--bootstrap")
    p.add_argument("--partitions", type=int, default=3)

    p = sub.add_parser("parse", help="parse + normalise files offline, one JSON line per article")
    p.add_argument("files", nargs="+", help="files, or - for standard input")
    p.add_argument("--source", default="cli")
    p.add_argument("--content-type", help="override the type guessed from the file extension")
    p.add_argument("--url", help="URL the document was fetched from")

    p = sub.add_parser("analyze", help="parse + enrich files offline, one JSON line per article")
    p.add_argument("files", nargs="+", help="files, or - for standard input")
    p.add_argument("--source", default="cli")

    p = sub.add_parser("explain", help="why an article does or does not match a topic")
    p.add_argument("file", help="a file, or - for standard input")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--topic", help="a taxonomy topic id")
    target.add_argument("--query", help="an ad-hoc query in the subscription language")
    p.add_argument("--source", default="cli")

    p = sub.add_parser("dlq", help="list or replay a dead-letter topic")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--topic", default="news.raw.dlq")
    p.add_argument("--reason", help="only records with this reason (newswire.error.reason)")
    p.add_argument("--max", type=int, help="list: stop after this many records")
    p.add_argument("--idle", type=float, default=3.0, help="list: stop after idle seconds")
    p.add_argument("--dry-run", action="store_true", help="replay: count, send nothing")

    p = sub.add_parser("kafka-ready", help="exit 0 when the broker answers a metadata request")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--timeout", type=float, default=5.0)

    p = sub.add_parser("schemas", help="write or check the JSON Schema files in schemas/json")
    p.add_argument("action", choices=["export"])
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")

    p = sub.add_parser("subscriptions", help="write a seed file into news.subscriptions")
    p.add_argument("action", choices=["load"])
    p.add_argument("file", help="YAML or JSON: {subscriptions: [{id, name, query|topics, ...}]}")
    p.add_argument("--owner", required=True, help="the API key id that will own them")

    p = sub.add_parser("apikey", help="make an API key and the hash line that configures it")
    p.add_argument("action", choices=["new"])
    p.add_argument("--id", required=True, help="the key id (owner of its subscriptions)")

    p = sub.add_parser("demo", help="Kafka + all three workers + sample articles → alerts")
    p.add_argument("--timeout", type=float, default=120.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("ingest", "enrich", "notify"):
        return _run_service(args.command)
    if args.command == "deliver":
        return _run_deliver()
    handlers = {
        "produce": _produce,
        "tail": _tail,
        "topics": _topics,
        "kafka-ready": _kafka_ready,
        "schemas": _schemas,
        "parse": _parse,
        "analyze": _analyze,
        "explain": _explain,
        "dlq": _dlq,
        "demo": _demo,
        "subscriptions": _subscriptions,
        "apikey": _apikey,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
