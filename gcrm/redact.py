"""Erasing a person's values from stored text, field by field.

Erasure (:func:`gcrm.store.erase_contact`, :func:`gcrm.store.erase_account`)
must remove a person's name, phone and e-mail wherever they were copied: free
text (interaction notes and outcomes), audit targets and the JSON of audit
details and saved plans. It must not touch anything else: a text replacement
over a whole JSON document rewrites keys that happen to equal a value (an
imported name ``sha256`` erased every ``"sha256"`` key) and can break the
JSON. Here JSON is parsed and only the string *values* that mention the
person are replaced, whole, by :data:`ERASED`; keys, numbers and the other
values stay as they were.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

#: What an erased value becomes.
ERASED = "[erased]"

#: Shorter values are not searched for (they would match everywhere).
MIN_SECRET_LENGTH = 3


def secret_pattern(secrets: Iterable[str | None]) -> re.Pattern[str] | None:
    """Compile one case-insensitive pattern matching any of a person's values.

    Parameters
    ----------
    secrets
        Name, phone, e-mail...; empty and very short values are skipped.

    Returns
    -------
    re.Pattern or None
        A pattern matching a value as a whole word, ``None`` when nothing
        is left to search for.
    """
    kept = sorted({s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_LENGTH})
    if not kept:
        return None
    body = "|".join(re.escape(s) for s in sorted(kept, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def redact_text(text: str | None, pattern: re.Pattern[str] | None) -> str | None:
    """Return :data:`ERASED` for a text that mentions the person, else the text.

    Parameters
    ----------
    text
        A free-text field.
    pattern
        From :func:`secret_pattern`.

    Returns
    -------
    str or None
        The whole field replaced, or unchanged.
    """
    if text is None or pattern is None or not pattern.search(text):
        return text
    return ERASED


def _walk(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, pattern)
    if isinstance(value, list):
        return [_walk(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, pattern) for k, v in value.items()}
    return value


def redact_json(text: str | None, pattern: re.Pattern[str] | None) -> str | None:
    """Erase the person from the string values of a JSON document.

    Parameters
    ----------
    text
        A JSON document (an audit line's details, a saved plan).
    pattern
        From :func:`secret_pattern`.

    Returns
    -------
    str or None
        The same document (still valid JSON, keys untouched) with every
        string value that mentions the person replaced by :data:`ERASED`;
        unchanged when it does not mention them. Text that is not JSON is
        treated as one free-text field.
    """
    if text is None or pattern is None:
        return text
    try:
        doc = json.loads(text)
    except ValueError:
        return redact_text(text, pattern)
    new = _walk(doc, pattern)
    return text if new == doc else json.dumps(new, ensure_ascii=False)
