"""Normalising address text for the geocoder: street names, house numbers, free text.

Matching keys (:func:`normalize_street`, :func:`normalize_housenumber`,
:func:`city_key`, :func:`norm_postcode`) make spellings of one name meet:
case, accents, spacing and punctuation are dropped and common street-type
abbreviations expanded. :func:`split_address` splits a free-text address into
its parts. Used to build the address index (:mod:`gcrm.geocode_index`) and to
query it (:mod:`gcrm.geocode`).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable

import pandas as pd

__all__ = [
    "city_key",
    "clean",
    "hn_display",
    "hn_key",
    "norm_postcode",
    "normalize_housenumber",
    "normalize_street",
    "parse_housenumber",
    "split_address",
]

_NON_ALNUM = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")

# Whole-word abbreviations of a street type, as the last word ("Main St.", "Alvar Aallon k.").
_LAST_WORD = {
    "st": "street",
    "st.": "street",
    "str": "strasse",
    "str.": "strasse",
    "ave": "avenue",
    "ave.": "avenue",
    "av.": "avenue",
    "rd": "road",
    "rd.": "road",
    "blvd": "boulevard",
    "blvd.": "boulevard",
    "dr": "drive",
    "dr.": "drive",
    "ln": "lane",
    "ln.": "lane",
    "sq": "square",
    "sq.": "square",
    "ct": "court",
    "ct.": "court",
    "pl": "place",
    "pl.": "place",
    "hwy": "highway",
    "pkwy": "parkway",
    "k.": "katu",
    "t.": "tie",
    "g.": "gatan",
    "v.": "vägen",
}
# Whole-word abbreviations as the first word ("St. Mary's Road", "Av. Foch").
_FIRST_WORD = {
    "st": "saint",
    "st.": "saint",
    "av.": "avenue",
    "bd": "boulevard",
    "bd.": "boulevard",
}
# Abbreviated endings of a compound street name ("Annank.", "Mannerheimint.", "Anneg.").
_SUFFIXES = (("str.", "strasse"), ("k.", "katu"), ("t.", "tie"), ("g.", "gatan"), ("v.", "vägen"))


@functools.lru_cache(maxsize=1 << 16)
def _fold(text: str) -> str:
    """Case-fold and strip accents (``"Töölönkatu"`` -> ``"toolonkatu"``)."""
    s = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in s if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1 << 16)
def normalize_street(name: str) -> str:
    """Return the matching key of a street name.

    Case, accents, spaces and punctuation are dropped and common abbreviations
    expanded, so that ``"Annank."``, ``"ANNANKATU"`` and ``"Annankatu"`` share
    one key, as do ``"Mannerheimint."``/``"Mannerheimintie"``,
    ``"Anneg."``/``"Annegatan"``, ``"Main St."``/``"Main Street"`` and
    ``"Alvar Aallon k."``/``"Alvar Aallonkatu"``.

    Parameters
    ----------
    name
        A street name as written by a user or in OSM.

    Returns
    -------
    str
        Lower-case letters and digits only; ``""`` for a blank name.
    """
    words = name.casefold().replace("’", "'").split()
    if not words:
        return ""
    n = len(words)
    if n > 1 and words[0] in _FIRST_WORD:
        words[0] = _FIRST_WORD[words[0]]
    last = words[-1]
    if last in _LAST_WORD and (n > 1 or last.endswith(".")):
        words[-1] = _LAST_WORD[last]
    elif last.endswith(".") and len(last) > 2:
        for short, full in _SUFFIXES:
            if last.endswith(short) and len(last) > len(short) + 1:
                words[-1] = last[: -len(short)] + full
                break
    return _NON_ALNUM.sub("", _fold(" ".join(words)))


def city_key(name: str) -> str:
    """Return the matching key of a city name (folded letters and digits only).

    Parameters
    ----------
    name
        A city or place name.

    Returns
    -------
    str
        ``"Helsingfors"`` -> ``"helsingfors"``, ``"Île-de-France"`` -> ``"iledefrance"``.
    """
    return _NON_ALNUM.sub("", _fold(name))


_HN_RE = re.compile(
    r"(\d+)\s*(?:([^\W\d_])(?![^\W\d_]))?(?:\s*[-–—]\s*(\d+)(?:\s*[^\W\d_](?![^\W\d_]))?)?"
)


@functools.lru_cache(maxsize=1 << 16)
def parse_housenumber(text: str) -> tuple[int, str, int] | None:
    """Parse a house number into ``(number, letter, range_end)``.

    Parameters
    ----------
    text
        ``"5"``, ``"5a"``, ``"5 A"``, ``"5-7"``, ``"5 B 12"`` (staircase B,
        flat 12: the flat is dropped), ``"13 A, 5. krs."`` (text after a comma
        is dropped); with several values (``"5;7"``) the first is used.

    Returns
    -------
    tuple of (int, str, int) or None
        The number, the lower-case letter (``""`` if none) and the end of a
        range (``0`` if none; ranges are put in increasing order), or ``None``
        when the text holds no number.
    """
    s = text.split(",", 1)[0].split(";", 1)[0]
    m = _HN_RE.search(s)
    if m is None:
        return None
    num = int(m.group(1))
    letter = (m.group(2) or "").casefold()
    end = int(m.group(3)) if m.group(3) else 0
    if end == num:
        end = 0
    elif end and end < num:
        num, end = end, num
    return num, letter, end


def hn_key(num: int, letter: str, end: int) -> str:
    """Return the key of a parsed house number (``(5, "a", 0)`` -> ``"5a"``).

    Parameters
    ----------
    num, letter, end
        As returned by :func:`parse_housenumber`.

    Returns
    -------
    str
        ``"5"``, ``"5a"``, ``"5-7"``.
    """
    return f"{num}{letter}-{end}" if end else f"{num}{letter}"


def hn_display(num: int, letter: str, end: int) -> str:
    """Return a parsed house number as shown (``(5, "a", 0)`` -> ``"5 A"``).

    Parameters
    ----------
    num, letter, end
        As returned by :func:`parse_housenumber`.

    Returns
    -------
    str
        ``"5"``, ``"5 A"``, ``"5-7"``.
    """
    s = f"{num} {letter.upper()}" if letter else str(num)
    return f"{s}-{end}" if end else s


def normalize_housenumber(text: str) -> str:
    """Return the matching key of a house number (``"5 A"`` -> ``"5a"``).

    Parameters
    ----------
    text
        A house number; see :func:`parse_housenumber`.

    Returns
    -------
    str
        ``"5"``, ``"5a"``, ``"5-7"``; ``""`` when the text holds no number.
    """
    p = parse_housenumber(text)
    return hn_key(*p) if p else ""


def clean(value: object) -> str:
    """Return a cell value as stripped text (``None``/NaN -> ``""``).

    Parameters
    ----------
    value
        A value from a DataFrame, a form or a mapping.

    Returns
    -------
    str
        The text, stripped; ``""`` for ``None``, NaN, ``pd.NA`` and ``NaT``.
    """
    if type(value) is str:
        return value.strip()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value).strip()


def norm_postcode(text: str) -> str:
    """Return the matching key of a postcode (``"00 120"`` -> ``"00120"``, upper case).

    Parameters
    ----------
    text
        A postcode as written.

    Returns
    -------
    str
        Without spaces, upper case.
    """
    return text.replace(" ", "").upper()


# --------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------

_GLUED = re.compile(r"^([^\W\d_]{3,})(\d+[^\W\d_]?)$")
_FIVE_DIGITS = re.compile(r"^\d{5}$")
_HN_TOKEN = re.compile(r"^(\d+[^\W\d_]?([-–]\d+[^\W\d_]?)?|[^\W\d_]|[-–]|[-–]\d+[^\W\d_]?)[.]?$")
_HN_FIRST = re.compile(r"^\d+[^\W\d_]?$")


def split_address(
    text: str, is_postcode: Callable[[str], bool]
) -> tuple[tuple[str, ...], str, str, str]:
    """Split free text into street options, house number, postcode and city.

    Parameters
    ----------
    text
        ``"Annankatu 5 A, 00120 Helsinki"``, ``"5 Main St., Springfield"``,
        ``"Kaivopiha, Mannerheimintie 10"``: street and house number in
        either order, postcode and city anywhere, separated by commas or
        spaces.
    is_postcode
        Whether a normalised token is a postcode of the region (any five
        digits not right after a street word count too).

    Returns
    -------
    street_options, housenumber, postcode, city
        The street part with the text before it joined on in turn (a
        building or company name may or may not belong to the street name),
        longest first; ``""`` for parts not found.
    """
    parts = [p.split() for p in text.replace(";", ",").split(",")]
    if any(t[-1].isdigit() and t[0].isalpha() for p in parts for t in p):
        # "Annankatu5" -> "Annankatu 5"
        parts = [" ".join(_GLUED.sub(r"\1 \2", t) for t in p).split() for p in parts]
    parts = [p for p in parts if p]
    pc = ""
    for toks in reversed(parts):
        for ti in range(len(toks) - 1, -1, -1):
            tok = toks[ti].strip(".")
            norm = norm_postcode(tok)
            known = len(norm) >= 3 and is_postcode(norm)
            after_street = ti > 0 and _LETTER.search(toks[ti - 1]) is not None
            if known or (_FIVE_DIGITS.match(tok) and not after_street):
                pc = norm
                del toks[ti]
                break
        if pc:
            break
    parts = [p for p in parts if p]
    street_opts: tuple[str, ...] = ()
    hn = city = ""
    for pi, toks in enumerate(parts):
        ti = next(
            (
                j
                for j in range(1, len(toks))
                if toks[j][0].isdigit() and any(_LETTER.search(t) for t in toks[:j])
            ),
            0,
        )
        if ti:
            k = ti + 1
            while k < len(toks) and _HN_TOKEN.match(toks[k]):
                k += 1
            street = " ".join(toks[:ti])
            hn = " ".join(toks[ti:k])
            rest = " ".join(toks[k:])
        elif len(toks) > 1 and _HN_FIRST.match(toks[0]) and _LETTER.search(" ".join(toks[1:])):
            street, hn, rest = " ".join(toks[1:]), toks[0], ""
        else:
            continue
        before = [" ".join(p) for p in parts[:pi]]
        street_opts = (
            *(", ".join([*before[j:], street]) for j in range(len(before))),
            street,
        )
        after = [" ".join(p) for p in parts[pi + 1 :]]
        city = rest or (after[-1] if after else "")
        break
    else:
        texts = [" ".join(p) for p in parts]
        if len(texts) == 1:
            street_opts = (texts[0],)
        elif texts:
            street_opts, city = (texts[0],), texts[-1]
    return street_opts, hn, pc, city
