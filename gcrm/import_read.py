"""Read an import file: its header, mapped to our columns, and its records in chunks.

A CSV/TXT/TSV file is checked block by block (:func:`gcrm.import_files.scan_text`)
and parsed as a stream; an Excel sheet is read with openpyxl's read-only mode.
:meth:`ImportFile.chunks` hands the records on in chunks of a bounded number of
rows, so memory stays bounded whatever the file's size. :func:`read_table`
collects a whole (small) file into a table of strings.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import json
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from gcrm import crm_layouts, import_files
from gcrm._errors import InputError

#: The columns an import file may have, after header mapping.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "external_id",
    "name",
    "kind",
    "stage",
    "segment",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "lat",
    "lon",
    "contact_name",
    "contact_email",
    "contact_phone",
    "email",
    "phone",
    "potential_value",
    "annual_revenue",
    "opening_hours",
    "visit_minutes",
    "visit_every_days",
    "owner",
    "do_not_contact",
    "marketing_consent",
    "last_visit",
    *crm_layouts.AUXILIARY_COLUMNS,
)

#: Columns a file must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("name",)

#: Accepted header spellings of each column (compared after lower-casing,
#: stripping accents and turning spaces and punctuation into underscores): the
#: export layouts of other CRMs, see :mod:`gcrm.crm_layouts`.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    canon: tuple(h for h in spellings if crm_layouts.norm_header(h) != canon)
    for canon, spellings in crm_layouts.LAYOUT_HEADERS.items()
}

#: Rows per chunk an import processes at a time.
CHUNK_ROWS = 5000
#: At most this many one-cell lines after a blank line end a file as a report footer.
_FOOTER_LINES = 10
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_norm_header = crm_layouts.norm_header


@functools.lru_cache(maxsize=65536)
def normalise_text(text: str | None) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    str
        The comparable form (used for duplicate detection).
    """
    if not text:
        return ""
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    t = _NON_ALNUM.sub(" ", t)
    return " ".join(t.split())


@dataclasses.dataclass
class Table:
    """A file read into strings, with its provenance.

    Attributes
    ----------
    frame
        Every cell as a string (``""`` when empty), columns canonical.
    row_numbers
        The file row number of each frame row (header = 1).
    source_headers
        Canonical column → the header it came from.
    ignored_headers
        Headers that map to no canonical column.
    encoding, delimiter
        What was detected (``None`` for Excel).
    malformed
        Records that cannot be read into columns: (row, reason, cells).
    """

    frame: pd.DataFrame
    row_numbers: list[int]
    source_headers: dict[str, str]
    ignored_headers: list[str]
    encoding: str | None
    delimiter: str | None
    malformed: list[tuple[int, str, dict[str, str]]] = dataclasses.field(default_factory=list)
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Chunk:
    """Consecutive rows of a file: records in canonical columns, and what was set aside.

    Attributes
    ----------
    records
        The cells of each record under :attr:`ImportFile.columns` (stripped).
    row_numbers
        The file row number of each record (header = 1).
    malformed
        Records that cannot be read into columns: (row, reason, cells).
    skipped
        Lines that are no rows (blank lines, a report footer): (row, reason).
    """

    records: list[list[str]] = dataclasses.field(default_factory=list)
    row_numbers: list[int] = dataclasses.field(default_factory=list)
    malformed: list[tuple[int, str, dict[str, str]]] = dataclasses.field(default_factory=list)
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        """Return the number of rows (records and malformed ones)."""
        return len(self.records) + len(self.malformed)


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def load_mapping(path: str | Path) -> dict[str, str | None]:
    """Read a column mapping file: JSON ``{"file header": "canonical column"}``.

    A ``null`` target ignores that header.

    Parameters
    ----------
    path
        A ``.json`` file.

    Returns
    -------
    dict
        Header → canonical column.

    Raises
    ------
    InputError
        If the file is unreadable or names an unknown canonical column.
    """
    p = Path(path)
    try:
        mapping = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{p.name}: cannot read the mapping file: {exc}"
        raise InputError(msg) from exc
    if not isinstance(mapping, dict):
        msg = f"{p.name}: the mapping file must be a JSON object of header -> column"
        raise InputError(msg)
    bad = sorted(str(v) for v in mapping.values() if v and v not in CANONICAL_COLUMNS)
    if bad:
        msg = f"{p.name}: unknown target column(s) {', '.join(bad)}"
        raise InputError(msg)
    return {str(k): (str(v) if v else None) for k, v in mapping.items()}


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _filled(cells: list[str]) -> int:
    """Return 0, 1 or 2: how many cells hold text, counting no further than two."""
    n = 0
    for c in cells:
        if c.strip():
            n += 1
            if n == 2:
                break
    return n


