"""What an evaluation question's gold items say: whether a text contains a must_include item.

The rule of ../shared/README.md: a ``{"text"}`` item appears case-insensitively; a
``{"value", "unit"}`` item is stated within 0.5% in any usual notation ($59 million, $59M, US$59m;
for dollars also "59 million dollars" and "USD 59 million").
Training labels candidates with it and the benchmarks score answers with it.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(
    r"(?P<cur>US\$|\$|€|£|¥|\bUSD\s?)?\s?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s?(?P<mag>trillion|"
    r"billion|million|thousand|tn|bn|mn|[kmbt])?\b(?P<after>\s(?:US\s)?dollars?\b|\sUSD\b)?",
    re.IGNORECASE,
)
_MAGNITUDES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
    "t": 1e12,
}


def stated_values(text: str) -> list[tuple[float, bool]]:
    """Every figure written in ``text`` as (value, is_money), in any usual notation."""
    found = []
    for match in _NUMBER.finditer(text):
        value = float(match["num"].replace(",", ""))
        value *= _MAGNITUDES.get((match["mag"] or "").lower(), 1.0)
        found.append((value, bool(match["cur"] or match["after"])))
    return found


def contains(text: str, item: dict) -> bool:
    """Whether ``text`` contains one must_include item."""
    if "text" in item:
        return item["text"].lower() in text.lower()
    target = float(item["value"])
    return any(
        abs(value - target) <= 0.005 * abs(target) and (item["unit"] != "USD" or money)
        for value, money in stated_values(text)
    )


def value_matches(value: float, item: dict) -> bool:
    """Whether a figure's value is a must_include value item's (within 0.5%)."""
    if "value" not in item:
        return False
    target = float(item["value"])
    return abs(value - target) <= 0.005 * max(abs(target), 1e-9)
