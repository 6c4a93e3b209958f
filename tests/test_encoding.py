"""Tests for ingest.encoding: decoding page bytes and reading saved pages safely."""

from __future__ import annotations

import codecs
import gzip

import pytest

from ingest.encoding import MAX_PAGE_BYTES, decode_page, read_page_file
from ingest.errors import IngestError

EURO_PAGE = "<html><body><p>Price: 5 € — “quoted” ‘text’ naïve café</p></body></html>"
JAPANESE_PAGE = (
    "<html><body><p>日本の株式市場は上昇しました。"
    "円安が進み、投資家は買いに動いた。</p></body></html>"
)


def test_cp1252_page_without_declaration_is_readable():
    text = decode_page(EURO_PAGE.encode("cp1252"))
    assert "5 €" in text and "“quoted”" in text and "café" in text


def test_cp1252_page_declared_latin1_decodes_euro_sign():
    # Browsers read iso-8859-1 as windows-1252; pages rely on it for € and curly quotes.
    data = EURO_PAGE.encode("cp1252")
    assert "5 €" in decode_page(data, content_type="text/html; charset=ISO-8859-1")


def test_shift_jis_page_is_readable():
    data = ('<meta charset="shift_jis">' + JAPANESE_PAGE).encode("shift_jis")
    assert "日本の株式市場" in decode_page(data)


def test_shift_jis_page_without_declaration_is_detected():
    text = decode_page((JAPANESE_PAGE * 5).encode("shift_jis"))
    assert "円安が進み" in text


@pytest.mark.parametrize(
    "prefix",
    [
        '<meta charset="windows-1252">',
        "<meta charset=windows-1252>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
    ],
)
def test_meta_charset_is_honoured(prefix):
    data = (prefix + "<p>façade – naïve</p>").encode("cp1252")
    assert "façade – naïve" in decode_page(data)


def test_http_charset_wins_over_guessing():
    data = "<p>Straße, Grüße</p>".encode("iso-8859-15")
    assert "Straße, Grüße" in decode_page(data, content_type="text/html; charset=iso-8859-15")


def test_wrong_utf8_declaration_falls_back_to_detection():
    data = ('<meta charset="utf-8">' + EURO_PAGE).encode("cp1252")
    assert "café" in decode_page(data)


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_byte_order_mark_sets_encoding_and_is_stripped(bom, codec):
    text = decode_page(bom + "<p>Zürich €</p>".encode(codec))
    assert text == "<p>Zürich €</p>"


@pytest.mark.parametrize("data", [b"", b"   \n\t "])
def test_empty_input_is_refused(data):
    with pytest.raises(IngestError, match="empty file"):
        decode_page(data)


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (gzip.compress(b"<html></html>"), "GZIP"),
        (b"<html>\x00\x01\x02\x00binary</html>", "NUL bytes"),
    ],
)
def test_binary_content_is_refused_with_what_it_looks_like(data, looks_like):
    with pytest.raises(IngestError, match=looks_like) as caught:
        decode_page(data)
    assert caught.value.status == 422


def test_page_over_the_limit_is_refused_with_413():
    with pytest.raises(IngestError, match=r"page is 10\.\d MB; the limit is 10 MB") as caught:
        decode_page(b"a" * (MAX_PAGE_BYTES + 100_000))
    assert caught.value.status == 413


def test_gzip_file_is_unpacked(tmp_path):
    path = tmp_path / "page.html.gz"
    path.write_bytes(gzip.compress(EURO_PAGE.encode("utf-8")))
    assert decode_page(read_page_file(path)) == EURO_PAGE


def test_plain_file_is_read(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(EURO_PAGE.encode("utf-8"))
    assert read_page_file(path) == EURO_PAGE.encode("utf-8")


def test_gzip_bomb_stops_at_the_limit(tmp_path):
    path = tmp_path / "bomb.html.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        block = b"\0" * (1024 * 1024)
        for _ in range(MAX_PAGE_BYTES // len(block) + 2):
            handle.write(block)
    assert path.stat().st_size < 100_000  # small on disk, over the limit unpacked
    with pytest.raises(IngestError, match="limit is 10 MB") as caught:
        read_page_file(path)
    assert caught.value.status == 413


def test_file_over_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.html"
    with path.open("wb") as handle:
        handle.truncate(MAX_PAGE_BYTES + 1)  # sparse: the size is there without the bytes
    with pytest.raises(IngestError, match="the limit is 10 MB") as caught:
        read_page_file(path)
    assert caught.value.status == 413


def test_corrupt_gzip_is_refused(tmp_path):
    path = tmp_path / "broken.html.gz"
    path.write_bytes(gzip.compress(b"<html>" * 1000)[:50])
    with pytest.raises(IngestError, match="not a valid gzip file"):
        read_page_file(path)


def test_random_bytes_without_a_nul_are_refused_as_binary():
    import random

    generator = random.Random(7)
    data = bytes(generator.choice(range(1, 256)) for _ in range(100))
    with pytest.raises(IngestError, match="not a text page"):
        decode_page(data)


def test_utf8_page_with_a_few_damaged_bytes_stays_utf8():
    text = "<p>" + "Price: 5 € — “quoted” ‘text’ naïve café. " * 20 + "</p>"
    data = text.encode("utf-8")
    middle = len(data) // 2
    damaged = data[:middle] + b"\xff\xfe" + data[middle:]  # two bytes UTF-8 never uses
    decoded = decode_page(damaged)
    assert decoded.count("café") == 20 and decoded.count("€") == 20
    assert "\ufffd" in decoded


# Written for these tests: short English lines whose only non-ASCII bytes are windows-1252
# punctuation or letters (statistical detection misreads each of them).
WESTERN_LINES = [
    "<p>Bitcoin fell 5% — traders said.</p>",
    "<p>Price rose to 5 € in a week, analysts said.</p>",
    "<p>Short note: naïve traders lost money.</p>",
    "<p>Ether slid – again – as the rally faded.</p>",
]


@pytest.mark.parametrize("line", WESTERN_LINES)
def test_undeclared_western_page_is_read_as_windows_1252(line):
    assert decode_page(line.encode("cp1252")) == line
