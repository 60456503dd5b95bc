"""Keep secrets that travel in URLs out of the HTTP client's log lines.

httpx logs every request URL at INFO ("HTTP Request: GET https://..."). Forecast.Solar puts
the API key in the URL path, so without this filter the key would reach the add-on's log.
"""

from __future__ import annotations

import logging

_HTTP_LOGGERS = ("httpx", "httpcore")


class _SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg = text
            record.args = None
        return True


_FILTER = _SecretFilter()


def redact_in_http_logs(secret: str) -> None:
    """Replace ``secret`` by ``***`` in every log line of the HTTP client libraries."""
    if len(secret) < 4:  # a tiny "secret" would mangle unrelated text
        return
    _FILTER.secrets.add(secret)
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
