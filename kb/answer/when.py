"""Reading the publication time a question names: "in May 2025", "on Aug. 2", "last week".

A question names a *time* when it says when the commentary it asks about was written ("in May
2025", "last week", "yesterday"); it names a *window* when it says over how long a figure was
measured ("liquidated in 24 hours", "over the past week", "7-day inflows"). Only times are read
here: a window belongs to the figure (facts carry it) and says nothing about the publication date,
and a question without a time is already served by preferring the newest commentary.

Rules of reading:

- A length of time ("24h", "in 24 hours", "the past 24 hours", "the past week", "the last 30
  days", "this past week") is a window, never a time: in commentary such lengths are what figures
  are measured over, and they end whenever the commentary was written, not today. A calendar
  period counted back from today is a time: "last week" is the Monday-to-Sunday week before this
  one, "last month" the calendar month before this one, "yesterday", "this year", "two weeks
  ago", "on Monday" (but not "on the Monday when...", a day the question identifies otherwise).
- An explicit year wins: when any expression names its year, expressions without one (a weekday,
  "last week") are ignored, and yearless months and days take the question's year if it names
  exactly one.
- A month, day, quarter or half without a year means its most recent occurrence that began on or
  before ``today``; "last May" is the most recent May before the current month. Such a span says
  ``guessed_year``, since over an archive the guess is often wrong.
- A year alone counts only after a word that makes it a time ("in 2021", "since 2021", "during
  2021", "of 2021", "between 2021 and 2023") or with a part of the year ("early 2021",
  "mid-2025", "the end of 2023"). A year used as the adjective of a figure ("the 2021 high",
  "2021 levels") names the time of a reference point that later commentary also quotes, so it is
  not read; nor are numbers that only look like years ("$2021", "2,021 BTC", "2021 contracts").
- A month name alone ("May", "march") counts only after a time word ("in May", "since March",
  "last May", "between March and May"), so the verb and the noun ("Bitcoin may fall", "the
  march higher") are not read; with a day or a year attached ("May 3", "May 2025") it always counts.
- "since X" runs from the start of X to ``today``; "after X" from the day after X to ``today``;
  "before X" from ``date.min`` to the day before X.
- Of several times, a closed period wins over an open range ("since May 2022" is a reference
  point), a period inside another wins over the one around it ("in 2021 ... in May"), and then
  the latest wins, since commentary is written after what it reports. ``read_times`` lists all.
- A period running past ``today`` ends today ("this month"); nothing is published later.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from ingest.dates import CALENDAR_WORDS


@dataclass(frozen=True)
class TimeSpan:
    """A period of publication dates a question names, with where it names it."""

    since: date  # inclusive
    until: date  # inclusive
    text: str  # the words in the question that named it
    start: int  # span in the question
    end: int
    # True when no year was stated and the most recent occurrence on or before today was taken
    # ("in May", "on Aug. 2"): right for live questions, often not for an archive, so a caller
    # may prefer to treat such a time as a hint rather than a filter.
    guessed_year: bool = False


# -- vocabulary ---------------------------------------------------------------------------------

_MONTH_NAMES = CALENDAR_WORDS[:12]
_WEEKDAY_NAMES = CALENDAR_WORDS[12:]
_MONTHS: dict[str, int] = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_MONTHS.update({name[:3]: number for name, number in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_ABBREVIATIONS = sorted(
    (name for name in _MONTHS if name not in _MONTH_NAMES), key=len, reverse=True
)
# "Aug." keeps its full stop; "March." does not take the sentence's.
_MONTH = (
    r"(?P<month>(?:" + "|".join(_MONTH_NAMES) + r")\b|(?:" + "|".join(_ABBREVIATIONS) + r")\b\.?)"
)
_WEEKDAY = r"(?P<weekday>" + "|".join(_WEEKDAY_NAMES) + r")\b(?:'s)?"
_YEAR = (
    r"(?P<year>(?:19|20)\d{2})\b(?![.,]\d|\s*(?:%|[-\u2013]?\s*(?:btc|eth|bitcoins?|ethers?|coins?|"
    r"tokens?|contracts?|shares?|units?|percent|k|m|bn|million|billion|thousand|x)\b))"
)
_DAY = (
    r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?!\s*(?:%|k\b|m\b|bn\b|x\b|million|billion|thousand|"
    r"percent|[.,]\d|:\d))"
)
_ORDINALS = {word: n for n, word in enumerate(("first", "second", "third", "fourth"), start=1)}
_ORDINALS.update({f"{n}{suffix}": n for n, suffix in ((1, "st"), (2, "nd"), (3, "rd"), (4, "th"))})
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_COUNTS = {"a": 1, "an": 1, **{word: n for n, word in enumerate(_NUMBER_WORDS, start=1)}}
# Words before a bare year or a bare month name that make it a time rather than a number or a verb.
_TIME_WORD = re.compile(
    r"\b(?P<word>in|on|during|since|from|through|throughout|until|till|by|before|after|of|for|"
    r"between|across|around)\s+(?:the\s+(?:year\s+|month\s+of\s+)?)?$",
    re.IGNORECASE,
)
# Words before any time that turn it into an open range.
_OPEN = re.compile(r"\b(?P<word>since|after|before|prior\s+to)\s+(?:the\s+)?$", re.IGNORECASE)
# A date used as the adjective of a reference figure ("the 2021 high", "its May 2024 peak").
_REFERENCE = re.compile(
    r"(?:'s)?\s+(?:all-time\s+|record\s+|yearly\s+|annual\s+|cycle\s+)?"
    r"(?:highs?|lows?|peaks?|tops?|bottoms?|records?|levels?|ath)\b",
    re.IGNORECASE,
)
_PREPOSITION = re.compile(
    r"\b(?:in|on|during|throughout|over|at|for|of|between|from)\s+(?:the\s+)?$", re.IGNORECASE
)
_RANGE_GAP = re.compile(
    r"^\s*(?P<gap>and|to|through|until|till|-|\u2013|\u2014)\s*$", re.IGNORECASE
)
_RANGE_OPEN = re.compile(r"\b(?:between|from)\s+(?:the\s+)?$", re.IGNORECASE)
_WEEK_AROUND = re.compile(
    r"\b(?:the\s+)?week\s+(?P<how>ended|ending|to|through|of|starting|beginning|beginning\s+on)"
    r"\s+$",
    re.IGNORECASE,
)


# -- calendar arithmetic --------------------------------------------------------------------------


def _month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _recent_year(today: date, month: int, day: int = 1) -> int:
    """The year of the most recent (month, day) on or before ``today``."""
    return today.year if (month, day) <= (today.month, today.day) else today.year - 1


def _week_of(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def _two_digit_year(text: str) -> int:
    return 2000 + int(text) if int(text) < 70 else 1900 + int(text)


# -- mentions: one time expression each, before context decides whether it counts ---------------

Resolve = Callable[[int | None], "tuple[date, date] | None"]


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    year: int | None  # the year the words name, if any
    resolve: Resolve  # (a year, or None for the most recent occurrence) -> (since, until)
    calendar_kind: bool = True  # a month, day or part of a year (can borrow a year)
    needs_time_word: bool = False  # a bare month or year: counts only after a time word


def _month_mention(
    month: int, today: date, parts: Callable[[int, int], tuple[date, date]]
) -> Resolve:
    """A resolver for a period inside ``month``; yearless means the most recent such month."""

    def resolve(year: int | None) -> tuple[date, date] | None:
        return parts(year if year is not None else _recent_year(today, month), month)

    return resolve


def _day(year: int, month: int, day: int) -> tuple[date, date] | None:
    try:
        return date(year, month, day), date(year, month, day)
    except ValueError:  # a day the month does not have
        return None


def _day_resolver(month: int, day: int, today: date) -> Resolve:
    def resolve(year: int | None) -> tuple[date, date] | None:
        if year is not None:
            return _day(year, month, day)
        recent = _recent_year(today, month, day)
        # 29 February falls back to the most recent leap year.
        return next(filter(None, (_day(recent - back, month, day) for back in range(9))), None)

    return resolve


def _days_resolver(month: int, first: int, last: int, today: date) -> Resolve:
    """A run of days of one month ("March 3-9")."""
    day_one, day_last = _day_resolver(month, first, today), _day_resolver(month, last, today)

    def resolve(year: int | None) -> tuple[date, date] | None:
        begin = day_one(year)
        end = day_last(begin[0].year if begin else year)
        return (begin[0], end[1]) if begin and end else None

    return resolve


def _month_parts(which: str) -> Callable[[int, int], tuple[date, date]]:
    """Early, mid, late, start or end of a month as a run of days."""
    which = which.lower().replace("the ", "").strip()

    def parts(year: int, month: int) -> tuple[date, date]:
        first, last = _month_span(year, month)
        if which.startswith(("early", "start", "beginning")):
            return first, date(year, month, 10)
        if which.startswith(("mid", "middle")):
            return date(year, month, 11), date(year, month, 20)
        return date(year, month, 21), last  # late, end

    return parts


def _week_of_month(which: str) -> Callable[[int, int], tuple[date, date]]:
    def parts(year: int, month: int) -> tuple[date, date]:
        first, last = _month_span(year, month)
        if which.lower() in ("last", "final"):
            return last - timedelta(days=6), last
        begin = first + timedelta(days=7 * (_ORDINALS[which.lower()] - 1))
        return begin, begin + timedelta(days=6)

    return parts


def _year_part(which: str | None) -> Callable[[int], tuple[date, date]]:
    which = (which or "").lower().replace("the ", "").replace("-", " ").strip()

    def parts(year: int) -> tuple[date, date]:
        if which.startswith("early"):
            return date(year, 1, 1), date(year, 4, 30)
        if which.startswith(("mid", "middle")):
            return date(year, 5, 1), date(year, 8, 31)
        if which.startswith("late"):
            return date(year, 9, 1), date(year, 12, 31)
        if which.startswith(("start", "beginning")):
            return date(year, 1, 1), date(year, 1, 31)
        if which.startswith("end"):
            return date(year, 12, 1), date(year, 12, 31)
        return date(year, 1, 1), date(year, 12, 31)

    return parts


def _months_from(first_month: int, count: int, today: date) -> Resolve:
    """A run of ``count`` months from ``first_month`` (a quarter, a half)."""

    def resolve(year: int | None) -> tuple[date, date]:
        year = year if year is not None else _recent_year(today, first_month)
        return date(year, first_month, 1), _month_span(year, first_month + count - 1)[1]

    return resolve


def _fixed(since: date, until: date) -> Resolve:
    return lambda _year: (since, until)


_QUALIFIER = r"(?P<which>early|mid|middle\s+of|late|(?:the\s+)?(?:start|beginning|end)\s+of)[\s-]+"
_PATTERNS: list[tuple[str, str]] = [
    ("iso", r"\b(?P<year>(?:19|20)\d{2})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])\b"),
    (
        "week_of_month",
        r"\b(?:the\s+)?(?P<ord>first|second|third|fourth|last|final|1st|2nd|3rd|4th)"
        r"\s+week\s+of\s+" + _MONTH + r"(?:,?\s+" + _YEAR + r")?",
    ),
    (
        "day_range",
        r"\b"
        + _MONTH
        + r"\s+"
        + _DAY
        + r"\s*(?:-|\u2013|to|and|through|until)\s*"
        + _DAY.replace("(?P<day>", "(?P<day2>")
        + r"(?:,?\s+"
        + _YEAR
        + r")?",
    ),
    ("month_day", r"\b" + _MONTH + r"\s+" + _DAY + r"(?:,?\s+" + _YEAR + r")?"),
    ("day_month", r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+" + _YEAR + r")?"),
    ("part_month", r"\b" + _QUALIFIER + _MONTH + r"(?:,?\s+" + _YEAR + r")?"),
    (
        "quarter",
        r"\b(?:q(?P<q>[1-4])|(?P<q2>[1-4])q)(?:(?:\s+of)?\s+"
        + _YEAR
        + r"|\s?'(?P<yy>\d{2})\b|(?P<yy2>\d{2})\b)?(?![\w-])",
    ),
    (
        "quarter_words",
        r"\b(?:the\s+)?(?P<ord>first|second|third|fourth|1st|2nd|3rd|4th)[\s-]"
        r"quarter(?![\w-])(?:\s+(?:of\s+)?" + _YEAR + r")?",
    ),
    ("half", r"\b(?:h(?P<h>[12])|(?P<h2>[12])h)(?:\s+" + _YEAR + r"|(?P<yy>\d{2})\b)?(?![\w-])"),
    (
        "half_words",
        r"\b(?:the\s+)?(?P<ord>first|second)\s+half(?![\w-])(?:\s+(?:of\s+)?" + _YEAR + r")?",
    ),
    ("month_year", r"\b" + _MONTH + r",?\s+(?:of\s+)?" + _YEAR),
    ("part_year", r"\b" + _QUALIFIER + _YEAR),
    (
        "ago",
        r"\b(?P<n>\d{1,2}|" + "|".join(_COUNTS) + r")\s+(?P<unit>day|week|month|year)s?\s+ago\b",
    ),
    (
        "relative",
        r"\b(?:(?P<which>this|last|previous)\s+(?P<unit>week|weekend|month|quarter|year)"
        r"|(?P<plain>today|yesterday|(?:over\s+)?the\s+weekend))\b(?:'s)?",
    ),
    ("weekday", r"\b(?:(?P<which>last|this|past)\s+)?" + _WEEKDAY),
    ("bare_month", r"\b(?:(?P<which>last|this)\s+)?" + _MONTH + r"(?!\s*\d)"),
    ("bare_year", r"(?<![$\u20ac\u00a3\d.,#])\b" + _YEAR),
]
_COMPILED = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _PATTERNS]


def _year_of(match: re.Match) -> int | None:
    groups = match.groupdict()
    if groups.get("year"):
        return int(groups["year"])
    for name in ("yy", "yy2"):
        if groups.get(name):
            return _two_digit_year(groups[name])
    return None


def _mention(kind: str, match: re.Match, today: date) -> _Mention | None:
    """The mention a pattern's match stands for, or None when its words are not a date."""
    groups = match.groupdict()
    year = _year_of(match)
    month = _MONTHS.get((groups.get("month") or "").lower().rstrip("."))
    start, end = match.span()
    base = {"start": start, "end": end, "year": year}
    if kind == "iso":
        resolve = _day_resolver(int(groups["m"]), int(groups["d"]), today)
        return _Mention(**base, resolve=resolve) if resolve(year) else None
    if kind == "day_range":
        first, last = int(groups["day"]), int(groups["day2"])
        resolve = _days_resolver(month, first, last, today)
        return _Mention(**base, resolve=resolve) if first < last and resolve(year) else None
    if kind in ("month_day", "day_month"):
        if groups["month"].lower() == "may" and year is None and groups["month"][0] == "m":
            return None  # lowercase "may 5": a verb before a figure far more often than a date
        resolve = _day_resolver(month, int(groups["day"]), today)
        return _Mention(**base, resolve=resolve) if resolve(year) or resolve(None) else None
    if kind == "week_of_month":
        return _Mention(**base, resolve=_month_mention(month, today, _week_of_month(groups["ord"])))
    if kind == "part_month":
        return _Mention(**base, resolve=_month_mention(month, today, _month_parts(groups["which"])))
    if kind == "month_year":
        return _Mention(**base, resolve=_month_mention(month, today, _month_span))
    if kind in ("quarter", "quarter_words"):
        number = int(groups.get("q") or groups.get("q2") or _ORDINALS[groups["ord"].lower()])
        return _Mention(**base, resolve=_months_from(3 * number - 2, 3, today))
    if kind in ("half", "half_words"):
        number = int(groups.get("h") or groups.get("h2") or _ORDINALS[groups["ord"].lower()])
        return _Mention(**base, resolve=_months_from(6 * number - 5, 6, today))
    if kind == "part_year":
        parts = _year_part(groups["which"])
        return _Mention(**base, resolve=lambda _y, y=year: parts(y))
    if kind == "bare_year":
        parts = _year_part(None)
        return _Mention(**base, resolve=lambda _y, y=year: parts(y), needs_time_word=True)
    if kind == "bare_month":
        which = (groups.get("which") or "").lower()
        if which == "last":
            back = today.year if month < today.month else today.year - 1
            return _Mention(**base, resolve=_fixed(*_month_span(back, month)))
        if which == "this":
            return _Mention(**base, resolve=_fixed(*_month_span(today.year, month)))
        return _Mention(
            **base, resolve=_month_mention(month, today, _month_span), needs_time_word=True
        )
    return _relative(kind, groups, today, base)