class ImportFile:
    """An import file opened for reading in chunks.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv`` or ``.xlsx``/``.xlsm``.
    mapping
        Extra header → canonical column pairs (they win over synonyms); a
        ``None`` or empty target ignores that header.

    Raises
    ------
    InputError
        If the file is missing, too large, unreadable or empty, has no header,
        has duplicate target columns, or lacks a required column.
    """

    def __init__(self, path: str | Path, mapping: dict[str, str | None] | None = None) -> None:
        p = Path(path)
        if not p.is_file():
            msg = f"{p}: file not found"
            raise InputError(msg)
        import_files.check_size(p)
        self.path = p
        self.encoding: str | None = None
        self.delimiter: str | None = None
        self.sha256: str | None = None
        self._excel = p.suffix.lower() in (".xlsx", ".xlsm")
        if self._excel:
            import_files.check_xlsx(p)
        else:
            scan = import_files.scan_text(p)
            self.encoding, self.sha256 = scan.encoding, scan.sha256
            self.delimiter = self._sniff()
            if not scan.quotes_balanced:
                last = deque(self._lines(), maxlen=1)
                if last:
                    raise import_files.unclosed_quote(last[0], p.name)
        first = next(self._lines(), None)
        if first is None:
            msg = f"{p.name}: the file is empty"
            raise InputError(msg)
        header = [h.strip() for h in first[1]]
        while header and not header[-1]:
            header.pop()
        if not header or not any(header):
            msg = f"{p.name}: the file has no header row"
            raise InputError(msg)
        self.header = header
        self.positions, self.ignored_headers, self.notes = _map_headers(
            header, mapping or {}, p.name
        )
        self.source_headers = {t: header[j] for t, j in self.positions.items()}
        self.columns = list(self.positions)

    def require_columns(self) -> None:
        """Refuse a file without the :data:`REQUIRED_COLUMNS`.

        Raises
        ------
        InputError
            Naming the missing column and the headers found.
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in self.source_headers]
        if missing:
            msg = (
                f"{self.path.name}: missing required column {', '.join(missing)!r} "
                f"(headers found: {', '.join(self.header)})"
            )
            raise InputError(msg)

    def _sniff(self) -> str:
        with self.path.open(encoding=self.encoding, newline="") as f:
            head = "".join(line for _, line in zip(range(50), f, strict=False))
        return _sniff_delimiter(head)

    def _lines(self) -> Iterator[tuple[int, list[str]]]:
        """Every record from the header on: (first line number, cells)."""
        if self._excel:
            yield from self._xlsx_lines()
            return
        with self.path.open(encoding=self.encoding, newline="") as f:
            reader = csv.reader(f, delimiter=self.delimiter or ",", strict=False)
            started = False
            start = 1
            try:
                for cells in reader:
                    if started or (cells and any(c.strip() for c in cells)):
                        started = True  # blank lines after the header are reported
                        yield start, cells
                    start = reader.line_num + 1
            except csv.Error as exc:
                msg = (
                    f"{self.path.name}: cannot parse the file as CSV near line "
                    f"{reader.line_num}: {exc}"
                )
                raise InputError(msg) from exc

    def _xlsx_lines(self) -> Iterator[tuple[int, list[str]]]:
        import openpyxl  # heavy: only for Excel files

        try:
            wb = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:
            msg = f"{self.path.name}: cannot read the Excel file: {exc}"
            raise InputError(msg) from exc
        try:
            started = False
            for i, row in enumerate(wb.worksheets[0].iter_rows(values_only=True), start=1):
                cells = [_cell_text(v) for v in row]
                if started or any(c.strip() for c in cells):
                    started = True
                    yield i, cells
        finally:
            wb.close()

    def _rows(self) -> Iterator[tuple[int, list[str], str | None]]:
        """Yield the rows after the header: (row, cells, reason to skip or ``None``).

        A report footer (see :func:`_drop_trailer`) can only be told at the
        end, so the rows that could belong to one (at most
        :data:`_FOOTER_LINES` one-cell lines and the blank lines among them)
        are held back until a fuller row or the end of the file comes.
        """
        width = len(self.header)
        lines = self._lines()
        next(lines, None)  # the header
        pending: deque[tuple[int, list[str]]] = deque()
        held = 0  # non-blank rows in pending
        prev: tuple[int, list[str]] | None = None  # the row before pending
        for n, cells in lines:
            filled = _filled(cells)
            if filled >= 2:
                for item in pending:
                    yield item[0], item[1], None
                pending.clear()
                held = 0
                prev = (n, cells)
                yield n, cells, None
                continue
            pending.append((n, cells))
            held += 1 if filled else 0
            while held > _FOOTER_LINES:
                prev = pending.popleft()
                held -= 1 if _filled(prev[1]) else 0
                yield prev[0], prev[1], None
        tail = ([prev] if prev is not None else []) + list(pending)
        _kept, skipped = _drop_trailer(tail, width)
        reasons = dict(skipped)
        for n, cells in tail[1 if prev is not None else 0 :]:
            yield n, cells, reasons.get(n)

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """Read the file's rows in chunks of at most ``size`` rows.

        Parameters
        ----------
        size
            Rows (records and malformed rows) per chunk.

        Yields
        ------
        Chunk
            The next rows. A record with more cells than the header is
            malformed (its cells would land under the wrong columns) unless
            the extra cells are empty, as with a trailing delimiter; a record
            with fewer cells is padded.

        Raises
        ------
        InputError
            If the file has a header but no data rows.
        """
        width = len(self.header)
        keep = list(self.positions.values())
        chunk = Chunk()
        rows = 0
        for n, raw_cells, reason in self._rows():
            if reason is not None or not any(c.strip() for c in raw_cells):
                chunk.skipped.append((n, reason or "blank line"))
                continue
            cells = [_unquote_formula(c) for c in raw_cells]
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                shown = dict(zip(self.header, cells, strict=False))
                shown["(extra cells)"] = (self.delimiter or ",").join(cells[width:])
                why = (
                    f"has {len(cells)} cells but the header has {width} "
                    "(an unquoted separator inside a value?)"
                )
                chunk.malformed.append((n, why, shown))
            else:
                cells += [""] * (width - len(cells))
                chunk.records.append([cells[j].strip() for j in keep])
                chunk.row_numbers.append(n)
            rows += 1
            if len(chunk) >= size:
                yield chunk
                chunk = Chunk()
        if not rows:
            msg = f"{self.path.name}: the file has a header but no data rows"
            raise InputError(msg)
        if chunk.records or chunk.malformed or chunk.skipped:
            yield chunk

    def cells_of(self, names: list[str]) -> Iterator[list[str]]:
        """Yield every record's cells in some canonical columns (the file is read again).

        Parameters
        ----------
        names
            Canonical columns of :attr:`columns`.

        Yields
        ------
        list of str
            The cells, stripped, in the order of ``names``.
        """
        at = [self.columns.index(name) for name in names]
        for chunk in self.chunks():
            for cells in chunk.records:
                yield [cells[j] for j in at]


def _unquote_formula(cell: str) -> str:
    """Undo our own formula protection: ``'+358 40 …`` → ``+358 40 …``."""
    if cell[:1] == "'" and cell[1:2] in _FORMULA_START:
        return cell[1:]
    return cell


