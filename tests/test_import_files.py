"""Hostile and legacy import files: NUL bytes anywhere, legacy encodings, unclosed
quotes, oversized files and Excel decompression bombs. Each failed on the old reader
(NUL only checked in the first 4 KB; Shift-JIS stored as cp1252 mojibake; an unclosed
quote silently merged every following row; no size limit)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from gcrm import import_files
from gcrm._errors import InputError
from gcrm.importer import read_table


def test_nul_byte_after_the_first_4_kb_is_refused(tmp_path: Path) -> None:
    """A NUL byte deep in the file is named with its line, not imported as text."""
    body = "".join(f"Firma {i} Oy,Helsinki\n" for i in range(600))  # ~12 KB
    p = tmp_path / "nul.csv"
    p.write_bytes(b"name,city\n" + body.encode() + b"Bad\x00Oy,Turku\n")
    assert p.stat().st_size > 8192
    with pytest.raises(InputError, match=r"NUL byte \(line 602"):
        read_table(p)


def test_shift_jis_is_decoded_not_mojibake(tmp_path: Path) -> None:
    """A Japanese export in Shift-JIS keeps its names."""
    p = tmp_path / "jp.csv"
    names = ["株式会社サンプル", "山田商店", "みどり薬局"]
    text = "name,city\n" + "".join(f"{n},東京\n" for n in names)
    p.write_bytes(text.encode("shift_jis"))
    table = read_table(p)
    assert list(table.frame["name"]) == names
    assert table.encoding in ("cp932", "shift_jis")


def test_cyrillic_cp1251_and_utf16_are_decoded(tmp_path: Path) -> None:
    """Windows-1251 and UTF-16 with BOM (Excel's "Unicode text") are read correctly."""
    p = tmp_path / "ru.csv"
    p.write_bytes(
        "name;city\nТорговый дом Москва;Москва\nПривет компания;Казань\n".encode("cp1251")
    )
    assert list(read_table(p).frame["name"]) == ["Торговый дом Москва", "Привет компания"]
    q = tmp_path / "u16.txt"
    q.write_bytes("name\tcity\nKahvila Väinö\tHelsinki\n".encode("utf-16"))
    t = read_table(q)
    assert (t.encoding, list(t.frame["name"])) == ("utf-16", ["Kahvila Väinö"])


def test_undecidable_encoding_is_refused(tmp_path: Path) -> None:
    """Bytes that are no UTF-8, no Windows-1252 and no clear other encoding: refused."""
    p = tmp_path / "junk.csv"
    p.write_bytes(b"name\n\x81\x8d\x8f\x90\x9d\xff\xfe\n")
    with pytest.raises(InputError, match="cannot tell which text encoding"):
        read_table(p)


def test_unclosed_quote_names_its_row(tmp_path: Path) -> None:
    """A quote opened in row 3 and never closed is an error naming row 3, not one
    merged row holding rows 3-5."""
    p = tmp_path / "q.csv"
    p.write_text('name,city\nA Oy,Helsinki\n"B Oy,Turku\nC Oy,Espoo\nD Oy,Oulu\n', "utf-8")
    with pytest.raises(InputError, match=r"row 3: a quote .* never closed"):
        read_table(p)
    ok = tmp_path / "ok.csv"
    ok.write_text('name,street\n"A Oy","Bulevardi 10\nPL 45"\nB Oy,"Say ""hi"""\n', "utf-8")
    assert list(read_table(ok).frame["name"]) == ["A Oy", "B Oy"]


def test_oversized_file_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file over the size limit is refused with its size and the limit."""
    monkeypatch.setattr(import_files, "MAX_FILE_BYTES", 1024 * 1024)
    p = tmp_path / "big.csv"
    p.write_bytes(b"name\n" + b"Firma Oy\n" * 200_000)
    with pytest.raises(InputError, match="more than the 1 MB an import may be"):
        read_table(p)


def test_xlsx_decompression_bomb_is_refused(tmp_path: Path) -> None:
    """An .xlsx whose sheet unpacks to hundreds of MB from a tiny file is refused
    before openpyxl opens it."""
    good = tmp_path / "good.xlsx"
    pd.DataFrame({"name": ["A Oy"]}).to_excel(good, index=False)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                data = data.replace(b"</sheetData>", b" " * (300 * 1024 * 1024) + b"</sheetData>")
            dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(InputError, match="decompression bomb"):
        read_table(bomb)
    assert list(read_table(good).frame["name"]) == ["A Oy"]
