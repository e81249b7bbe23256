"""structlog set-up shared by every service and the CLI.

- JSON lines when the log stream is not a terminal (or ``log_format="json"``), a coloured
  console renderer on a terminal (or ``log_format="console"``).
- ``for_a_person=True`` (the CLI): on the console, a line is what happened and its details,
  no timestamp, logger name or "info" column; a warning or an error says so. A service's
  console lines keep them all: their logs are read side by side, in time order.
- Context variables are merged into every event: bind per message with
  ``structlog.contextvars.bound_contextvars(topic=..., partition=..., offset=...)``.
- Standard-library loggers (aiokafka, faststream, asyncio, ...) go through the same renderer;
  the noisy libraries only from WARNING up.

Logs go to stderr by default so that command output on stdout stays machine-readable.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

import structlog
import structlog.tracebacks
from structlog.typing import EventDict

if TYPE_CHECKING:
    from services.platform.settings import Settings

# Libraries that log at INFO about every connection or rebalance.
QUIET_LIBRARIES = (
    "markdown_it",
    "aiokafka",
    "faststream",
    "kafka",
    "asyncio",
    "asyncpg",
    "aiosmtpd",
    "mail.log",
)

_HANDLER_MARK = "_annual_review_handler"


def _use_json(log_format: str, stream: TextIO) -> bool:
    if log_format == "json":
        return True
    if log_format == "console":
        return False
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def _only_warnings_and_errors_say_their_level(_: Any, __: str, event: EventDict) -> EventDict:
    if event.get("level") in ("debug", "info"):
        del event["level"]
    return event


def configure_logging(
    settings: Settings, *, stream: TextIO | None = None, for_a_person: bool = False
) -> None:
    """Configure structlog and stdlib logging for this process. Safe to call again."""
    out = stream if stream is not None else sys.stderr
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        raise ValueError(f"unknown log level {settings.log_level!r}")

    as_json = _use_json(settings.log_format, out)
    brief = for_a_person and not as_json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        *([] if brief else [structlog.stdlib.add_logger_name]),
        *([] if brief else [structlog.processors.TimeStamper(fmt="iso", utc=True)]),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if as_json:
        final: list[Any] = [
            # Never show_locals: frame locals can hold DSNs, passwords and whole payloads.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False, max_frames=12)
            ),
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        colors = bool(getattr(out, "isatty", lambda: False)())
        # structlog's console default is Rich's traceback *with* every frame's locals, which
        # prints connection parameters and passwords: never on, as for JSON above.
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors,
            pad_event_to=0 if brief else 30,
            pad_level=not brief,
            exception_formatter=structlog.dev.RichTracebackFormatter(
                show_locals=False, max_frames=12, color_system="truecolor" if colors else None
            ),
        )
        final = [_only_warnings_and_errors_say_their_level, renderer] if brief else [renderer]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
