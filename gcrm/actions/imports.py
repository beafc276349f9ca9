"""What the Import page does: preview (dry run) and import an uploaded file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gcrm._errors import GcrmError
from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.importer import ImportReport, import_file, suggest_mapping
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
    :func:`gcrm.uploads.private_upload`); a failure anywhere imports nothing, and
    its message names the file by the name the user gave it.

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
    with private_upload(data, name) as path:
        try:
            with session_scope() as session:
                report = import_file(
                    session, actor, path, mapping=mapping, dry_run=dry_run, progress=progress
                )
        except GcrmError as exc:  # name the file as the user knows it, not the private copy
            raise type(exc)(str(exc).replace(path.name, Path(name).name)) from exc
    report.file = Path(name).name
    return report


def suggest_upload_mapping(data: bytes, name: str) -> dict[str, str | None]:
    """Suggest the column mapping of an uploaded file (:func:`gcrm.importer.suggest_mapping`).

    Parameters
    ----------
    data, name
        The uploaded bytes and the file's name.

    Returns
    -------
    dict
        Header → suggested canonical column (``None``: no suggestion).

    Raises
    ------
    InputError
        When the file cannot be read (naming the file as the user gave it, and the row).
    """
    with private_upload(data, name) as path:
        try:
            return suggest_mapping(path)
        except GcrmError as exc:
            raise type(exc)(str(exc).replace(path.name, Path(name).name)) from exc
