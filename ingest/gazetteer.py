"""Named things of the crypto market (exchanges, assets, funds, companies…) and where text
mentions them.

The data lives in ``ingest/data/gazetteer.json``: each entity has a canonical ``name``, a ``type``,
``aliases`` matched case-insensitively and ``exact`` aliases matched only as written (tickers, and
names that are also ordinary words, such as "Strategy" or "Spark").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

GAZETTEER_PATH = Path(__file__).parent / "data" / "gazetteer.json"

ENTITY_TYPES = (
    "exchange",
    "asset",
    "network",
    "fund",
    "company",
    "protocol",
    "index",
    "person",
    "country",
    "source",
    "institution",  # central banks and regulators: who sets a rate or brings a case
)

# A mention glued to a slash or a quote currency is a trading pair ("BTC/USD", "BTC-USDT-SWAP"),
# which names a market, not the thing a figure is about.
_PAIR_AFTER = re.compile(r"[/-](?:[A-Z]{2,6})\b")
_PAIR_BEFORE = re.compile(r"[A-Z]{2,6}[/-]$")


@dataclass(frozen=True)
class Entity:
    """One named thing with its canonical name and the ways text refers to it."""

    name: str
    type: str
    aliases: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    ticker: str | None = None
    issuer: str | None = None


@dataclass(frozen=True)
class Mention:
    """A place where a sentence names an entity; ``text[start:end] == surface``."""

    start: int
    end: int
    surface: str
    name: str
    type: str


_RECENT_LIMIT = 4096


@dataclass
class Gazetteer:
    """The known entities, with case-insensitive alias lookup and mention finding."""

    entities: list[Entity] = field(default_factory=list)
    # Recent answers of ``find_mentions``: extraction asks about each sentence more than once.
    _recent: dict[tuple[str, bool], tuple[Mention, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def _by_alias(self) -> dict[str, Entity]:
        table: dict[str, Entity] = {}
        for entity in self.entities:
            for alias in (entity.name, *entity.aliases, *entity.exact):
                table.setdefault(alias.casefold(), entity)
        return table

    @cached_property
    def _by_name(self) -> dict[str, Entity]:
        return {entity.name.casefold(): entity for entity in self.entities}

    @cached_property
    def _tables(self) -> tuple[dict[str, Entity], dict[str, Entity]]:
        """Alias → entity: (case-insensitive aliases casefolded, exact aliases as written)."""
        loose: dict[str, Entity] = {}
        strict: dict[str, Entity] = {}
        for entity in self.entities:
            exact = set(entity.exact)
            if entity.name not in exact:
                loose.setdefault(entity.name.casefold(), entity)
            for alias in entity.aliases:
                loose.setdefault(alias.casefold(), entity)
            for alias in exact:
                strict.setdefault(alias, entity)
        return loose, strict

    @cached_property
    def _head_finders(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """Regexes finding the words that open an alias (loose, strict), as whole words."""
        loose_heads, strict_heads = self._matchers
        return (
            re.compile(_HEAD_BOUNDS.format(trie_pattern(sorted(loose_heads))), re.IGNORECASE),
            re.compile(_HEAD_BOUNDS.format(trie_pattern(sorted(strict_heads)))),
        )

    @cached_property
    def _matchers(self) -> tuple[dict[str, re.Pattern[str]], dict[str, re.Pattern[str]]]:
        """First word of an alias → one regex for the aliases opening with it (loose, strict).

        Trying only the aliases that open with the word at hand, instead of one alternation of
        every alias at every position, makes mention finding an order of magnitude faster.
        """
        loose, strict = self._tables
        return _matchers_by_head(loose, fold=True), _matchers_by_head(strict, fold=False)

    def lookup(self, name: str) -> Entity | None:
        """The entity a name or alias refers to (case-insensitive), or None."""
        key = name.strip().casefold()
        return self._by_name.get(key) or self._by_alias.get(key)

    def canonical(self, name: str) -> str | None:
        """Canonical name for an alias ("BTC" → "Bitcoin"), or None when unknown."""
        entity = self.lookup(name)
        return entity.name if entity else None

    def entity_type(self, name: str) -> str | None:
        """Type of the entity an alias refers to ("OKEx" → "exchange"), or None."""
        entity = self.lookup(name)
        return entity.type if entity else None

    def ticker(self, name: str) -> str | None:
        """Ticker of an asset or fund named by an alias, or None."""
        entity = self.lookup(name)
        return entity.ticker if entity else None

    def asset_for_ticker(self, ticker: str) -> Entity | None:
        """The asset whose ticker is ``ticker`` (exact case), or None."""
        _, strict = self._tables
        entity = strict.get(ticker)
        return entity if entity and entity.ticker == ticker else None

    def find_mentions(self, text: str, *, skip_pairs: bool = True) -> list[Mention]:
        """Non-overlapping entity mentions in ``text``, longest first where they overlap."""
        key = (text, skip_pairs)
        if key not in self._recent:
            if len(self._recent) >= _RECENT_LIMIT:
                self._recent.clear()
            self._recent[key] = tuple(self._find_mentions(text, skip_pairs))
        return list(self._recent[key])

    def _find_mentions(self, text: str, skip_pairs: bool) -> list[Mention]:
        """``find_mentions`` without the cache."""
        loose, strict = self._tables
        loose_heads, strict_heads = self._matchers
        loose_finder, strict_finder = self._head_finders
        found: list[Mention] = []
        for finder, heads, table, fold in (
            (loose_finder, loose_heads, loose, True),
            (strict_finder, strict_heads, strict, False),
        ):
            # Like ``finditer`` of one alternation: leftmost first, no overlaps within a table.
            cursor = 0
            for word in finder.finditer(text):
                if word.start() < cursor:
                    continue
                head = word.group(0)
                match = heads[head.lower() if fold else head].match(text, word.start())
                if match is None:
                    continue
                surface = match.group(0)
                entity = table[surface.casefold() if fold else surface]
                found.append(Mention(match.start(), match.end(), surface, entity.name, entity.type))
                cursor = match.end()
        found.sort(key=lambda m: (-(m.end - m.start), m.start))
        chosen: list[Mention] = []
        for mention in found:
            if any(m.start < mention.end and mention.start < m.end for m in chosen):
                continue
            if skip_pairs and (
                _PAIR_AFTER.match(text, mention.end) or _PAIR_BEFORE.search(text[: mention.start])
            ):
                continue
            chosen.append(mention)
        return sorted(chosen, key=lambda m: m.start)


# Where an alias can start: a word, or a "$" glued to one ("$TRUMP").
_HEAD_WORD = re.compile(r"\$?\w+")
# A whole opening word of an alias, where the alias itself could start.
_HEAD_BOUNDS = r"(?<![\w$.&])(?:{})(?!\w)"


def _alternation(aliases: list[str], flags: int) -> re.Pattern[str]:
    """One regex matching any of ``aliases`` as a whole word, longest alias first."""
    ordered = sorted(aliases, key=len, reverse=True)
    body = "|".join(re.escape(alias) for alias in ordered) or r"(?!)"
    return re.compile(rf"(?<![\w$.&])(?:{body})(?![\w&]|\.\w)", flags)


def _matchers_by_head(table: dict[str, Entity], *, fold: bool) -> dict[str, re.Pattern[str]]:
    """Aliases grouped by their first word (lower-cased when ``fold``), one regex per group."""
    groups: dict[str, list[str]] = {}
    for alias in table:
        head = _HEAD_WORD.match(alias)
        if head is None:
            continue
        key = head.group(0).lower() if fold else head.group(0)
        groups.setdefault(key, []).append(alias)
    flags = re.IGNORECASE if fold else 0
    return {key: _alternation(aliases, flags) for key, aliases in groups.items()}


def trie_pattern(words: list[str]) -> str:
    """A regex for any of ``words`` shaped as their prefix tree, so each character is tried once
    rather than once per word; it matches the longest word starting at a position."""
    if not words:
        # No words: a pattern that never matches (an empty one would match everywhere).
        return "(?!)"
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_node_pattern(trie)


def _trie_node_pattern(node: dict) -> str:
    """The pattern of one prefix-tree node: its children, optional when a word ends here."""
    children = [re.escape(char) + _trie_node_pattern(child) for char, child in node.items() if char]
    if not children:
        return ""
    body = children[0] if len(children) == 1 else "(?:" + "|".join(children) + ")"
    if "" in node:
        return "(?:" + body + ")?"
    return body


def gazetteer_from_json(data: dict) -> Gazetteer:
    """A gazetteer from the JSON layout of ``ingest/data/gazetteer.json``."""
    entities = []
    for item in data["entities"]:
        if item["type"] not in ENTITY_TYPES:
            raise ValueError(
                f"gazetteer entity {item['name']!r} has type {item['type']!r}; "
                f"accepted types: {', '.join(ENTITY_TYPES)}"
            )
        entities.append(
            Entity(
                name=item["name"],
                type=item["type"],
                aliases=tuple(item.get("aliases", ())),
                exact=tuple(item.get("exact", ())),
                ticker=item.get("ticker"),
                issuer=item.get("issuer"),
            )
        )
    return Gazetteer(entities)


@lru_cache(maxsize=1)
def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """The shipped gazetteer (or the one at ``path``), loaded once."""
    source = path or GAZETTEER_PATH
    return gazetteer_from_json(json.loads(Path(source).read_text(encoding="utf-8")))


def canonical(name: str) -> str | None:
    """Canonical name for an alias in the shipped gazetteer ("OKEx" → "OKX"), or None."""
    return load_gazetteer().canonical(name)


def entity_type(name: str) -> str | None:
    """Type of a named entity in the shipped gazetteer, or None when unknown."""
    return load_gazetteer().entity_type(name)


def find_mentions(text: str) -> list[Mention]:
    """Entity mentions of the shipped gazetteer in ``text``, with spans."""
    return load_gazetteer().find_mentions(text)
