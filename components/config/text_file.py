"""Reading a text file a person wrote (catalog.yaml, a Dockerfile): bytes to text, or a
sentence saying why not.

UTF-8 is the encoding; a byte-order mark says otherwise (UTF-8, UTF-16 or UTF-32 with a BOM
are what editors on Windows save), so those are read too. Anything else is refused naming
the first byte that is not UTF-8 and where it is, instead of a UnicodeDecodeError traceback.
"""

from __future__ import annotations

import codecs
from pathlib import Path

# Longest BOM first: UTF-32-LE's starts with UTF-16-LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SAVE_AS = "save it as UTF-8"


class TextFileError(ValueError):
    """Why a file cannot be read as text, in words (the file is named by the caller)."""


def _line_and_column(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def decode(data: bytes) -> str:
    """The text of `data`: UTF-8, or what its byte-order mark names."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise TextFileError(
                    f"starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()}: {SAVE_AS}"
                ) from None
    if b"\x00" in data:
        # UTF-16 without a BOM is mostly NUL bytes; no YAML or Dockerfile holds one.
        where = _line_and_column(data, data.index(b"\x00"))
        raise TextFileError(f"holds a NUL byte ({where}): UTF-16 without a byte-order mark? {SAVE_AS}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = data[error.start]
        where = _line_and_column(data, error.start)
        raise TextFileError(
            f"is not UTF-8: the byte 0x{byte:02x} at {where} is not UTF-8 text (Latin-1 or Windows-1252?): {SAVE_AS}"
        ) from None


def read_text(path: Path) -> str:
    """`path`'s text; OSError when it cannot be read, TextFileError when it is not text."""
    return decode(path.read_bytes())


def decode_utf8(data: bytes) -> str:
    """The text of `data` when it is UTF-8, with or without a UTF-8 byte-order mark: what
    BuildKit reads a Dockerfile as (its parser drops a UTF-8 mark and nothing else, so a
    UTF-16 or UTF-32 file, which `decode` reads, fails inside the build). Those are refused
    naming the encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom) and encoding != "utf-8-sig":
            name = encoding.upper()
            raise TextFileError(
                f"is {name} (it starts with a {name} byte-order mark); BuildKit reads only UTF-8: {SAVE_AS}"
            )
    return decode(data)


def read_utf8(path: Path) -> str:
    """`path`'s text as `decode_utf8` reads it; OSError or TextFileError as `read_text`."""
    return decode_utf8(path.read_bytes())
