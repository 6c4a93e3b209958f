"""A small, dependency-free guess of an article's language from its most common words."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "is",
            "that",
            "for",
            "with",
            "as",
            "on",
            "was",
            "are",
            "by",
            "this",
            "from",
            "it",
            "be",
            "at",
            "has",
        ]
    ),
    "ru": frozenset(
        [
            "и",
            "в",
            "не",
            "на",
            "что",
            "с",
            "по",
            "как",
            "это",
            "из",
            "за",
            "от",
            "для",
            "но",
            "он",
            "к",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "und",
            "das",
            "den",
            "ist",
            "nicht",
            "mit",
            "von",
            "zu",
            "ein",
            "eine",
            "auf",
            "für",
            "sich",
            "des",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "des",
            "est",
            "une",
            "dans",
            "que",
            "pour",
            "pas",
            "sur",
            "au",
            "du",
            "qui",
            "par",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "que",
            "del",
            "en",
            "por",
            "con",
            "una",
            "para",
            "es",
            "se",
            "al",
        ]
    ),
    "it": frozenset(
        ["il", "di", "che", "la", "per", "non", "una", "sono", "del", "della", "con", "gli", "le"]
    ),
    "pt": frozenset(
        ["o", "os", "que", "do", "da", "em", "para", "com", "uma", "não", "por", "se", "dos", "das"]
    ),
}


def guess_language(text: str) -> str | None:
    """ISO 639-1 code of the language most of ``text``'s words belong to, or None if unsure."""
    words = [word.lower() for word in _WORD.findall(text[:20000])]
    if len(words) < 5:
        return None
    if sum(1 for word in words if "\u3040" <= word[0] <= "\u30ff") > len(words) / 4:
        return "ja"
    if sum(1 for word in words if "\u4e00" <= word[0] <= "\u9fff") > len(words) / 4:
        return "zh"
    scores = {lang: sum(word in stop for word in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= max(2, len(words) // 50) else None
