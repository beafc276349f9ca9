"""Guards on an import file before it is parsed: size, zip bombs, bytes, quotes.

- A file larger than :data:`MAX_FILE_BYTES` is refused before it is read, and
  an Excel file whose sheets would unpack to more than
  :data:`MAX_XLSX_UNPACKED_BYTES` (or unpack more than
  :data:`MAX_XLSX_RATIO` times their packed size: a decompression bomb) is
  refused before openpyxl opens it, so memory stays bounded.
- A NUL byte anywhere in a text file is refused (it is no text file, or it is
  UTF-16 without its byte-order mark).
- Files are checked and read block by block, never whole.
- Text is decoded as UTF-8 (with or without BOM) or UTF-16 (with BOM); other
  encodings are detected (``charset-normalizer``) and decoded when the
  detection is clear, Windows-1252 and Shift-JIS alike; otherwise the file is
  refused with a message, never stored as mojibake.
- An unclosed quote is an error naming the row where it opened, instead of
  silently merging every following line into one cell.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

from gcrm._errors import InputError

#: Largest import file (bytes).
MAX_FILE_BYTES = 200 * 1024 * 1024
#: Largest total unpacked size of an Excel file's parts (bytes).
MAX_XLSX_UNPACKED_BYTES = 1024 * 1024 * 1024
#: Largest unpack ratio of one big part of an Excel file.
MAX_XLSX_RATIO = 150
_RATIO_MIN_BYTES = 10 * 1024 * 1024  # small parts may compress well without harm
_SAMPLE_BYTES = 256 * 1024
_BLOCK_BYTES = 1024 * 1024
#: Encodings a file may be decoded from after detection (the rest are refused).
_DETECTED_OK = {
    "cp1252", "iso8859_1", "iso8859_15", "latin_1", "cp1250", "iso8859_2", "cp1251",
    "koi8_r", "iso8859_5", "cp1257", "iso8859_13", "iso8859_9", "cp1254", "cp1253",
    "iso8859_7", "shift_jis", "cp932", "euc_jp", "iso2022_jp", "gb18030", "gb2312", "gbk",
    "big5", "big5hkscs", "euc_kr", "cp949", "mac_roman", "cp850", "cp437", "utf_16",
    "mac_iceland", "mac_latin2", "iso8859_10",
}  # fmt: skip
#: Encodings of other scripts, used when the detector is sure.
_OTHER_SCRIPTS = {
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "gb18030", "gb2312", "gbk", "big5",
    "big5hkscs", "euc_kr", "cp949", "cp1251", "koi8_r", "iso8859_5", "cp1253", "iso8859_7",
}  # fmt: skip


def _decodes(raw: bytes, enc: str) -> bool:
    try:
        raw.decode(enc)
    except UnicodeDecodeError:
        return False
    return True


def _norm(encoding: str) -> str:
    return codecs.lookup(encoding).name.replace("-", "_")


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def check_size(path: Path) -> None:
    """Refuse a file larger than :data:`MAX_FILE_BYTES`.

    Parameters
    ----------
    path
        The import file.

    Raises
    ------
    InputError
        If it is too large.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        msg = (
            f"{path.name}: the file is {_mb(size)}, more than the {_mb(MAX_FILE_BYTES)} an "
            "import may be: split it into several files"
        )
        raise InputError(msg)


def check_xlsx(path: Path) -> None:
    """Refuse an Excel file that would unpack to too much (a decompression bomb).

    Parameters
    ----------
    path
        An ``.xlsx``/``.xlsm`` file.

    Raises
    ------
    InputError
        If it is not a zip archive, or its parts unpack beyond the limits.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        msg = f"{path.name}: cannot read the Excel file: it is not an .xlsx archive ({exc})"
        raise InputError(msg) from exc
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNPACKED_BYTES:
        msg = (
            f"{path.name}: the Excel file unpacks to {_mb(total)}, more than "
            f"{_mb(MAX_XLSX_UNPACKED_BYTES)}: refused (save it as CSV, or split it)"
        )
        raise InputError(msg)
    for i in infos:
        if i.file_size > _RATIO_MIN_BYTES and i.file_size > MAX_XLSX_RATIO * max(
            1, i.compress_size
        ):
            ratio = i.file_size // max(1, i.compress_size)
            msg = (
                f"{path.name}: the Excel part {i.filename} unpacks {ratio:,} times its size "
                "(a decompression bomb?): refused"
            )
            raise InputError(msg)


@dataclasses.dataclass(frozen=True)
class TextScan:
    """What one pass over a text import file found.

    Attributes
    ----------
    encoding
        The encoding to read it with.
    sha256
        The hex digest of its bytes (for the audit line).
    quotes_balanced
        ``False`` when it holds an odd number of ``"`` (a quote left open).
    """

    encoding: str
    sha256: str
    quotes_balanced: bool


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(_BLOCK_BYTES):
            yield block


def _decode_pass(path: Path, encoding: str) -> tuple[int | None, int]:
    """Decode a file block by block.

    Returns the byte offset of the first error (or ``None``) and the number of
    ``"`` in the text.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    quotes = 0
    offset = 0
    for block in _blocks(path):
        try:
            quotes += decoder.decode(block).count('"')
        except UnicodeDecodeError as exc:
            return max(0, offset - len(decoder.getstate()[0]) + exc.start), quotes
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset - len(exc.object) + exc.start, quotes
    return None, quotes


