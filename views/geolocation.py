"""Buttons that send the device position: a tiny Streamlit component, no external code.

The component (``views/components/geolocate/index.html``) asks the browser for
its position (``navigator.geolocation``) when a button is tapped and returns
``{action, lat, lon, accuracy, at, nonce}``, or ``{action, error, nonce}``
when the device gives none. Each tap has a new ``nonce``: handle each once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

_component = components.declare_component(
    "geolocate", path=str(Path(__file__).parent / "components" / "geolocate")
)


def geolocate(buttons: list[dict[str, Any]], *, key: str) -> dict[str, Any] | None:
    """Show buttons that send the device position when tapped.

    Parameters
    ----------
    buttons
        ``{"id": ..., "label": ..., "primary": bool}`` per button; ``id``
        comes back as ``action``.
    key
        Widget key.

    Returns
    -------
    dict or None
        The last tap's message, or ``None`` before any tap.
    """
    value = _component(buttons=buttons, key=key, default=None)
    return value if isinstance(value, dict) else None