def _drop_trailer(
    rows: list[tuple[int, list[str]]], width: int
) -> tuple[list[tuple[int, list[str]]], list[tuple[int, str]]]:
    """Split off a report footer: after the last blank line, rows of one cell.

    A Salesforce Classic report ends with a blank line, the report name,
    copyright, "Confidential Information" and "Generated By" lines; other
    report exports end alike. Such rows are skipped and reported, not rejected.
    """

    def filled(cells: list[str]) -> int:
        return sum(1 for c in cells if c.strip())

    end = len(rows)
    while end > 0 and not filled(rows[end - 1][1]):
        end -= 1
    k = end
    while k > 0 and filled(rows[k - 1][1]) == 1:
        k -= 1
    if width < 2 or k == end or k == 0 or filled(rows[k - 1][1]) or end - k > 10:
        return rows, []
    skipped = [
        (n, f"report footer: {next(c for c in cells if c.strip()).strip()[:80]!r}")
        for n, cells in rows[k:end]
    ]
    skipped += [(n, "blank line") for n, _ in rows[end:]]
    return rows[:k], skipped


def suggest_mapping(path: str | Path) -> dict[str, str | None]:
    """Propose a canonical column for each header of a file (``None``: ignored).

    Parameters
    ----------
    path
        A CSV/XLSX file.

    Returns
    -------
    dict
        File header → canonical column or ``None``, in file order. The first
        header claiming a canonical column wins; later ones map to ``None``.
    """
    file = ImportFile(path)
    chosen = {j: target for target, j in file.positions.items()}
    return {str(h): chosen.get(j) for j, h in enumerate(file.header)}


