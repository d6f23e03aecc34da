"""Kafka plumbing shared by every newswire service; no news logic lives here.

A service declares a :class:`~services.runtime.worker.Worker` (source topic, sink topic and a
typed step) and hands it to :func:`~services.runtime.app.run_worker`, which owns the consumer,
the producer, the consume → process → produce → commit loop, dead letters, metrics, health and
shutdown.
"""
