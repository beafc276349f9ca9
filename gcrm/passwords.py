"""The password policy (OWASP ASVS 5.0, chapter V6.2), in one place.

- At least :data:`MIN_LENGTH` characters (ASVS: at least 8; 15 recommended),
  at most :data:`MAX_LENGTH` (ASVS: at least 64 must be allowed).
- Any characters, spaces included, and no composition rules (no "one digit,
  one capital"), but not only white space.
- Not one of the common or breached passwords shipped with the package
  (``gcrm/data/common_passwords.txt``), compared case-insensitively.
- Different from the current password.

Salts: argon2id draws a new random salt for every hash, so two users with
the same password have different hashes.
"""

from __future__ import annotations

import functools
from pathlib import Path

from gcrm._errors import InputError

#: Shortest password accepted.
MIN_LENGTH = 10

#: Longest password accepted (ASVS asks for at least 64).
MAX_LENGTH = 128

_COMMON_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common and breached passwords (lower case).

    Returns
    -------
    frozenset of str
        The list; empty lines and ``#`` comments are skipped.
    """
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


def check_password(password: str, *, field: str = "password", old: str | None = None) -> None:
    """Raise unless a new password meets the policy.

    Parameters
    ----------
    password
        The proposed password.
    field
        The field name the message starts with.
    old
        The current password, which the new one must differ from.

    Raises
    ------
    InputError
        Naming the field and the rule broken.
    """
    if len(password) < MIN_LENGTH:
        msg = f"{field}: use at least {MIN_LENGTH} characters"
        raise InputError(msg)
    if len(password) > MAX_LENGTH:
        msg = f"{field}: use at most {MAX_LENGTH} characters"
        raise InputError(msg)
    if not password.strip():
        msg = f"{field}: cannot be only spaces"
        raise InputError(msg)
    if password.strip().lower() in common_passwords():
        msg = f"{field}: this password is on the list of common or breached passwords"
        raise InputError(msg)
    if old is not None and password == old:
        msg = f"{field}: must differ from the current one"
        raise InputError(msg)
