"""How sure a pin is: the precision words, and the accounts that need a pin.

One place for what each ``geocode_precision`` means, shared by the map legend
(:mod:`gcrm.maps`), the import report (:mod:`gcrm.import_report`) and the
"needs a pin" list of the Accounts page.
"""

from __future__ import annotations

import pandas as pd

#: Each precision, from most to least certain, with what it means.
PRECISION_LABELS: dict[str, str] = {
    "manual": "placed by hand",
    "provided": "exact (coordinates given)",
    "address": "exact address",
    "interpolated": "interpolated on the street",
    "street": "street only",
    "postcode": "postcode area only",
    "city": "town only",
    "none": "no location (needs a pin)",
}

#: Precisions that are only approximate: such accounts are listed as needing a pin.
APPROXIMATE: tuple[str, ...] = ("none", "city", "postcode", "street")

_ORDER = {p: i for i, p in enumerate(PRECISION_LABELS)}


def needs_pin(accounts: pd.DataFrame) -> pd.DataFrame:
    """Return the accounts whose location is missing or approximate, least sure first.

    Parameters
    ----------
    accounts
        Accounts with ``geocode_precision`` (e.g. :func:`gcrm.store.accounts_frame`).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``name``, ``address``, ``precision`` and ``meaning`` of each
        account at :data:`APPROXIMATE` precision (``none`` first, then ``city``,
        ``postcode``, ``street``), then by name.
    """
    cols = ["id", "name", "address", "precision", "meaning"]
    if accounts.empty or "geocode_precision" not in accounts.columns:
        return pd.DataFrame(columns=cols)
    precision = accounts["geocode_precision"].fillna("none").astype(str)
    df = accounts[precision.isin(APPROXIMATE).to_numpy()].copy()
    df["precision"] = precision[precision.isin(APPROXIMATE)].to_numpy()

    def text(col: str) -> pd.Series:
        if col not in df.columns:
            return pd.Series([""] * len(df), index=df.index)
        return df[col].fillna("").astype(str)

    street = (text("street") + " " + text("housenumber")).str.strip()
    place = (text("postcode") + " " + text("city")).str.strip()
    df["address"] = [", ".join(t for t in pair if t) for pair in zip(street, place, strict=True)]
    df["meaning"] = df["precision"].map(PRECISION_LABELS)
    df["_order"] = -df["precision"].map(_ORDER)
    df = df.sort_values(["_order", "name"], kind="stable")
    return pd.DataFrame(df[cols]).reset_index(drop=True)
