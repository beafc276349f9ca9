r"""Split the address cells of an export into street, house number and the rest.

CRMs keep the whole first address line in one cell: ``"Mannerheimintie 20 A
12"`` (street, house number, staircase and flat, Nordic style),
``"Friedrichstraße 12a"``, ``"Hauptstr. 5, 2. OG"`` (German), ``"12 bis rue de
la Paix"`` (French), ``"Suite 400, 123 Main St"`` (English), a range
``"Siltasaarenkatu 3-5 B"``, extra lines (``"Bulevardi 10\nPL 45"``, a PO box
kept aside) or even the whole address (``"Annankatu 31-33, 2. krs, 00100
Helsinki, Finland"``). :func:`parse_address` returns the parts a geocoder
needs, and keeps everything else so nothing is lost.

The region's OSM street names can be passed as a dictionary (``known_street``)
to settle names that hold digits or precede the house number ambiguously.
No network, no model download: plain rules over the cell's tokens.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable

#: Words that start a staircase/flat/floor part ("2. krs", "lgh 1102", "Apt 4",
#: "2. OG", "3 tr", "bât. B", "piso 2"), compared case- and accent-folded.
_UNIT_WORDS = frozenset(
    (
        "krs kerros as asunto rappu porras huone h "
        "og eg ug dg stock etage whg wohnung app apt apartment suite ste unit floor fl room rm "
        "lgh lagenhet tr trappa trappor bv vaning van "
        "etg bat batiment escalier esc porte appt "
        "piso planta puerta pta dcha izda izq local oficina ofic bajo"
    ).split()
)
_PO_BOX = re.compile(
    r"^(?:pl|p\.?\s*o\.?\s*box|po\s*box|post\s*office\s*box|postbox|box|postfach|pf|"
    r"postilokero|pb|bp|boite\s+postale|apartado(?:\s+de\s+correos)?|apdo|"
    r"case\s+postale)\.?\s*:?\s*\d[\d\s]*$",
    re.IGNORECASE,
)
_COUNTRIES = frozenset(
    (
        "finland suomi finnland finlande finlandia fi fin "
        "germany deutschland allemagne alemania de deu ger brd "
        "sweden sverige schweden suede suecia se swe "
        "france frankreich francia fr fra "
        "spain espana spanien espagne es esp "
        "norway norge denmark danmark austria osterreich switzerland schweiz suisse "
        "united kingdom uk gb united states usa us"
    ).split()
)
_POSTCODE_SEGMENT = re.compile(
    r"^(?:[A-Z]{1,2}\s*-\s*)?(\d{5}|\d{4}|\d{3}\s\d{2})(?:\s+(.*))?$", re.IGNORECASE
)
_CITY_POSTCODE = re.compile(r"^(\D+?)\s+(?:[A-Z]{1,2}-)?(\d{5}|\d{4}|\d{3}\s\d{2})$")
_HN_FIRST = re.compile(r"^\d{1,5}(?:[a-zA-Z]|-\d{1,5}[a-zA-Z]?)?$")
_HN_TOKEN = re.compile(r"^\d{1,5}[a-zA-Z]{0,2}(?:-\d{1,5}[a-zA-Z]?)?,?$")
_HN_SUFFIX = re.compile(r"^(?:[a-zA-Z]|bis|ter|quater)\.?,?$", re.IGNORECASE)
_RANGE_SPACES = re.compile(r"(\d)\s*[-–—]\s*(\d)")
_GLUED = re.compile(r"^([^\W\d_]{3,}\.?)(\d+[a-zA-Z]?)$")
_LETTERS = re.compile(r"[^\W\d_]")


@dataclasses.dataclass(frozen=True, slots=True)
class AddressParts:
    """The parts of an address cell (``None`` where the cell has no such part).

    Attributes
    ----------
    street
        The street name as written (``"Hauptstr."``).
    housenumber
        The number with its letter or range (``"20 A"``, ``"3-5 B"``, ``"12a"``,
        ``"12 bis"``), what a geocoder matches.
    unit
        Staircase, flat or floor after the number (``"12"``, ``"2. krs"``,
        ``"lgh 1102"``, ``"Suite 400"``).
    extra
        Other lines: building names, ``c/o``, anything not understood.
    po_box
        A PO box (``"PL 45"``, ``"Postfach 1234"``), kept aside: it has no place.
    postcode, city, country
        When the cell held them.
    original
        The cells as given.
    """

    street: str | None = None
    housenumber: str | None = None
    unit: str | None = None
    extra: str | None = None
    po_box: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    original: str = ""

    def stored_housenumber(self) -> str | None:
        """Return the house number to keep on the account: the number, then the unit.

        Returns
        -------
        str or None
            ``"31-33, 2. krs"``; ``None`` when there is no number.
        """
        if not self.housenumber:
            return None
        return f"{self.housenumber}, {self.unit}" if self.unit else self.housenumber

    def as_dict(self) -> dict[str, str]:
        """Return the non-empty parts (for the stored geocoding detail).

        Returns
        -------
        dict
            Part name → text.
        """
        return {
            f.name: v
            for f in dataclasses.fields(self)
            if f.name != "original" and (v := getattr(self, f.name))
        }


def _fold(text: str) -> str:
    s = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in s if not unicodedata.combining(c))


def _word(token: str) -> str:
    return _fold(token).strip(".,:;")


def _is_unit(segment: str) -> bool:
    words = [_word(t) for t in segment.split()]
    return any(w in _UNIT_WORDS for w in words) and len(words) <= 4


def _is_country(segment: str) -> bool:
    return _fold(segment).strip(". ") in _COUNTRIES or all(
        _word(t) in _COUNTRIES for t in segment.split()
    )


@dataclasses.dataclass
class _Street:
    street: str
    housenumber: str | None
    unit: str | None


def _street_in(tokens: list[str], known_street: Callable[[str], bool] | None) -> _Street | None:
    """Read one segment's tokens as street + number (+ unit), either order."""
    if len(tokens) == 1:
        m = _GLUED.match(tokens[0])  # "Annankatu5"
        if m:
            tokens = [m.group(1), m.group(2)]
    starts = [
        j
        for j in range(1, len(tokens))
        if tokens[j][0].isdigit() and any(_LETTERS.search(t) for t in tokens[:j])
    ]
    if known_street is not None and len(starts) > 1:
        # "Route 66 12": prefer the split whose street the region knows
        known = [j for j in starts if known_street(" ".join(tokens[:j]))]
        if known:
            starts = [known[-1]]
    if starts and _HN_TOKEN.match(tokens[starts[0]]):
        j = starts[0]
        k = j + 1
        while k < len(tokens) and _HN_SUFFIX.match(tokens[k]) and not _is_unit(tokens[k]):
            k += 1
            break  # one letter or bis/ter: "20 A", "3-5 B", "12 bis"
        hn = " ".join(tokens[j:k]).rstrip(",")
        unit = " ".join(tokens[k:]).strip(" ,") or None
        return _Street(" ".join(tokens[:j]).rstrip(","), hn, unit)
    if len(tokens) > 1 and _HN_FIRST.match(tokens[0].rstrip(",")):
        k = 1
        if _HN_SUFFIX.match(tokens[1]) and len(tokens) > 2:
            k = 2  # "12 bis rue de la Paix"
        rest = " ".join(tokens[k:]).strip(" ,")
        if _LETTERS.search(rest) and not _is_unit(rest):
            return _Street(rest, " ".join(tokens[:k]).rstrip(","), None)
    return None


