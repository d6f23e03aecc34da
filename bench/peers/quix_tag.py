"""The tagging stage in Quix Streams, written as its documentation shows a stateless step.

    python -m bench.peers.quix_tag --bootstrap HOST:PORT --prefix P. [--group G]

Idiomatic: an ``Application``, a ``StreamingDataFrame`` over the input topic with the JSON
deserialiser, ``.apply(tag_value)`` and ``.to_topic(...)`` with the JSON serialiser (the
message key is kept). Settings, and where they differ from Quix's defaults:

- ``auto_offset_reset="earliest"`` (default ``latest``): the backlog is there before it starts;
- ``commit_interval=1.0, commit_every=1000`` (defaults 5 s and 0): newswire's commit policy;
- at-least-once (the default); its producer is idempotent (acks=all) by default; librdkafka's
  own batching defaults (linger.ms 5, as newswire's 5 ms) are left alone.
"""

import tempfile

from quixstreams import Application

from bench.peers.work import SINK, peer_arguments, tag_value


def main() -> None:
    a = peer_arguments()
    app = Application(
        broker_address=a.bootstrap,
        consumer_group=a.group or f"{a.prefix}quix-tag",
        auto_offset_reset="earliest",
        commit_interval=1.0,
        commit_every=1000,
        processing_guarantee="at-least-once",
        state_dir=tempfile.mkdtemp(prefix="quix-tag-state-"),
        loglevel="WARNING",
    )
    source = app.topic(a.prefix + "news.articles", value_deserializer="json")
    sink = app.topic(a.prefix + SINK, value_serializer="json")
    sdf = app.dataframe(source)
    sdf = sdf.apply(tag_value)
    sdf.to_topic(sink)
    app.run()


if __name__ == "__main__":
    main()
