"""structlog set-up: JSON lines off a terminal, coloured console on one.

Context (service, topic, partition, offset, article_id) lives in contextvars, bound by the
loop per record, so a step just writes ``log.info("article_parsed", source=...)``.
"""

import logging
import sys
from typing import Literal

import structlog


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto", service: str = ""
) -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    processors: list[structlog.typing.Processor] = [
        *shared,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    # aiokafka logs through stdlib logging. Its records go through the same processors and
    # renderer, so every line on stderr is JSON (a plain-text line would break log shippers
    # and `grep | jq`); warnings and up only, its info is chatter.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    handler.addFilter(RepeatFilter(window_seconds=10.0))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)


class RepeatFilter(logging.Filter):
    """Passes one record per (logger, message template) per ``window_seconds``.

    While the broker is away aiokafka logs the same connection error several times per second
    per client; a two-minute outage was 4,000 lines, burying the worker's own. The first of a
    kind passes at once, and the next one after the window says how many were held back.
    """

    def __init__(self, window_seconds: float) -> None:
        super().__init__()
        self.window = window_seconds
        self._last: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = record.created
        last = self._last.get(key)
        if last is not None and now - last[0] < self.window:
            self._last[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.msg = f"{record.msg} [{last[1]} like it in the last {self.window:g} s held back]"
        if len(self._last) > 1000:  # templates are few; this bounds a pathological caller
            self._last.clear()
        self._last[key] = (now, 0)
        return True