def _map_headers(
    header: list[str], mapping: dict[str, str | None], file: str
) -> tuple[dict[str, int], list[str], list[str]]:
    """Map a file's headers to import columns.

    A user's mapping wins; otherwise the best-ranked spelling of
    :mod:`gcrm.crm_layouts` wins and another column matching the same field
    is ignored (and noted). Returns field → column index, ignored headers and
    notes.
    """
    user_map = {_norm_header(k): v for k, v in mapping.items()}
    chosen: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
    ignored: list[str] = []
    notes: list[str] = []
    for j, h in enumerate(header):
        key = _norm_header(h)
        if key in user_map:
            target, rank = user_map[key], -1
        else:
            hit = crm_layouts.match_header(h)
            target, rank = hit if hit else (None, 0)
        if not target:
            ignored.append(h)
            continue
        prev = chosen.get(target)
        if prev is not None:
            if rank == prev[0] == -1:
                msg = f"{file}: columns {header[prev[1]]!r} and {h!r} both map to {target!r}"
                raise InputError(msg)
            loser = j if rank >= prev[0] else prev[1]
            ignored.append(header[loser])
            notes.append(
                f"column {header[loser]!r} also names {target!r}; "
                f"{header[prev[1] if loser == j else j]!r} is used"
            )
            if loser == j:
                continue
        chosen[target] = (rank, j)
    columns = {t: j for t, (_, j) in sorted(chosen.items(), key=lambda kv: kv[1][1])}
    return columns, [h for h in header if h in ignored], notes


def read_table(path: str | Path, mapping: dict[str, str | None] | None = None) -> Table:
    """Read a whole CSV or XLSX file into strings with canonical column names.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv`` or ``.xlsx``/``.xlsm``.
    mapping
        Extra header → canonical column pairs (they win over synonyms); a
        ``None`` or empty target ignores that header.

    Returns
    -------
    Table
        The cells and what was detected.

    Raises
    ------
    InputError
        If the file is missing, unreadable or empty, has duplicate target
        columns, or lacks a required column.
    """
    file = ImportFile(path, mapping)
    file.require_columns()
    records: list[list[str]] = []
    numbers: list[int] = []
    table = Table(
        pd.DataFrame(), numbers, file.source_headers, file.ignored_headers, file.encoding,
        file.delimiter, notes=file.notes,
    )  # fmt: skip
    for chunk in file.chunks():
        records += chunk.records
        numbers += chunk.row_numbers
        table.malformed += chunk.malformed
        table.skipped += chunk.skipped
    table.skipped.sort()
    table.frame = pd.DataFrame(records, columns=file.columns, dtype=object)
    return table
