"""Messages: every error a person reads is one line of bounded length."""

from __future__ import annotations

#: longest reason an error line carries; the detail belongs in the quality report, not in a log line
MAX_REASON = 220


def shorten(text: str, limit: int = MAX_REASON) -> str:
    """One line of at most `limit` characters, whatever a library said."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
