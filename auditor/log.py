"""Logging: structlog for the auditor, stdlib logging of libraries routed through it, secrets redacted.

Call `configure_logging` once from an entry point (CLI, daemon), never at import. Modules log with
``structlog.get_logger(__name__)`` and key/values. Every line, whether it comes from structlog or from a
library's stdlib logger, passes two redaction layers:

1. `redact_secrets` on the event dict: values under sensitive keys (``authorization``, ``token``,
   ``client_secret``, ``password``, ``*_secret``, ...) are replaced, and every string value is scrubbed;
2. the rendered line is scrubbed again (exceptions and ``repr()`` of objects included).

Scrubbing removes every value passed to `register_secret` and anything that looks like a credential:
``Bearer …`` / ``Basic …``, Databricks PATs (``dapi…``) and OAuth secrets (``dose…``), and
``token=…`` / ``"client_secret": "…"`` style pairs.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from pydantic import BaseModel, SecretStr
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from auditor.console import isatty, wants_color

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6  # shorter registered values would redact ordinary words; they are ignored

_SENSITIVE_KEY_NAMES = (
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "cookie",
    "private_key",
    "secret_access_key",
)

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value / "key": "value" pairs, including an auth scheme before the value.
    (
        re.compile(
            r"(?i)((?:[\w-]*?)(?:token|secret|password|passwd|authorization|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!(?:(?:bearer|basic|token)\s+)?\[REDACTED\])(?:(?:bearer|basic|token)\s+)?[^\s\"'\\,;&}\]]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\bdapi[0-9A-Za-z]{8,}(?:-\d+)?"), REDACTED),  # Databricks personal access tokens
    (re.compile(r"\bdose[0-9A-Za-z]{16,}"), REDACTED),  # Databricks OAuth secrets
)

_LIBRARY_LEVEL = logging.WARNING
# The libraries whose records `--log-level DEBUG` turns up too (their children follow: urllib3.connectionpool, ...).
LIBRARY_LOGGERS = (
    "databricks.sdk",
    "databricks.sql",
    "urllib3",
    "botocore",
    "boto3",
    "s3transfer",
    "thrift",
    "apscheduler",
    "waitress",
)
_APP_LOGGER = "auditor"

_registry_lock = threading.Lock()
_registered: frozenset[str] = frozenset()
_registered_pattern: re.Pattern[str] | None = None


def register_secret(value: str | SecretStr | None) -> None:
    """Make ``value`` disappear from every log line from now on (values under 6 characters are ignored)."""
    global _registered, _registered_pattern
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not plain or len(plain) < MIN_SECRET_LENGTH:
        return
    with _registry_lock:
        if plain in _registered:
            return
        _registered = _registered | {plain}
        longest_first = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(re.escape(secret) for secret in longest_first))


def register_secrets_from(value: object) -> int:
    """Register every `SecretStr` inside ``value`` (a pydantic model such as `Settings`, or containers).

    Returns how many were found, so an entry point can log the count (never the values).
    """
    if isinstance(value, SecretStr):
        register_secret(value)
        return 1
    if isinstance(value, BaseModel):
        return sum(register_secrets_from(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, Mapping):
        return sum(register_secrets_from(item) for item in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return sum(register_secrets_from(item) for item in value)
    return 0


def redact_text(text: str) -> str:
    """``text`` with registered secrets and credential-looking substrings replaced by ``[REDACTED]``."""
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for secret_pattern, replacement in _SECRET_PATTERNS:
        text = secret_pattern.sub(replacement, text)
    return text


def is_sensitive_key(key: str) -> bool:
    """Whether a value logged under ``key`` is a secret whatever it looks like (``token_id`` is not)."""
    normalized = key.lower().replace("-", "_")
    return any(normalized == name or normalized.endswith(f"_{name}") for name in _SENSITIVE_KEY_NAMES)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_redact_value(item) for item in value)
    if isinstance(value, list | set | frozenset):
        return type(value)(_redact_value(item) for item in value)
    return value


def _redact_item(key: object, value: Any) -> Any:
    if isinstance(key, str) and is_sensitive_key(key) and value is not None:
        return REDACTED
    return _redact_value(value)


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact sensitive keys and scrub every string in the event dict."""
    return {
        # exc_info and structlog's private keys are rendered later; the rendered line is scrubbed.
        key: value if key == "exc_info" or key.startswith("_") else _redact_item(key, value)
        for key, value in event_dict.items()
    }


class _ScrubbingRenderer:
    """Wraps the final renderer so that the rendered line itself is scrubbed."""

    def __init__(self, renderer: Processor) -> None:
        self._renderer = renderer

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, method_name, event_dict)
        return redact_text(rendered if isinstance(rendered, str) else str(rendered))


class _AuditorHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler `configure_logging` installs on the root logger.

    Without a stream of its own it writes to whatever ``sys.stderr`` is when a record arrives, so a live
    terminal display that takes stderr over (the collection progress) prints log lines above itself.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._own_stream = stream
        super().__init__(stream)

    @property
    def stream(self) -> TextIO:
        return self._own_stream if self._own_stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        if value is not sys.stderr:
            self._own_stream = value


def configure_logging(
    *,
    json: bool | None = None,
    level: str = "INFO",
    stream: TextIO | None = None,
    colors: bool | None = None,
) -> None:
    """Configure structlog and stdlib logging for the whole process (entry points only).

    ``json=None`` picks JSON lines when ``stream`` (default: stderr) is not a TTY and a readable
    console format on a TTY. ``colors=None`` colours the console format on a TTY unless ``NO_COLOR`` is
    set (`auditor.console.wants_color`); JSON lines never carry colour. ``level`` applies to the
    auditor's own loggers; libraries log at WARNING and above, except at ``DEBUG``, which turns them up
    too (their records pass the same redaction). Calling it again replaces the previous configuration.
    """
    target = stream if stream is not None else sys.stderr
    use_json = not isatty(target) if json is None else json
    use_colors = wants_color(target) if colors is None else colors
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks never show local variables: they may hold credentials.
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=use_colors, exception_formatter=structlog.dev.plain_traceback)
    )
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if use_json:
        transformer = ExceptionDictTransformer(show_locals=False)
        final.append(structlog.processors.ExceptionRenderer(transformer))
    final += [redact_secrets, _ScrubbingRenderer(renderer)]

    handler = _AuditorHandler(stream)
    handler.addFilter(_drop_known_noise)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=final,
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)  # a handler we did not install would bypass redaction
    root.addHandler(handler)
    debug = numeric_level <= logging.DEBUG
    root.setLevel(numeric_level if debug else _LIBRARY_LEVEL)
    for name in LIBRARY_LOGGERS:  # a library may have set its own level; DEBUG overrides it, otherwise inherit
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.NOTSET)
    logging.getLogger(_APP_LOGGER).setLevel(numeric_level)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # a reconfiguration (tests, reload) must reach existing loggers
    )


def _drop_known_noise(record: logging.LogRecord) -> bool:
    """The SQL connector warns on every connection that pyarrow is absent; the auditor never needs it."""
    return not (record.name.startswith("databricks.sql") and "pyarrow is not installed" in str(record.msg))
