"""The tagging stage on newswire's runtime: a Worker, run as ``newswire enrich`` is run.

    python -m bench.peers.newswire_tag --bootstrap HOST:PORT --prefix P. [--group G]

Settings are newswire's defaults (RuntimeSettings: max_batch 500, linger 5 ms, 256 KiB
record batches, acks=all + idempotence, at-least-once, commit every 1,000 records or 1 s),
the same the real stages run with; logging at warning, as the benchmarks run the stages.
"""

import asyncio

from bench.peers.work import SINK, Tagged, peer_arguments, tag_article
from schemas import topics
from schemas.article import Article
from schemas.topics import TopicSpec
from services.runtime.app import run_worker
from services.runtime.logging import configure_logging
from services.runtime.settings import KafkaSettings, RuntimeSettings
from services.runtime.worker import StepContext, Worker

TAGGED: TopicSpec[Tagged] = TopicSpec(SINK, Tagged, "article_id", lambda t: t.article_id)


async def step(article: Article, ctx: StepContext) -> Tagged:
    return tag_article(article)


def worker() -> Worker[Article, Tagged]:
    return Worker("tag", source=topics.ARTICLES, sink=TAGGED, step=step)


def main() -> None:
    a = peer_arguments()
    settings = RuntimeSettings(
        kafka=KafkaSettings(bootstrap=a.bootstrap),
        topic_prefix=a.prefix,
        group_id=a.group,
        log_level="warning",
        log_format="json",
    )
    configure_logging(settings.log_level, settings.log_format, "tag")
    asyncio.run(run_worker(worker(), settings, handle_signals=True))


if __name__ == "__main__":
    main()
