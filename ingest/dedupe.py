"""Near-duplicate detection with word shingles.

Two bodies are copies of one article when at least 90% of the shingles of the shorter one appear in
the longer (syndicated copies add or trim boilerplate, so containment works better than Jaccard).
Candidates are found through a sketch: the shingle hashes divisible by ``SKETCH_MODULUS``, which
samples both bodies the same way and so estimates containment without storing every shingle.
"""

from __future__ import annotations

import hashlib
import re

SHINGLE_WORDS = 5
SKETCH_MODULUS = 4
DUPLICATE_OVERLAP = 0.9

_WORD = re.compile(r"\w+", re.UNICODE)


def shingle_hashes(text: str, size: int = SHINGLE_WORDS) -> set[int]:
    """Signed 63-bit hashes of the lower-cased ``size``-word shingles of ``text``."""
    words = [word.lower() for word in _WORD.findall(text)]
    if len(words) < size:
        words_key = " ".join(words)
        return {_hash(words_key)} if words_key else set()
    return {_hash(" ".join(words[i : i + size])) for i in range(len(words) - size + 1)}


def sketch(hashes: set[int]) -> set[int]:
    """The sample of ``hashes`` kept for candidate look-up (fits SQLite's signed INTEGER)."""
    return {h for h in hashes if h % SKETCH_MODULUS == 0}


def overlap(a: set[int], b: set[int]) -> float:
    """Share of the smaller shingle set found in the larger one (0 when either is empty)."""
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small)


def is_duplicate(a: str, b: str) -> bool:
    """Whether two bodies are copies of one article."""
    return overlap(shingle_hashes(a), shingle_hashes(b)) >= DUPLICATE_OVERLAP


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") >> 1