def _segments(text: str) -> list[str]:
    text = _RANGE_SPACES.sub(r"\1-\2", text.replace("\r", "\n"))
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(s.strip() for s in re.split(r"[,;]|\s/\s", line))
    return [s for s in out if s]


def _street_segment(
    segs: list[str], i: int, known_street: Callable[[str], bool] | None, pending: str | None
) -> _Street | None:
    """Return the street in segment ``i`` (it may take the next segment, then blanked)."""
    seg = segs[i]
    got = _street_in(seg.split(), known_street)
    if got is None and known_street is not None and i + 1 < len(segs):
        # "Kaivopiha, Mannerheimintie 19": a street name holding a comma
        joined = _street_in(f"{seg}, {segs[i + 1]}".split(), known_street)
        if joined is not None and known_street(joined.street):
            got, segs[i + 1] = joined, ""
    if got is None and pending is not None and _LETTERS.search(seg):
        got = _Street(seg, pending, None)
    return got


def parse_address(
    street: str | None,
    *,
    extra: str | None = None,
    postcode: str | None = None,
    city: str | None = None,
    known_street: Callable[[str], bool] | None = None,
) -> AddressParts:
    """Split an address cell (and extra lines) into parts.

    Parameters
    ----------
    street
        The street cell as exported: one line or several, possibly the whole
        address with postcode, city and country.
    extra
        A second address line (``Street 2``/``street2``).
    postcode, city
        The file's own postcode and city cells (they win over what the street
        cell holds).
    known_street
        Whether a text is a street name of the region (the OSM dictionary);
        optional.

    Returns
    -------
    AddressParts
        The parts; ``street`` is the whole cell when it cannot be split.
    """
    original = "\n".join(x for x in (street, extra) if x)
    segs = _segments(street or "") + _segments(extra or "")
    found: _Street | None = None
    units: list[str] = []
    extras: list[str] = []
    po_box = country = None
    pc, town = (postcode or None), (city or None)
    pending_number: str | None = None
    for i, seg in enumerate(segs):
        if not seg:
            continue
        if _PO_BOX.match(seg):
            po_box = po_box or seg
            continue
        if found is None and pending_number is None and _HN_FIRST.match(seg):
            pending_number = seg  # "12, rue de la Paix"
            continue
        if found is not None or i > 0:
            m = _POSTCODE_SEGMENT.match(seg)
            if m and (found is not None or len(m.group(1).replace(" ", "")) == 5):
                pc = pc or m.group(1)
                if m.group(2):
                    town = town or m.group(2).strip()
                continue
            m2 = _CITY_POSTCODE.match(seg)
            if m2 and found is not None:
                town, pc = town or m2.group(1), pc or m2.group(2)
                continue
        if found is not None and _is_country(seg):
            country = seg
            continue
        if _is_unit(seg) and (
            found is not None
            or _word(seg.split()[0]) in _UNIT_WORDS
            or _street_in(seg.split(), known_street) is None
        ):
            units.append(seg)
            continue
        if found is None:
            got = _street_segment(segs, i, known_street, pending_number)
            if got is not None:
                found = got  # from here on a pending number is never read again
                if got.unit:
                    units.insert(0, got.unit)
                continue
        extras.append(seg)
    if found is None:
        # no number anywhere: a known street name, else the first plain line
        name = next((e for e in extras if known_street is not None and known_street(e)), None)
        if name is None and extras:
            name = extras[0]
        if name is not None:
            extras.remove(name)
            found = _Street(name, pending_number, None)
        elif pending_number is not None:
            extras.insert(0, pending_number)
    return AddressParts(
        street=found.street if found else None,
        housenumber=found.housenumber if found else None,
        unit=", ".join(units) or None,
        extra=", ".join(extras) or None,
        po_box=po_box,
        postcode=pc,
        city=town,
        country=country,
        original=original,
    )
