"""Exceptions raised by gcrm.

Every error a user can cause derives from :class:`GcrmError`, so the CLI and
the app can turn it into one clear message instead of a traceback.
"""

from __future__ import annotations


class GcrmError(Exception):
    """Base class of every error gcrm raises on purpose."""


class InputError(GcrmError, ValueError):
    """Bad input from a user: a file, a field, an argument."""


class OSMFileError(InputError):
    """An OSM file is missing, empty, corrupt or holds no usable data."""


class BasemapError(GcrmError, RuntimeError):
    """The offline basemap could not be built, or its archive is missing or changed."""


class NotFoundError(GcrmError, LookupError):
    """A record the caller asked for does not exist (or is out of scope)."""


class PermissionDeniedError(GcrmError, PermissionError):
    """The acting user may not do this."""


class JobCancelledError(GcrmError):
    """A job was cancelled while it ran: its work was rolled back."""


class AuthenticationError(GcrmError):
    """Login failed: unknown user, wrong password, locked or expired."""


class GcrmWarning(UserWarning):
    """A warning gcrm issues (tests turn these into errors)."""
