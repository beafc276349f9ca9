"""Guards on an import file before it is parsed: size, zip bombs, bytes, quotes.

- A file larger than :data:`MAX_FILE_BYTES` is refused before it is read, and
  an Excel file whose sheets would unpack to more than
  :data:`MAX_XLSX_UNPACKED_BYTES` (or unpack more than
  :data:`MAX_XLSX_RATIO` times their packed size: a decompression bomb) is
  refused before openpyxl opens it, so memory stays bounded.
- A NUL byte anywhere in a text file is refused (it is no text file, or it is
  UTF-16 without its byte-order mark).
- Text is decoded as UTF-8 (with or without BOM) or UTF-16 (with BOM); other
  encodings are detected (``charset-normalizer``) and decoded when the
  detection is clear, Windows-1252 and Shift-JIS alike; otherwise the file is
  refused with a message, never stored as mojibake.
- An unclosed quote is an error naming the row where it opened, instead of
  silently merging every following line into one cell.
"""

from __future__ import annotations

import codecs
import zipfile
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


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Decode an import file's bytes, or refuse it with a clear message.

    Parameters
    ----------
    raw
        The whole file.
    name
        The file name (for messages).

    Returns
    -------
    tuple of (str, str)
        The text and the encoding used.

    Raises
    ------
    InputError
        On a NUL byte, a broken UTF-8 file with a BOM, or an encoding that
        cannot be told with confidence.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            msg = f"{name}: the file starts with a UTF-16 marker but is not valid UTF-16"
            raise InputError(msg) from exc
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        msg = (
            f"{name}: this is not a text file: it holds a NUL byte (line {line}, byte {nul}); "
            "export it again as CSV (UTF-8)"
        )
        raise InputError(msg)
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            msg = (
                f"{name}: the file starts with a UTF-8 marker but is not valid UTF-8 "
                f"(byte {exc.start})"
            )
            raise InputError(msg) from exc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _detected(raw, name)


def _detected(raw: bytes, name: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes  # only for files that are not UTF-8

    best = from_bytes(raw[:_SAMPLE_BYTES]).best()
    enc = _norm(best.encoding) if best is not None else ""
    if best is not None and enc in _OTHER_SCRIPTS and best.chaos <= 0.2:
        pass  # clearly Japanese, Chinese, Korean, Cyrillic or Greek
    elif _decodes(raw, "cp1252"):
        enc = "cp1252"  # the common Western default (Excel's "CSV" on Windows)
    elif best is None or enc not in _DETECTED_OK or best.chaos > 0.3:
        seen = f" (it looks like {best.encoding})" if best is not None else ""
        msg = (
            f"{name}: cannot tell which text encoding the file uses{seen}: "
            "save it as UTF-8 (Excel: 'CSV UTF-8') and import again"
        )
        raise InputError(msg)
    try:
        return raw.decode(enc), enc
    except UnicodeDecodeError as exc:
        msg = (
            f"{name}: the file is not valid {enc} at byte {exc.start}: save it as UTF-8 "
            "and import again"
        )
        raise InputError(msg) from exc


def check_quotes(text: str, rows: list[tuple[int, list[str]]], name: str, quote: str = '"') -> None:
    """Refuse a file whose quote is opened and never closed.

    The CSV reader would read every line after such a quote as one cell;
    the error names the row where the quote opened.

    Parameters
    ----------
    text
        The decoded file.
    rows
        The records read: (first line number, cells).
    name
        The file name.
    quote
        The quote character.

    Raises
    ------
    InputError
        When a quote is left open.
    """
    if text.count(quote) % 2 == 0 or not rows:
        return
    start, cells = rows[-1]
    swallowed = max((c.count("\n") for c in cells), default=0)
    msg = (
        f"{name}: row {start}: a quote ({quote}) opened in this row is never closed, so "
        f"the {swallowed} line(s) after it would be read as one cell: close the quote "
        "(or double a quote inside a value) and import again"
    )
    raise InputError(msg)
