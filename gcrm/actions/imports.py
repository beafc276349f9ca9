"""What the Import page does: preview (dry run) and import an uploaded file."""

from __future__ import annotations

from collections.abc import Callable

from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.importer import ImportReport, import_file
from gcrm.uploads import private_upload


def import_upload(
    actor: Actor,
    data: bytes,
    name: str,
    *,
    mapping: dict[str, str | None] | None,
    dry_run: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> ImportReport:
    """Import (or preview) an uploaded accounts file in one transaction.

    The upload is written to a private file for the run (see
    :func:`gcrm.uploads.private_upload`); a failure anywhere imports nothing.

    Parameters
    ----------
    actor
        The acting user (needs ``import``).
    data, name
        The uploaded bytes and the file's name.
    mapping
        Header → canonical column (``None``: ignore the column); ``None``: as suggested.
    dry_run
        Validate and report only; nothing is written.
    progress
        Called with ``(fraction, message)`` while importing.

    Returns
    -------
    ImportReport
        See :func:`gcrm.importer.import_file`.
    """
    with private_upload(data, name) as path, session_scope() as session:
        return import_file(
            session, actor, path, mapping=mapping, dry_run=dry_run, progress=progress
        )
