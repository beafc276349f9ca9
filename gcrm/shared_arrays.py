"""Read-only arrays built once per machine and memory-mapped by every process.

The path engine's packed road graph (:mod:`gcrm._paths`) and the geocoder's
point arrays (:mod:`gcrm.geocode_index`) are the same in every app process and
job worker of a machine. :func:`shared_arrays` builds such a set of numpy
arrays once, writes it to ``<data_dir>/cache/shared/<name>-f<format>/`` (one
``.npy`` file per array and a ``manifest.json``) and opens the files with
``numpy.load(..., mmap_mode="r")``: the operating system keeps one copy of
their pages in its page cache, shared by every process that maps them, and
the arrays are read-only (writing to them raises ``ValueError``).

Writing is atomic: a process builds the set in a private temporary folder and
renames it into place; when two processes start at once, the second rename
fails, and that process drops its copy and maps the winner's. A folder whose
manifest is missing or does not match its files (a crash, a foreign file) is
moved aside and rebuilt. Callers put the identity of their source (the OSM
file's digest, the graph's cache key) and their own layout version into
``name``; :data:`FORMAT_VERSION` covers this module's layout.

``GCRM_SHARED_CACHE=false`` turns sharing off: :func:`shared_arrays` then
returns the built arrays as private, writable memory and writes nothing (the
baseline of ``benchmarks/shared_memory_bench.py``). Clearing the cache is
deleting ``<data_dir>/cache/shared/`` while no gcrm process runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from gcrm.osm import cache_dir
from gcrm.settings import get_settings

__all__ = ["FORMAT_VERSION", "shared_arrays", "shared_folder", "sharing_enabled"]

log = logging.getLogger(__name__)

#: Layout of a shared folder (file names, manifest): bump it when that changes.
FORMAT_VERSION = 1

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
_MANIFEST = "manifest.json"


def sharing_enabled() -> bool:
    """Return whether shared arrays are on (``GCRM_SHARED_CACHE``, default true).

    Returns
    -------
    bool
        False when the setting turns sharing off.
    """
    return get_settings().shared_cache


def shared_folder(name: str) -> Path:
    """Return the folder that holds (or will hold) the arrays called ``name``.

    Parameters
    ----------
    name
        Letters, digits, ``.``, ``_`` and ``-`` (the caller's kind and key).

    Returns
    -------
    pathlib.Path
        ``<data_dir>/cache/shared/<name>-f<FORMAT_VERSION>``.

    Raises
    ------
    ValueError
        If the name is empty, too long or holds other characters.
    """
    if not _NAME.match(name):
        msg = f"shared array set name {name!r} must be letters, digits, '.', '_' or '-'"
        raise ValueError(msg)
    return cache_dir("shared") / f"{name}-f{FORMAT_VERSION}"


def shared_arrays(
    name: str,
    build: Callable[[], Mapping[str, np.ndarray]],
    *,
    enabled: bool | None = None,
) -> dict[str, np.ndarray]:
    """Return a set of arrays, built once per machine and memory-mapped read-only.

    Parameters
    ----------
    name
        The set's name, holding the identity of its source and the caller's
        layout version (see :func:`shared_folder`).
    build
        Makes the arrays (called only when no valid folder exists yet):
        a mapping of array name (a valid file name) to a numeric or string
        numpy array (no ``object`` dtype).
    enabled
        Share through the cache folder; ``None`` (default) follows
        :func:`sharing_enabled`. When false, returns ``build()``'s arrays.

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays; read-only memory maps when shared. Empty arrays are
        returned in memory (a zero-length file cannot be mapped).

    Raises
    ------
    ValueError
        If ``build`` returns an ``object`` array or a bad array name.
    """
    if not (sharing_enabled() if enabled is None else enabled):
        return {k: np.asarray(v) for k, v in build().items()}
    folder = shared_folder(name)
    loaded = _load(folder)
    if loaded is not None:
        return loaded
    _write(folder, build())
    loaded = _load(folder)
    if loaded is None:  # not readable right after writing (full disk?): stay private
        log.warning("shared arrays %s could not be mapped; using private memory", folder)
        return {k: np.asarray(v) for k, v in build().items()}
    return loaded


def _load(folder: Path) -> dict[str, np.ndarray] | None:
    """Map the folder's arrays; ``None`` if it is missing, moving a broken one aside."""
    manifest = folder / _MANIFEST
    if not manifest.is_file():
        if folder.exists():  # only a crash or a hand edit leaves one without a manifest
            _discard(folder)
        return None
    try:
        spec = json.loads(manifest.read_text(encoding="utf-8"))
        out: dict[str, np.ndarray] = {}
        for key, (dtype, shape) in spec["arrays"].items():
            path = folder / f"{key}.npy"
            if int(np.prod(shape)) == 0:
                arr = np.load(path, allow_pickle=False)
            else:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if str(arr.dtype) != dtype or list(arr.shape) != list(shape):
                msg = f"{path.name}: {arr.dtype}{arr.shape} is not {dtype}{tuple(shape)}"
                raise ValueError(msg)
            out[key] = arr
    except Exception as exc:  # truncated or foreign files: many error types
        log.warning("rebuilding broken shared arrays %s: %s", folder, exc)
        _discard(folder)
        return None
    return out


def _write(folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write the arrays to a private folder and rename it into place (atomic)."""
    spec: dict[str, list[object]] = {}
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        for key, value in arrays.items():
            arr = np.ascontiguousarray(value)
            if arr.dtype.hasobject or not _NAME.match(key):
                msg = f"shared array {key!r} of {folder.name}: no object arrays, plain names"
                raise ValueError(msg)
            np.save(tmp / f"{key}.npy", arr, allow_pickle=False)
            spec[key] = [str(arr.dtype), list(arr.shape)]
        # The manifest last: a folder without one is never read.
        (tmp / _MANIFEST).write_text(json.dumps({"arrays": spec}), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700: let other users' workers map it
        try:
            os.rename(tmp, folder)
        except OSError:  # another process renamed its copy first: keep that one
            if not (folder / _MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _discard(folder: Path) -> None:
    """Move a broken folder aside (atomic) and delete it."""
    aside = folder.with_name(f".{folder.name}.{os.getpid()}.broken")
    try:
        os.rename(folder, aside)
    except OSError:
        return  # someone else moved or replaced it already
    shutil.rmtree(aside, ignore_errors=True)
