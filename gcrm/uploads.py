"""Uploaded files: kept privately, and only while they are being read.

An uploaded accounts or territories file holds personal data. The app writes
it to ``<data_dir>/uploads`` (a folder only the server's user can open, mode
0700; the file 0600) for the one call that reads it, and deletes it right
after, whatever happens: nothing stays in a shared temporary folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gcrm.settings import get_settings


def uploads_folder() -> Path:
    """Return the private uploads folder, created 0700 (and made 0700) if needed.

    Returns
    -------
    pathlib.Path
        ``<data_dir>/uploads``.
    """
    folder = get_settings().data_dir / "uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


@contextmanager
def private_upload(data: bytes, name: str) -> Iterator[Path]:
    """Write an upload to a private file for the duration of a ``with`` block.

    Parameters
    ----------
    data
        The file's bytes.
    name
        The name the user gave it (only its last part is kept, so the file
        extension still tells the reader the format).

    Yields
    ------
    pathlib.Path
        The private file; deleted when the block ends.
    """
    safe = Path(name).name or "upload"
    path = uploads_folder() / f"{secrets.token_hex(8)}-{safe}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        path.unlink(missing_ok=True)
