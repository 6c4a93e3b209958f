"""Splitting an article body into passages: runs of whole sentences that fit the model's window."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ingest.records import Article, Passage
from ingest.sentences import sentence_spans

TokenCounter = Callable[[str], int]

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_token_count(text: str) -> int:
    """A word-piece count estimate: one per word or symbol, plus one per 6 letters of long words."""
    return sum(1 + max(0, len(piece) - 6) // 6 for piece in _PIECE.findall(text))


@dataclass(frozen=True)
class ChunkSettings:
    """How passages are cut; recorded in the data directory's manifest."""

    # all-MiniLM-L6-v2 reads 256 word pieces, two of which are [CLS] and [SEP].
    max_tokens: int = 254
    overlap_sentences: int = 1


DEFAULT_CHUNKING = ChunkSettings()


def chunk_article(
    article: Article,
    settings: ChunkSettings = DEFAULT_CHUNKING,
    count_tokens: TokenCounter = approx_token_count,
) -> list[Passage]:
    """Passages of ``article.body`` with exact offsets, headings and a sentence of overlap."""
    body = article.body
    sentences = _fitting_spans(body, settings.max_tokens, count_tokens)
    heading_starts = _heading_starts(body, article.headings)
    passages: list[Passage] = []
    first = 0
    while first < len(sentences):
        last = first
        tokens = count_tokens(body[slice(*sentences[first])])
        while last + 1 < len(sentences):
            more = count_tokens(body[slice(*sentences[last + 1])])
            if tokens + more > settings.max_tokens:
                break
            tokens += more
            last += 1
        start, end = sentences[first][0], sentences[last][1]
        passages.append(
            Passage(
                article_id=article.id,
                ordinal=len(passages),
                text=body[start:end],
                start=start,
                end=end,
                heading=_heading_at(heading_starts, start),
                sentences=tuple((a - start, b - start) for a, b in sentences[first : last + 1]),
            )
        )
        if last + 1 >= len(sentences):
            break
        # Step back for the overlap, but always move forward by at least one sentence.
        first = max(first + 1, last + 1 - settings.overlap_sentences)
    return passages


def passage_sentences(passage: Passage) -> list[tuple[int, int]]:
    """The sentence spans of a passage's text: the chunker's own, or a fresh split if unknown."""
    return list(passage.sentences) if passage.sentences else sentence_spans(passage.text)


def _fitting_spans(body: str, max_tokens: int, count_tokens: TokenCounter) -> list[tuple[int, int]]:
    """Sentence spans, with any sentence longer than the window cut at words (or inside them)."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(body):
        if count_tokens(body[start:end]) <= max_tokens:
            spans.append((start, end))
            continue
        words: list[tuple[int, int]] = []
        for match in re.finditer(r"\S+", body[start:end]):
            words.extend(
                _cut_word(
                    body, start + match.start(), start + match.end(), max_tokens, count_tokens
                )
            )
        piece_start, piece_end = words[0]
        for word_start, word_end in words[1:]:
            if count_tokens(body[piece_start:word_end]) > max_tokens:
                spans.append((piece_start, piece_end))
                piece_start = word_start
            piece_end = word_end
        spans.append((piece_start, piece_end))
    return spans


def _cut_word(
    body: str, start: int, end: int, max_tokens: int, count_tokens: TokenCounter
) -> list[tuple[int, int]]:
    """A run of non-space characters (a URL, say) cut into pieces that each fit the window."""
    pieces = []
    while start < end:
        stop = end
        while stop - start > 1 and count_tokens(body[start:stop]) > max_tokens:
            stop = start + (stop - start) * 3 // 4
        pieces.append((start, stop))
        start = stop
    return pieces


def _heading_starts(body: str, headings: list[str]) -> list[tuple[int, str]]:
    """Offsets of heading paragraphs in the body, in order."""
    found: list[tuple[int, str]] = []
    position = 0
    for heading in headings:
        index = body.find(heading, position)
        if index >= 0:
            found.append((index, heading))
            position = index + len(heading)
    return found


def _heading_at(heading_starts: list[tuple[int, str]], offset: int) -> str | None:
    """The last heading that starts at or before ``offset``."""
    current = None
    for start, heading in heading_starts:
        if start > offset:
            break
        current = heading
    return current