def _first_nul(path: Path) -> tuple[int, int] | None:
    """(line, byte offset) of the first NUL byte, or ``None``."""
    offset = 0
    lines = 1
    for block in _blocks(path):
        nul = block.find(b"\x00")
        if nul >= 0:
            return lines + block.count(b"\n", 0, nul), offset + nul
        lines += block.count(b"\n")
        offset += len(block)
    return None


def scan_text(path: Path) -> TextScan:
    """Check a text import file and choose its encoding, reading it block by block.

    Memory stays bounded whatever the file's size: the file is read in blocks
    of a megabyte (once for the checks, again when it is parsed).

    Parameters
    ----------
    path
        A CSV/TXT/TSV file.

    Returns
    -------
    TextScan
        The encoding, digest and whether its quotes are balanced.

    Raises
    ------
    InputError
        On a NUL byte, a broken UTF-8 file with a BOM, or an encoding that
        cannot be told with confidence.
    """
    name = path.name
    digest = hashlib.sha256()
    for block in _blocks(path):
        digest.update(block)
    with path.open("rb") as f:
        head = f.read(_SAMPLE_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        bad, quotes = _decode_pass(path, "utf-16")
        if bad is not None:
            msg = f"{name}: the file starts with a UTF-16 marker but is not valid UTF-16"
            raise InputError(msg)
        return TextScan("utf-16", digest.hexdigest(), quotes % 2 == 0)
    nul = _first_nul(path)
    if nul is not None:
        msg = (
            f"{name}: this is not a text file: it holds a NUL byte (line {nul[0]}, byte "
            f"{nul[1]}); export it again as CSV (UTF-8)"
        )
        raise InputError(msg)
    if head.startswith(codecs.BOM_UTF8):
        bad, quotes = _decode_pass(path, "utf-8-sig")
        if bad is not None:
            msg = f"{name}: the file starts with a UTF-8 marker but is not valid UTF-8 (byte {bad})"
            raise InputError(msg)
        return TextScan("utf-8-sig", digest.hexdigest(), quotes % 2 == 0)
    bad, quotes = _decode_pass(path, "utf-8")
    if bad is None:
        return TextScan("utf-8", digest.hexdigest(), quotes % 2 == 0)
    enc = _detected(path, head)
    bad, quotes = _decode_pass(path, enc)
    if bad is not None:
        msg = (
            f"{name}: the file is not valid {enc} at byte {bad}: save it as UTF-8 and import again"
        )
        raise InputError(msg)
    return TextScan(enc, digest.hexdigest(), quotes % 2 == 0)


def _detected(path: Path, head: bytes) -> str:
    """Return the encoding of a file that is not UTF-8 (detected on its first bytes)."""
    from charset_normalizer import from_bytes  # only for files that are not UTF-8

    best = from_bytes(head).best()
    enc = _norm(best.encoding) if best is not None else ""
    if best is not None and enc in _OTHER_SCRIPTS and best.chaos <= 0.2:
        return enc  # clearly Japanese, Chinese, Korean, Cyrillic or Greek
    if _decode_pass(path, "cp1252")[0] is None:
        return "cp1252"  # the common Western default (Excel's "CSV" on Windows)
    if best is None or enc not in _DETECTED_OK or best.chaos > 0.3:
        seen = f" (it looks like {best.encoding})" if best is not None else ""
        msg = (
            f"{path.name}: cannot tell which text encoding the file uses{seen}: "
            "save it as UTF-8 (Excel: 'CSV UTF-8') and import again"
        )
        raise InputError(msg)
    return enc


def unclosed_quote(last: tuple[int, list[str]], name: str, quote: str = '"') -> InputError:
    """Build the error for a file whose quote is opened and never closed.

    The CSV reader reads every line after such a quote as one cell (the last
    record); the error names the row where the quote opened.

    Parameters
    ----------
    last
        The last record read: (first line number, cells).
    name
        The file name.
    quote
        The quote character.

    Returns
    -------
    InputError
        To raise.
    """
    start, cells = last
    swallowed = max((c.count("\n") for c in cells), default=0)
    msg = (
        f"{name}: row {start}: a quote ({quote}) opened in this row is never closed, so "
        f"the {swallowed} line(s) after it would be read as one cell: close the quote "
        "(or double a quote inside a value) and import again"
    )
    return InputError(msg)
