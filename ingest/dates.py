"""Normalising the many ways pages state a date into ISO 8601."""

from __future__ import annotations

import re
from datetime import date, datetime

from dateutil import parser as dateutil_parser

# Month and weekday names: capitalised in commentary, but never the name of an entity.
CALENDAR_WORDS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_URL_DATE = re.compile(
    r"/(?P<y>(?:19|20)\d{2})[/-](?P<m>0?[1-9]|1[0-2])(?:[/-](?P<d>0?[1-9]|[12]\d|3[01]))?(?:/|-|$)"
)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_iso(value: str | None) -> str | None:
    """ISO 8601 for a date or date-time string; date-only stays date-only; None when unparseable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if _ISO_DAY.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    try:
        parsed = dateutil_parser.parse(text, default=datetime(1900, 1, 1))
    except (ValueError, OverflowError):
        return None
    if parsed.year < 1990 or parsed.year > 2100:
        return None
    has_time = bool(re.search(r"\d{1,2}:\d{2}", text))
    if not has_time:
        return parsed.date().isoformat()
    try:
        return parsed.isoformat()
    except ValueError:  # a UTC offset of a day or more parses but cannot be written
        return None


def date_from_url(url: str | None) -> str | None:
    """The publication date a URL path carries (``/2024/04/30/``), as ``YYYY-MM-DD``, if any."""
    if not url:
        return None
    match = _URL_DATE.search(url)
    if not match or not match.group("d"):
        return None
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"])).isoformat()
    except ValueError:
        return None


def day_of(value: str | None) -> str | None:
    """The ``YYYY-MM-DD`` part of an ISO date or date-time."""
    return value[:10] if value else None


DATE_FORMS = "a date as YYYY-MM-DD or an ISO 8601 date-time (2024-05-01T12:00:00Z)"


def filter_date(raw: str | None) -> str | None:
    """A since/until filter as ISO 8601 (a day stays a day); None when blank, ValueError if bad."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) == 10:
        return date.fromisoformat(text).isoformat()
    # RFC 3339 allows a lower-case t and z.
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).isoformat()
