"""Account exports written exactly as other CRMs write them, filled with real OSM addresses.

Each layout names its columns, encoding, separator and quirks as the system's
own export does (Salesforce report labels and Data Loader API names, a
Salesforce Classic report in ISO-8859-1 with its footer, HubSpot CSV and
XLSX, Odoo labels and import-compatible names with contact persons, Zoho,
Pipedrive, Dynamics 365's Excel export, SuiteCRM, German, Swedish, French and
Spanish sheets). Street cells are written as people type them: with staircase
and flat, ranges, floors, PO boxes on a second line, abbreviations.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import pandas as pd

from gcrm.osm import bundled_osm_file, read_address_points

BAYREUTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "north-bayreuth.osm.gz"

#: The users the exports name as owners: (username, full name, e-mail).
OWNERS = (
    ("mvirtanen", "Maria Virtanen", "maria.virtanen@example.fi"),
    ("jweber", "Jonas Weber", "jonas.weber@example.de"),
    ("ekarlsson", "Eva Karlsson", "eva.karlsson@example.se"),
)


@dataclasses.dataclass
class Company:
    """One company of an export, at a real OSM address (``lat``/``lon``: the truth)."""

    ext: str
    name: str
    street: str
    housenumber: str
    postcode: str
    city: str
    country: str
    lat: float
    lon: float
    owner: int
    kind: int
    phone: str


def osm_companies(
    path: Path, n: int, *, prefix: str, country: str, city: str, offset: int = 0
) -> list[Company]:
    """``n`` companies at distinct real addresses of an OSM file, spread over its streets."""
    df = read_address_points(path)
    df = df[
        df["addr:street"].notna() & df["addr:housenumber"].notna() & df["addr:postcode"].notna()
    ].copy()
    df = df[df["addr:housenumber"].astype(str).str.fullmatch(r"\d{1,3}[a-zA-Z]?")]
    df["key"] = df["addr:street"].astype(str) + "|" + df["addr:housenumber"].astype(str)
    df = df.sort_values(["key", "osm_id"]).drop_duplicates("key")
    step = max(1, len(df) // n)
    picked = df.iloc[offset % step :: step].head(n)
    out = []
    for i, (_, r) in enumerate(picked.iterrows()):
        pc = r.get("addr:postcode")
        town = r.get("addr:city")
        out.append(
            Company(
                ext=f"{prefix}{i:03d}",
                name=f"{r['addr:street']} {['Oy', 'GmbH', 'AB', 'SARL'][i % 4]} {i}",
                street=str(r["addr:street"]),
                housenumber=str(r["addr:housenumber"]),
                postcode=str(pc) if isinstance(pc, str) else "",
                city=str(town) if isinstance(town, str) else city,
                country=country,
                lat=float(r["lat"]),
                lon=float(r["lon"]),
                owner=i % len(OWNERS),
                kind=i % 3,
                phone=(
                    f"+358 40 {100 + i:03d} {1000 + i:04d}"
                    if prefix.startswith("h")
                    else f"+49 921 {1000 + i}"
                ),
            )
        )
    return out


def helsinki(n: int, offset: int = 0) -> list[Company]:
    """Companies at real addresses of the bundled Helsinki extract."""
    return osm_companies(
        bundled_osm_file(), n, prefix="hel", country="Finland", city="Helsinki", offset=offset
    )


def bayreuth(n: int, offset: int = 0) -> list[Company]:
    """Companies at real addresses of the north Bayreuth extract."""
    return osm_companies(
        BAYREUTH, n, prefix="bay", country="Deutschland", city="Bayreuth", offset=offset
    )


def _abbreviated(street: str) -> str:
    return re.sub(r"straße$", "str.", street)


def street_cell(c: Company, i: int, *, style: str = "nordic") -> str:
    """The street cell as a person types it (the i-th of several habits)."""
    st, hn = c.street, c.housenumber
    plain = hn.isdigit()
    if style == "german":
        habits = [
            f"{st} {hn}",
            f"{_abbreviated(st)} {hn}",
            f"{st} {hn}, 2. OG",
            f"{st} {hn}\nPostfach 1234",
            f"{st} {hn}-{int(hn) + 2}" if plain else f"{st} {hn}",
        ]
    elif style == "french":
        habits = [f"{hn} {st}", f"{hn}, {st}", f"{st} {hn}, 3e étage"]
    else:
        habits = [
            f"{st} {hn}",
            f"{st} {hn} A" if plain else f"{st} {hn}",
            f"{st} {hn}-{int(hn) + 2} B" if plain else f"{st} {hn}",
            f"{st} {hn}, 2. krs",
            f"{st} {hn}\nPL 45",
            f"{st} {hn} B 12" if plain else f"{st} {hn}",
        ]
    return habits[i % len(habits)]


_SF_TYPES = ("Customer - Direct", "Prospect", "Customer - Channel")
_HUBSPOT_STAGES = ("customer", "lead", "opportunity")
_ZOHO_TYPES = ("Customer", "Prospect", "Analyst")
_DYNAMICS_TYPES = ("Customer", "Prospect", "Vendor")
_GERMAN_TYPES = ("Kunde", "Interessent", "Lead")
_SWEDISH_TYPES = ("Kund", "Prospekt", "Lead")
_FRENCH_TYPES = ("Client", "Prospect", "Piste")
_SPANISH_TYPES = ("Cliente", "Prospecto", "Lead")


def _full(c: Company) -> str:
    return OWNERS[c.owner][1]


def layout_rows(layout: str, companies: list[Company]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one layout."""
    cs = companies
    if layout in ("salesforce_lightning", "salesforce_classic"):
        header = [
            "Account Owner", "Account Name", "Type", "Industry", "Billing Street",
            "Billing City", "Billing State/Province", "Billing Zip/Postal Code",
            "Billing Country", "Phone", "Account ID",
        ]  # fmt: skip
        rows = [
            [_full(c), c.name, _SF_TYPES[c.kind], "Retail", street_cell(c, i), c.city, "",
             c.postcode, c.country, c.phone, f"0015g00000{c.ext}"]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout == "salesforce_dataloader":
        header = [
            "ID", "NAME", "TYPE", "BILLINGSTREET", "BILLINGCITY", "BILLINGSTATE",
            "BILLINGPOSTALCODE", "BILLINGCOUNTRY", "PHONE", "OWNERID",
        ]  # fmt: skip
        rows = [
            [f"0015g00000{c.ext}", c.name, _SF_TYPES[c.kind], street_cell(c, i), c.city, "",
             c.postcode, c.country, c.phone, f"0055g0000{c.owner}AbCdE"]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout in ("hubspot_csv", "hubspot_xlsx"):
        header = [
            "Record ID", "Company name", "Company owner", "Create Date", "Lifecycle Stage",
            "Street Address", "Street Address 2", "City", "Postal Code", "Country/Region",
            "Phone Number", "Industry",
        ]  # fmt: skip
        rows = [
            [c.ext, c.name, _full(c), "2026-01-05 10:00", _HUBSPOT_STAGES[c.kind],
             f"{c.street} {c.housenumber}", ["", "2. krs", "PL 45"][i % 3], c.city,
             c.postcode, c.country, c.phone, "RETAIL"]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout == "odoo_labels":
        header = [
            "Name", "Is a Company", "Related Company", "Street", "Street2", "Zip", "City",
            "Country", "Email", "Phone", "Salesperson", "Tags",
        ]  # fmt: skip
        rows = []
        for i, c in enumerate(cs):
            rows.append(
                [c.name, "True", "", f"{c.street} {c.housenumber}", ["", "2. krs"][i % 2],
                 c.postcode, c.city, c.country, f"info{i}@example.com", c.phone, _full(c),
                 "Retail"]
            )  # fmt: skip
            rows.append(
                [f"{c.name}, Anna Person{i}", "False", c.name, "", "", "", "", "",
                 f"anna{i}@example.com", "", "", ""]
            )  # fmt: skip
    elif layout == "odoo_technical":
        header = [
            "id", "name", "is_company", "parent_id", "street", "street2", "zip", "city",
            "country_id", "email", "phone", "user_id",
        ]  # fmt: skip
        rows = []
        for i, c in enumerate(cs):
            rows.append(
                [f"__export__.res_partner_{i}_{c.ext}", c.name, "1", "",
                 street_cell(c, i), "", c.postcode, c.city, c.country, "", c.phone, _full(c)]
            )  # fmt: skip
            rows.append(
                [f"__export__.res_partner_p{i}", f"{c.name}, Otto Contact{i}", "0", "", "", "",
                 "", "", "", f"otto{i}@example.com", "", ""]
            )  # fmt: skip
    elif layout == "zoho":
        header = [
            "Record Id", "Account Owner", "Account Name", "Account Type", "Industry",
            "Billing Street", "Billing City", "Billing State", "Billing Code",
            "Billing Country", "Phone",
        ]  # fmt: skip
        rows = [
            [f"zcrm_{c.ext}", _full(c), c.name, _ZOHO_TYPES[c.kind], "Retail",
             street_cell(c, i + 4), c.city, "", c.postcode, c.country, c.phone]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout == "pipedrive":
        header = [
            "Organization - ID", "Organization - Name", "Organization - Owner",
            "Organization - Address", "Organization - Label", "Organization - People",
        ]  # fmt: skip
        rows = [
            [c.ext, c.name, _full(c),
             f"{c.street} {c.housenumber}, {c.postcode} {c.city}, {c.country}", "Hot lead", "1"]
            for c in cs
        ]  # fmt: skip
    elif layout == "dynamics_xlsx":
        header = [
            "(Do Not Modify) Account", "(Do Not Modify) Row Checksum",
            "(Do Not Modify) Modified On", "Account Name", "Main Phone", "Address 1: Street 1",
            "Address 1: Street 2", "Address 1: City", "Address 1: ZIP/Postal Code",
            "Address 1: Country/Region", "Relationship Type", "Owner",
        ]  # fmt: skip
        rows = [
            [f"6c5f1d2e-0000-4000-8000-{int(c.ext[3:]):012d}", "x1Y2z3==", "2026-11-02 09:00",
             c.name, c.phone, f"{c.street} {c.housenumber}", "", c.city, c.postcode,
             c.country, _DYNAMICS_TYPES[c.kind], _full(c)]
            for c in cs
        ]  # fmt: skip
    elif layout == "suitecrm":
        header = [
            "id", "name", "date_entered", "account_type", "industry", "billing_address_street",
            "billing_address_city", "billing_address_postalcode", "billing_address_country",
            "phone_office", "assigned_user_name", "email1",
        ]  # fmt: skip
        rows = [
            [f"1b2c3d4e-{c.ext}", c.name, "2026-02-01 08:00", ["Customer", "Prospect",
             "Reseller"][c.kind], "Retail", street_cell(c, i, style="german"), c.city,
             c.postcode, c.country, c.phone, OWNERS[c.owner][0], ""]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout in ("german_csv", "german_xlsx"):
        header = ["Kundennummer", "Firma", "Straße", "PLZ", "Ort", "Land", "Telefon",
                  "Betreuer", "Kundentyp"]  # fmt: skip
        rows = [
            [c.ext, c.name, street_cell(c, i, style="german"), c.postcode, c.city, c.country,
             c.phone, _full(c), _GERMAN_TYPES[c.kind]]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout == "swedish":
        header = ["Kundnummer", "Företagsnamn", "Gatuadress", "Postnummer", "Postort", "Land",
                  "Säljare", "Kundtyp"]  # fmt: skip
        rows = [
            [c.ext, c.name, f"{c.street} {c.housenumber}" + [" lgh 1102", "", ", 3 tr"][i % 3],
             c.postcode, c.city, c.country, OWNERS[c.owner][2], _SWEDISH_TYPES[c.kind]]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout == "french":
        header = ["N° client", "Raison sociale", "Adresse", "Code postal", "Ville", "Pays",
                  "Commercial", "Type de client"]  # fmt: skip
        rows = [
            [c.ext, c.name, street_cell(c, i, style="french"), c.postcode, c.city, c.country,
             _full(c), _FRENCH_TYPES[c.kind]]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    elif layout == "spanish":
        header = ["Empresa", "Dirección", "Código postal", "Ciudad", "País", "Comercial",
                  "Tipo de cliente", "Teléfono"]  # fmt: skip
        rows = [
            [c.name, f"{c.street} {c.housenumber}" + ["", ", 3º izda"][i % 2], c.postcode,
             c.city, c.country, _full(c), _SPANISH_TYPES[c.kind], c.phone]
            for i, c in enumerate(cs)
        ]  # fmt: skip
    else:
        msg = f"unknown layout {layout}"
        raise ValueError(msg)
    return header, rows


#: How each layout's file is written: (suffix, encoding, separator, quote all).
FILE_FORMATS: dict[str, tuple[str, str, str, bool]] = {
    "salesforce_lightning": (".csv", "utf-8", ",", True),
    "salesforce_classic": (".csv", "iso-8859-1", ",", True),
    "salesforce_dataloader": (".csv", "utf-8", ",", True),
    "hubspot_csv": (".csv", "utf-8", ",", False),
    "hubspot_xlsx": (".xlsx", "", "", False),
    "odoo_labels": (".csv", "utf-8", ",", True),
    "odoo_technical": (".csv", "utf-8", ",", True),
    "zoho": (".csv", "utf-8-sig", ",", True),
    "pipedrive": (".csv", "utf-8", ",", False),
    "dynamics_xlsx": (".xlsx", "", "", False),
    "suitecrm": (".csv", "utf-8", ",", True),
    "german_csv": (".csv", "cp1252", ";", False),
    "german_xlsx": (".xlsx", "", "", False),
    "swedish": (".csv", "utf-8", "\t", False),
    "french": (".csv", "cp1252", ";", False),
    "spanish": (".csv", "utf-8-sig", ";", False),
}

CLASSIC_FOOTER = [
    [],
    ['"Kaikki asiakkaat (Accounts)"'],
    ['"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."'],
    ['"Confidential Information - Do Not Distribute"'],
    ['"Generated By:  Maria Virtanen  30.11.2026 10:12"'],
    ['"Esimerkki Oy"'],
]


def write_layout(layout: str, companies: list[Company], folder: Path) -> Path:
    """Write one export file exactly as the system does."""
    header, rows = layout_rows(layout, companies)
    suffix, encoding, sep, quote_all = FILE_FORMATS[layout]
    path = folder / f"{layout}{suffix}"
    if suffix == ".xlsx":
        df = pd.DataFrame(rows, columns=header)
        with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
            df.to_excel(writer, sheet_name="Sheet1" if layout != "dynamics_xlsx" else "Account",
                        index=False)  # fmt: skip
        return path
    buf = io.StringIO()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    csv.writer(buf, delimiter=sep, lineterminator="\r\n", quoting=quoting).writerows(
        [header, *rows]
    )
    text = buf.getvalue()
    if layout == "salesforce_classic":
        text += "\r\n".join(line[0] if line else "" for line in CLASSIC_FOOTER) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path
