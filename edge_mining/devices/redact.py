"""Keep secrets out of the log.

Every secret the program knows (the configured MQTT and miner passwords, the Home Assistant
or Supervisor token, the Forecast.Solar key) is registered here with ``add_secret``.
``SECRET_FILTER`` replaces each one by ``***`` in a log record: its message and arguments,
its exception text and its stack. The command line puts it on its log handler, so that it
sees every record, from our loggers and from every library's. Values that follow an
``authorization`` header name or the ``Bearer`` scheme are redacted too: they are session
tokens we never configured (BraiinsOS's gRPC login token, for one).

httpx logs every request URL at INFO ("HTTP Request: GET https://..."), and Forecast.Solar
puts the API key in the URL path: ``redact_in_http_logs`` also puts the filter on the HTTP
client loggers themselves, so that the key is gone before any handler sees the record.
"""

from __future__ import annotations

import logging
import re
import traceback

_HTTP_LOGGERS = ("httpx", "httpcore")
# A shorter "secret" would mangle unrelated text (and is no secret).
MIN_SECRET_CHARS = 4
MASK = "***"
# The value after an authorization header name (HTTP dumps, hpack's header tuples) and after
# the Bearer scheme.
_HEADER_VALUE = re.compile(
    r"""(?ix)
    (authorization['"]?\s*[:,=]\s*(?:b?['"])?(?:(?:bearer|basic)\s+)?)[^\s'",)]+
    | (bearer\s+)[A-Za-z0-9._~+/=-]{8,}
    """
)


class SecretFilter(logging.Filter):
    """Redacts the registered secrets in every record it sees; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return _HEADER_VALUE.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: keep the message only
            message = f"{record.msg} (unformattable log arguments)"
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Format the exception now (handlers reuse exc_text) so that it can be redacted.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


SECRET_FILTER = SecretFilter()


def add_secret(secret: str | None) -> None:
    """Redact ``secret`` from every record that reaches the log handler from now on."""
    if secret and len(secret) >= MIN_SECRET_CHARS:
        SECRET_FILTER.secrets.add(secret)


def redact(text: str) -> str:
    """``text`` with every registered secret and authorization value replaced by ``***``."""
    return SECRET_FILTER.redact(text)


def one_line(text: str, limit: int = 160) -> str:
    """A peer's free text (an error body) fit for one log line: redacted, whitespace
    collapsed, at most ``limit`` characters."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def redact_in_http_logs(secret: str) -> None:
    """Replace ``secret`` by ``***`` in every log line, the HTTP client libraries' included."""
    add_secret(secret)
    if len(secret) < MIN_SECRET_CHARS:
        return
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if SECRET_FILTER not in logger.filters:
            logger.addFilter(SECRET_FILTER)
