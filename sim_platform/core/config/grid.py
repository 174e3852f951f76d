"""The time grid of the output contract: 5-second UTC bins, hours of 720 bins, UTC days."""

from __future__ import annotations

from datetime import UTC, date, datetime

BIN_MS = 5_000
DAY_MS = 86_400_000
BINS_PER_DAY = DAY_MS // BIN_MS
BINS_PER_HOUR = 3_600_000 // BIN_MS


def day_of(ms: int) -> date:
    """The UTC day of an instant in epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def day_start_ms(day: date) -> int:
    """The first instant of a UTC day, in epoch milliseconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
