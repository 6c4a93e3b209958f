"""Bytes of a web page → text: size and binary checks, then encoding detection.

Order of evidence: a byte-order mark, the HTTP Content-Type charset, a ``<meta charset>`` or
``http-equiv`` declaration near the top of the page, strict UTF-8, then charset-normalizer.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from pathlib import Path

import charset_normalizer

from ingest.errors import IngestError

MAX_PAGE_BYTES = 10 * 1024 * 1024
_SNIFF_BYTES = 4096
_CHUNK = 64 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Magic numbers of formats that are sometimes saved or served where a page was expected.
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "GZIP-compressed data that was not unpacked"),
    (b"\xfd7zXZ\x00", "XZ-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "an executable"),
)
_HTTP_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""",
    re.IGNORECASE,
)
# Labels pages use for encodings that browsers decode as a superset.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-kr": "cp949",
}


def _size_error(n_bytes: int, limit: int = MAX_PAGE_BYTES) -> IngestError:
    megabytes = n_bytes / (1024 * 1024)
    return IngestError(
        f"page is {megabytes:.1f} MB; the limit is {limit // (1024 * 1024)} MB", status=413
    )


def _codec(label: str | bytes | None) -> str | None:
    """Python codec name for a declared charset label, or None if unknown."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _binary_kind(data: bytes) -> str | None:
    """What binary data looks like, or None when it may be text."""
    head = data[:16]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    sample = data[:_SNIFF_BYTES]
    if b"\x00" in sample:
        return "binary data (it contains NUL bytes)"
    return None


def _declared_encodings(data: bytes, content_type: str | None) -> list[str]:
    found: list[str] = []
    if content_type:
        match = _HTTP_CHARSET.search(content_type.encode("latin-1", "ignore"))
        if match:
            found.append(match.group(1).decode("ascii", "ignore"))
    match = _META_CHARSET.search(data[:_SNIFF_BYTES])
    if match:
        found.append(match.group(1).decode("ascii", "ignore"))
    return [c for c in (_codec(label) for label in found) if c]


def decode_page(
    data: bytes, content_type: str | None = None, max_bytes: int = MAX_PAGE_BYTES
) -> str:
    """Decode the bytes of a web page to text, or raise IngestError saying why it is not one."""
    if not data or not data.strip():
        raise IngestError("empty file: the page has no content")
    if len(data) > max_bytes:
        raise _size_error(len(data), max_bytes)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    kind = _binary_kind(data)
    if kind:
        raise IngestError(f"not a text page: the content looks like {kind}; expected HTML or text")
    for codec in _declared_encodings(data, content_type):
        # A declaration that is plainly wrong (UTF-8 declared, cp1252 bytes) loses to detection.
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    damaged = _damaged_utf8(data)
    if damaged is not None:
        return damaged
    western = _western(data)
    if western is not None:
        return western
    best = charset_normalizer.from_bytes(data).best()
    text = None
    if best is not None and best.encoding:
        text = data.decode(_codec(best.encoding) or best.encoding, errors="replace")
    if text is None or _control_share(text) > MAX_CONTROL_SHARE:
        # No encoding reads it as text: bytes without a NUL can still be binary.
        raise IngestError(
            "not a text page: no character encoding reads the content as text; expected HTML "
            "or text"
        )
    return text


# Characters other than tab, newline, form feed and carriage return below U+0020 (and DEL): text
# has next to none, random bytes about one in nine.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.01
# A page whose valid multi-byte UTF-8 sequences outnumber its invalid bytes this many times over is
# UTF-8 with damage (a truncated or spliced download), not text in another encoding: no other
# encoding makes valid UTF-8 sequences that often by chance.
UTF8_EVIDENCE = 3
# A page this much ASCII, with its other bytes all defined in windows-1252, is read as windows-1252,
# the encoding browsers assume for undeclared Western pages; statistical detection errs on such
# pages, having too few non-ASCII bytes to go on.
WESTERN_ASCII_SHARE = 0.9


def _control_share(text: str) -> float:
    return len(_CONTROL.findall(text)) / (len(text) or 1)


def _damaged_utf8(data: bytes) -> str | None:
    """The page as UTF-8, each invalid byte run read as U+FFFD, when the evidence says it is
    UTF-8 (see ``UTF8_EVIDENCE``); else None."""
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    valid = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    return text if invalid and valid >= UTF8_EVIDENCE * invalid else None


def _western(data: bytes) -> str | None:
    """The page as windows-1252 when it is mostly ASCII and every other byte is defined there."""
    if _control_share(data.decode("latin-1")) > MAX_CONTROL_SHARE:
        return None
    ascii_share = sum(1 for byte in data if byte < 0x80) / len(data)
    if ascii_share < WESTERN_ASCII_SHARE:
        return None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # a byte windows-1252 leaves undefined
        return None


def gunzip_capped(source: bytes | Path, limit: int = MAX_PAGE_BYTES, name: str = "data") -> bytes:
    """Unpack gzip bytes or a gzip file, refusing (413) to hold more than ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    try:
        fileobj = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
        with fileobj, gzip.GzipFile(fileobj=fileobj) as stream:
            # Read in chunks so a gzip bomb stops at the limit instead of filling memory.
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise IngestError(
                        f"{name} unpacks to more than {limit // (1024 * 1024)} MB; "
                        f"the limit is {limit // (1024 * 1024)} MB",
                        status=413,
                    )
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise IngestError(f"{name} is not a valid gzip file: {error}") from error
    return b"".join(chunks)


def read_page_file(path: str | Path) -> bytes:
    """Bytes of a saved page (``.gz`` is unpacked), refusing anything over the size limit."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        raise _size_error(size)
    with path.open("rb") as handle:
        magic = handle.read(2)
    if not (path.suffix == ".gz" or magic == b"\x1f\x8b"):
        return path.read_bytes()
    return gunzip_capped(path, MAX_PAGE_BYTES, path.name)
