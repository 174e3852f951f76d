"""Logging for transfers: per-direction log files, and redaction of secrets.

The storage code never formats a credential into a message in the first place; redaction is the
second line of defence, for text that comes from elsewhere (an exception message quoting a signed
URL, a connection string pasted into a path argument). Every handler this package attaches uses
`RedactingFormatter`, which removes the registered secret values and anything shaped like an
account key, a SAS signature or a bearer token.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

LOGGER_NAME = "sim_platform.storage"
LOG_FILES = {"up": "upload.log", "down": "download.log"}
MASK = "***"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_PATTERNS = [
    re.compile(r"(AccountKey=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"([?&;]sig=)[^&;\s'\"]+", re.IGNORECASE),
    re.compile(r"(Authorization:?\s*(?:SharedKey|Bearer)\s+)\S+", re.IGNORECASE),
]


def register_secret(value: str | None) -> None:
    """Remember a secret so every later log line has it masked (also in URL-encoded form)."""
    if not value or len(value) < 6:
        return
    with _secrets_lock:
        _secrets.update({value, quote(value, safe=""), quote(value, safe="/=")})


def redact(text: str) -> str:
    """Mask registered secrets and credential-shaped substrings in `text`."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose output has secrets masked (see `redact`)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with secrets masked, before any handler sees it.

    Attached to the loggers of the HTTP libraries under the Azure SDK: urllib3 logs every request
    line at DEBUG, query string included, which for a SAS credential contains the signature. A
    filter on the originating logger is the one place that covers every handler (pytest's caplog,
    Dagster's, a user's root DEBUG handler), not only ours.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


THIRD_PARTY_LOGGERS = (
    "urllib3.connectionpool",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.storage.blob._shared.policies",
    "azure.identity",
)
_redacting_filter = RedactingFilter()


def protect_library_loggers() -> None:
    """Attach `RedactingFilter` to the third-party loggers that may print request URLs (idempotent)."""
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if _redacting_filter not in logger.filters:
            logger.addFilter(_redacting_filter)


FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


_level_lock = threading.Lock()
_level_users: dict[str, int] = {}


@contextmanager
def transfer_log(direction: str, log_dir: Path | str | None) -> Iterator[logging.Logger]:
    """Log one sync run to `<log_dir>/upload.log` or `download.log` (folder created when missing).

    Each direction has its own logger (`sim_platform.storage.up` / `.down`) so concurrent uploads and
    downloads in one process do not write into each other's file; both propagate to
    `sim_platform.storage`, where the CLI attaches its console handler. The handler is attached per
    run, not at import, so library users such as the Dagster layer get the files too. While a run
    with a log file is active the logger passes DEBUG records (every file and decision); without
    `log_dir` the application's logging configuration is left alone.
    """
    logger = logging.getLogger(f"{LOGGER_NAME}.{direction}")
    handler: logging.Handler | None = None
    if log_dir is not None:
        folder = Path(log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / LOG_FILES[direction], encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(RedactingFormatter(FILE_FORMAT))
        logger.addHandler(handler)
        with _level_lock:
            _level_users[logger.name] = _level_users.get(logger.name, 0) + 1
            logger.setLevel(logging.DEBUG)
    try:
        yield logger
    finally:
        if handler is not None:
            with _level_lock:
                _level_users[logger.name] -= 1
                if _level_users[logger.name] == 0:
                    logger.setLevel(logging.NOTSET)
            logger.removeHandler(handler)
            handler.close()