def _relative(kind: str, groups: dict, today: date, base: dict) -> _Mention | None:
    """Mentions counted back from today: they take no year and borrow none."""
    span: tuple[date, date] | None = None
    if kind == "ago":
        n = int(groups["n"]) if groups["n"].isdigit() else _COUNTS[groups["n"].lower()]
        unit = groups["unit"].lower()
        if unit == "day":
            span = (today - timedelta(days=n),) * 2
        elif unit == "week":
            span = _week_of(today - timedelta(weeks=n))
        elif unit == "month":
            index = today.year * 12 + today.month - 1 - n
            span = _month_span(index // 12, index % 12 + 1)
        else:
            span = (date(today.year - n, 1, 1), date(today.year - n, 12, 31))
    elif kind == "relative":
        span = _calendar_relative(groups, today)
    elif kind == "weekday":
        which = (groups.get("which") or "").lower()
        if which == "past":
            return None
        back = (today.weekday() - _WEEKDAY_NAMES.index(groups["weekday"].lower())) % 7
        if which == "last" and back == 0:
            back = 7
        span = (today - timedelta(days=back),) * 2
    return _Mention(**base, resolve=_fixed(*span), calendar_kind=False) if span else None


def _calendar_relative(groups: dict, today: date) -> tuple[date, date]:
    plain = (groups.get("plain") or "").lower()
    if plain == "today":
        return today, today
    if plain == "yesterday":
        return (today - timedelta(days=1),) * 2
    unit = (groups.get("unit") or "weekend").lower()
    back = 0 if (groups.get("which") or "this").lower() == "this" else 1
    if unit == "weekend":
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        return saturday, saturday + timedelta(days=1)
    if unit == "week":
        return _week_of(today - timedelta(weeks=back))
    if unit == "month":
        index = today.year * 12 + today.month - 1 - back
        return _month_span(index // 12, index % 12 + 1)
    if unit == "quarter":
        index = (today.year * 12 + today.month - 1) // 3 - back
        return date(index // 4, index % 4 * 3 + 1, 1), _month_span(index // 4, index % 4 * 3 + 3)[1]
    return date(today.year - back, 1, 1), date(today.year - back, 12, 31)


def _mentions(question: str, today: date) -> list[_Mention]:
    """Every time expression of the question, longest first where two overlap."""
    found: list[_Mention] = []
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(question):
            if kind == "relative" and re.search(
                r"\b(?:the|past)\s+$", question[: match.start()], re.IGNORECASE
            ):
                continue  # "the last week", "the past month": a window, not a calendar period
            if kind == "weekday" and re.search(
                r"\b(?:the|a|an)\s+$", question[: match.start()], re.IGNORECASE
            ):
                continue  # "on the Monday when...": a day the question identifies otherwise
            if _REFERENCE.match(question, match.end()):
                continue  # "its 2021 high": when a reference figure was set, not a time
            mention = _mention(kind, match, today)
            if mention is not None:
                found.append(mention)
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[_Mention] = []
    for mention in found:
        if not any(m.start < mention.end and mention.start < m.end for m in kept):
            kept.append(mention)
    return kept


# -- from mentions to spans -----------------------------------------------------------------------


def _counts(question: str, mention: _Mention) -> bool:
    """Whether a mention is a time by itself: a bare month or year needs a time word before it."""
    if not mention.needs_time_word:
        return True
    return bool(_TIME_WORD.search(question[: mention.start]))


def _extend_left(question: str, start: int, pattern: re.Pattern) -> int:
    match = pattern.search(question[:start])
    return match.start() if match else start


@dataclass(frozen=True)
class _Found:
    span: TimeSpan
    explicit: bool  # its words state the year, or it took the question's one year
    open: bool  # "since", "after" or "before" opened it to a range


def _lone_year(question: str, mentions: list[_Mention]) -> int | None:
    """The one year the question's times name, if exactly one ("since 2020" is not a time of it).

    Only years that are times by themselves lend: in "notes due 2031" the year is a number.
    """
    years = {
        m.year
        for m in mentions
        if m.year is not None and _counts(question, m) and not _OPEN.search(question[: m.start])
    }
    return next(iter(years)) if len(years) == 1 else None


def _joined(question: str, first: _Mention, second: _Mention | None) -> re.Match | None:
    """The range "between A and B", "from A to B", "A-B", "A to B" when the two make one."""
    if second is None:
        return None
    gap = _RANGE_GAP.match(question[first.end : second.start])
    if gap is None:
        return None
    if _RANGE_OPEN.search(question[: first.start]) or gap["gap"] in "-\u2013\u2014":
        return gap
    return gap if gap["gap"].lower() != "and" and _counts(question, first) else None


def _range(
    question: str, first: _Mention, second: _Mention, lone_year: int | None
) -> _Found | None:
    year = second.year if second.year is not None else lone_year
    begin = first.resolve(first.year if first.year is not None else year)
    finish = second.resolve(year)
    if begin and finish and begin[0] > finish[1] and first.year is None and year:
        begin = first.resolve(year - 1)  # "from November to February 2024"
    if not (begin and finish and begin[0] <= finish[1]):
        return None
    opened = _RANGE_OPEN.search(question[: first.start])
    start = opened.start() if opened else first.start
    stated = first.year is not None or second.year is not None
    explicit = stated or (year is not None and first.calendar_kind)
    guessed = not explicit and first.calendar_kind
    text = question[start : second.end]
    span = TimeSpan(begin[0], finish[1], text, start, second.end, guessed_year=guessed)
    return _Found(span, explicit, open=False)


def _found(question: str, today: date) -> list[_Found]:
    """Each time the question names, in question order."""
    mentions = _mentions(question, today)
    lone_year = _lone_year(question, mentions)
    found: list[_Found] = []
    index = 0
    while index < len(mentions):
        first = mentions[index]
        second = mentions[index + 1] if index + 1 < len(mentions) else None
        joined = (
            _range(question, first, second, lone_year) if _joined(question, first, second) else None
        )
        if joined:
            found.append(joined)
            index += 2
            continue
        index += 1
        if not _counts(question, first):
            continue
        year = (
            first.year if first.year is not None else (lone_year if first.calendar_kind else None)
        )
        resolved = first.resolve(year)
        if resolved is not None:
            span, is_open = _opened(question, first, resolved, today)
            guessed = year is None and first.calendar_kind
            found.append(_Found(replace(span, guessed_year=guessed), year is not None, is_open))
    return found


def _opened(
    question: str, mention: _Mention, resolved: tuple[date, date], today: date
) -> tuple[TimeSpan, bool]:
    """The span of a mention, opened to a range by "since", "after" or "before" before it."""
    since, until = resolved
    start = mention.start
    around = _WEEK_AROUND.search(question[: mention.start])
    if around and since == until:
        how = around["how"].lower()
        if how in ("ended", "ending", "to", "through"):
            since = until - timedelta(days=6)
        elif how == "of":
            since, until = _week_of(since)
        else:
            until = since + timedelta(days=6)
        start = around.start()
    opened = _OPEN.search(question[:start])
    if opened:
        word = opened["word"].lower()
        if word == "since" and since <= today:
            since, until = since, max(today, since)
        elif word == "after" and until < today:
            since, until = until + timedelta(days=1), today
        elif word.startswith(("before", "prior")):
            since, until = date.min, since - timedelta(days=1)
        start = opened.start()
    else:
        start = _extend_left(question, start, _PREPOSITION)
    return TimeSpan(since, until, question[start : mention.end], start, mention.end), bool(opened)


def _clipped(span: TimeSpan, today: date) -> TimeSpan:
    """Nothing is published after today: a period running past it ends today."""
    return replace(span, until=today) if span.since <= today < span.until else span


def read_times(question: str, today: date) -> list[TimeSpan]:
    """Every period the question names, in question order (explicit years win over the rest)."""
    found = _found(question, today)
    if any(f.explicit for f in found):
        found = [f for f in found if f.explicit]
    return [_clipped(f.span, today) for f in found]


def read_time(question: str, today: date) -> TimeSpan | None:
    """The period a question names ("in May 2025", "on Aug. 2", "in 2021", "last week of October",
    "yesterday", "this month", "Q3 2024", "mid-2025", "between March and May 2024"…), or None."""
    found = _found(question, today)
    if any(f.explicit for f in found):
        found = [f for f in found if f.explicit]
    if any(not f.open for f in found):
        found = [f for f in found if not f.open]  # "since May 2022" is a reference point
    spans = [f.span for f in found]
    # A period that contains another is context for the one inside it ("in 2021, in May").
    inner = [s for s in spans if not any(_contains(s, o) for o in spans if o is not s)]
    if not inner:
        return None
    # Commentary comes after what it reports: the latest period bounds its date best.
    return _clipped(max(inner, key=lambda s: (s.until, -s.start)), today)


def _contains(outer: TimeSpan, inner: TimeSpan) -> bool:
    return (
        outer.since <= inner.since
        and inner.until <= outer.until
        and (outer.since, outer.until) != (inner.since, inner.until)
    )


__all__ = ["TimeSpan", "read_time", "read_times"]
