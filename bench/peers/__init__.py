"""The enrich-like stage of issue 9 (d), written three ways over the same pure work.

Every peer consumes ``<prefix>news.articles`` (normalised :class:`Article` JSON, as ingest
writes it), and for each record: parses the JSON into an ``Article`` (pydantic), builds the
query document (``services.query.article.article_document``), tags it with newswire's own
taxonomy rules through the shared query evaluator (``services.enrich.taxonomy.tag``, the
function newswire's enrich stage calls), and produces ``{"article_id", "topics": [...]}``
(:class:`Tagged`) keyed by article id to ``<prefix>bench.tagged``. That work is
:func:`bench.peers.work.tag_article` / :func:`tag_value`, imported by all three; what differs
is only the framework around it:

- ``newswire_tag``: a :class:`services.runtime.worker.Worker` run by newswire's runtime
  (``run_worker``: getmany batches, pipelined idempotent acks=all produce, commit after acks);
- ``quix_tag``: a Quix Streams ``Application`` with a ``StreamingDataFrame``
  (``.apply(...)``, ``.to_topic(...)``), JSON (de)serialisers;
- ``faststream_tag``: a FastStream ``KafkaBroker`` subscriber typed ``Article`` whose return
  value is published (``@broker.publisher``).
"""
