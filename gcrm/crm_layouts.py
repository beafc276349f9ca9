"""The column names and value vocabularies of other CRMs' account exports.

A team adopts gcrm by exporting its accounts from the CRM it has; this module
knows how those files name their columns and what their type and stage
values mean, so that such a file imports as it is, without a mapping file.

Covered: Salesforce (Lightning and Classic report labels, ``Billing *``, Data
Loader API names), HubSpot, Odoo (labels and technical names), Zoho CRM,
Pipedrive, Microsoft Dynamics 365, SuiteCRM, and common Finnish, German,
Swedish, French and Spanish column names. Headers are compared in the
normalised form of :func:`norm_header`.

The vocabularies are data: :data:`LAYOUT_HEADERS` (canonical column → header
spellings, best first), :data:`KIND_VALUES` and :data:`STAGE_VALUES` (value →
our kind and stage).
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Import columns that are read but not stored as such: a whole address in
#: one cell, extra address lines, Odoo's "Is a Company" flag and a contact
#: person's company.
AUXILIARY_COLUMNS: tuple[str, ...] = ("full_address", "address_extra", "is_company", "parent_name")

#: Header spellings of each import column in other systems' exports, best
#: first. Within one file, a column matched by an earlier spelling wins over
#: one matched by a later spelling; the loser is reported as ignored.
LAYOUT_HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "external_id",
        "account_id",  # Salesforce report
        "id",  # Salesforce Data Loader, SuiteCRM, Odoo import-compatible
        "record_id",  # HubSpot, Zoho
        "do_not_modify_account",  # Dynamics 365 Excel export
        "accountid",
        "organization_id",  # Pipedrive
        "customer_id",
        "customer_number",
        "account_number",
        "accountnumber",
        "ext_id",
        "crm_id",
        "kundennummer",
        "kundennr",
        "kunden_nr",
        "asiakasnumero",
        "kundnummer",
        "numero_client",
        "numero_de_cliente",
        "n_client",
    ),
    "name": (
        "name",
        "account_name",
        "company_name",
        "company",
        "organization_name",
        "organisation_name",
        "display_name",
        "business",
        "business_name",
        "nimi",
        "yritys",
        "yrityksen_nimi",
        "firma",
        "firmenname",
        "unternehmen",
        "foretag",
        "foretagsnamn",
        "societe",
        "entreprise",
        "raison_sociale",
        "nom",
        "empresa",
        "razon_social",
        "nombre",
    ),
    "kind": (
        "kind",
        "type",
        "account_type",
        "relationship_type",  # Dynamics 365
        "customertypecode",
        "status_type",
        "kundentyp",
        "kundenart",
        "asiakastyyppi",
        "kundtyp",
        "type_de_client",
        "tipo",
        "tipo_de_cliente",
    ),
    "stage": (
        "stage",
        "lifecycle_stage",  # HubSpot
        "lifecyclestage",
        "pipeline_stage",
        "lead_status",
        "hs_lead_status",
        "status",
        "pipeline",
        "stufe",
        "vaihe",
        "etapp",
        "etape",
        "etapa",
        "estado",
    ),
    "segment": (
        "segment",
        "industry",
        "category",
        "sector",
        "label",  # Pipedrive
        "tags",
        "branche",
        "toimiala",
        "bransch",
        "secteur",
        "secteur_d_activite",
        "sector_de_actividad",
    ),
    "street": (
        "street",
        "billing_street",  # Salesforce, Zoho, SuiteCRM
        "billingstreet",
        "billing_address_street",
        "street_address",  # HubSpot
        "address",
        "address_1_street_1",  # Dynamics 365
        "address1_line1",
        "street_road_name_of_address",  # Pipedrive
        "address_street_road_name",
        "address_street",
        "street_name",
        "address_line_1",
        "addr_street",
        "strasse",
        "str",
        "anschrift",
        "adresse",
        "katu",
        "katuosoite",
        "osoite",
        "gatuadress",
        "adress",
        "rue",
        "adresse_1",
        "calle",
        "direccion",
        "domicilio",
    ),
    "address_extra": (
        "address_extra",
        "street_address_2",  # HubSpot
        "street2",  # Odoo
        "address_1_street_2",  # Dynamics 365
        "address1_line2",
        "address_line_2",
        "apartment_suite_no_of_address",  # Pipedrive
        "address_apartment_suite_no",
        "adresszusatz",
        "complement_d_adresse",
        "adresse_2",
        "c_o",
    ),
    "housenumber": (
        "housenumber",
        "house_number",
        "house_number_of_address",  # Pipedrive
        "address_house_number",
        "street_number",
        "number",
        "no",
        "nr",
        "addr_housenumber",
        "hausnummer",
        "hausnr",
        "talonnumero",
        "gatunummer",
        "numero",
        "numero_de_rue",
    ),
    "postcode": (
        "postcode",
        "billing_zip_postal_code",  # Salesforce report
        "billingpostalcode",
        "billing_postal_code",
        "billing_code",  # Zoho
        "billing_address_postalcode",  # SuiteCRM
        "postal_code",  # HubSpot
        "zip",  # Odoo
        "address_1_zip_postal_code",  # Dynamics 365
        "address1_postalcode",
        "zip_postal_code_of_address",  # Pipedrive
        "address_zip_postal_code",
        "zipcode",
        "zip_code",
        "post_code",
        "plz",
        "postleitzahl",
        "postinumero",
        "postnummer",
        "postnr",
        "code_postal",
        "cp",
        "codigo_postal",
    ),
    "city": (
        "city",
        "billing_city",
        "billingcity",
        "billing_address_city",
        "address_1_city",
        "address1_city",
        "city_town_village_locality_of_address",  # Pipedrive
        "address_city_town_village_locality",
        "town",
        "municipality",
        "locality",
        "ort",
        "stadt",
        "kaupunki",
        "postitoimipaikka",
        "kunta",
        "postort",
        "stad",
        "ville",
        "commune",
        "ciudad",
        "poblacion",
        "localidad",
        "municipio",
    ),
    "country": (
        "country",
        "billing_country",
        "billingcountry",
        "billing_address_country",
        "country_region",  # HubSpot
        "address_1_country_region",
        "address1_country",
        "country_of_address",
        "address_country",
        "country_code",
        "maa",
        "land",
        "pays",
        "pais",
    ),
    "lat": (
        "lat",
        "latitude",
        "billing_latitude",
        "billinglatitude",
        "address_1_latitude",
        "address1_latitude",
        "latitude_of_address",
        "breitengrad",
        "leveysaste",
        "y",
    ),
    "lon": (
        "lon",
        "longitude",
        "billing_longitude",
        "billinglongitude",
        "address_1_longitude",
        "address1_longitude",
        "longitude_of_address",
        "lng",
        "long",
        "langengrad",
        "pituusaste",
        "x",
    ),
    "contact_name": (
        "contact_name",
        "primary_contact",  # Dynamics 365
        "contact",
        "contact_person",
        "person",
        "ansprechpartner",
        "kontaktperson",
        "yhteyshenkilo",
        "interlocuteur",
        "persona_de_contacto",
        "contacto",
    ),
    "contact_email": ("contact_email",),
    "contact_phone": ("contact_phone",),
    "email": (
        "email",
        "e_mail",
        "email_address",
        "emailaddress1",
        "email1",
        "mail",
        "sahkoposti",
        "e_post",
        "epost",
        "courriel",
        "correo",
        "correo_electronico",
    ),
    "phone": (
        "phone",
        "phone_number",  # HubSpot
        "main_phone",  # Dynamics 365
        "telephone1",
        "office_phone",  # SuiteCRM
        "phone_office",
        "telephone",
        "tel",
        "mobile",
        "puhelin",
        "telefon",
        "telefono",
    ),
    "potential_value": (
        "potential_value",
        "potential",
        "value",
        "deal_value",
        "opportunity_value",
        "potenzial",
    ),
    "annual_revenue": (
        "annual_revenue",
        "annualrevenue",
        "revenue",
        "turnover",
        "liikevaihto",
        "umsatz",
        "jahresumsatz",
        "omsattning",
        "chiffre_d_affaires",
        "facturacion",
        "ingresos_anuales",
    ),
    "opening_hours": ("opening_hours", "hours", "opening_times", "aukioloajat", "offnungszeiten"),
    "visit_minutes": (
        "visit_minutes",
        "visit_duration",
        "visit_duration_min",
        "duration",
        "service_minutes",
    ),
    "visit_every_days": (
        "visit_every_days",
        "visit_frequency",
        "visit_frequency_days",
        "frequency_days",
    ),
    "owner": (
        "owner",
        "account_owner",  # Salesforce report, Zoho
        "ownerid",  # Data Loader
        "owner_id",
        "company_owner",  # HubSpot
        "hubspot_owner",
        "salesperson",  # Odoo
        "user_id",
        "assigned_user_name",  # SuiteCRM
        "assigned_to",
        "owner_name",
        "rep",
        "sales_rep",
        "owner_username",
        "betreuer",
        "vertriebsmitarbeiter",
        "verantwortlich",
        "myyja",
        "vastuuhenkilo",
        "saljare",
        "ansvarig",
        "commercial",
        "proprietaire",
        "responsable",
        "comercial",
        "propietario",
    ),
    "do_not_contact": ("do_not_contact", "dnc", "donotcontact", "no_contact", "opt_out"),
    "marketing_consent": ("marketing_consent", "consent", "marketing_opt_in", "opt_in"),
    "last_visit": ("last_visit", "last_visited", "last_visit_date", "last_contact"),
    "full_address": (
        "full_address",
        "billing_address",  # Salesforce Lightning report (compound)
        "full_combined_address_of_address",  # Pipedrive
        "address_full_combined_address",
        "address_1",
        "composite_address",
        "postal_address",
        "postiosoite",
        "postanschrift",
        "adresse_complete",
        "direccion_completa",
    ),
    "is_company": ("is_company", "is_a_company"),  # Odoo
    "parent_name": ("related_company", "parent_id", "parent_company"),  # Odoo
}

#: Prefixes a system puts before every header (Pipedrive: "Organization - Name").
_PREFIXES = ("organization_", "organisation_", "account_address_")

_SEPARATORS = re.compile(r"[\s\-./:\\()'’&,]+")
_JUNK = re.compile(r"[^a-z0-9_]")


@functools.lru_cache(maxsize=4096)
def norm_header(text: str) -> str:
    """Return the comparable form of a header.

    ``"Billing Zip/Postal Code"`` becomes ``billing_zip_postal_code``.

    Parameters
    ----------
    text
        A header cell.

    Returns
    -------
    str
        Lower case ASCII, accents stripped (``ß`` → ``ss``), runs of spaces
        and punctuation turned into one ``_``.
    """
    t = str(text).replace("ß", "ss").replace("ẞ", "ss")
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode()
    t = _SEPARATORS.sub("_", t.strip().lower())
    return _JUNK.sub("", t).strip("_")


def _build_lookup() -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for canon, spellings in LAYOUT_HEADERS.items():
        out.setdefault(canon, (canon, 0))
        for rank, s in enumerate(spellings):
            out.setdefault(norm_header(s), (canon, rank))
    return out


_LOOKUP = _build_lookup()


def match_header(header: str) -> tuple[str, int] | None:
    """Return the import column a header names and its rank (0 = best spelling).

    Parameters
    ----------
    header
        A header cell as written in the file.

    Returns
    -------
    tuple of (str, int) or None
        ``None`` when no known system uses this header.
    """
    key = norm_header(header)
    hit = _LOOKUP.get(key)
    if hit is not None:
        return hit
    for prefix in _PREFIXES:  # "Organization - Name", "Organization - Address"
        if key.startswith(prefix) and key[len(prefix) :] in _LOOKUP:
            return _LOOKUP[key[len(prefix) :]]
    return None


# ------------------------------------------------------------------ values

_K, _P, _L = "customer", "prospect", "lead"

#: Account type / lifecycle values → (kind, stage); ``None`` leaves that field
#: to the file's own column or the default. Keys in :func:`norm_value` form.
KIND_VALUES: dict[str, tuple[str | None, str | None]] = {
    # ours
    "customer": (_K, None),
    "prospect": (_P, None),
    "lead": (_L, None),
    # Salesforce account types
    "customer_direct": (_K, None),
    "customer_channel": (_K, None),
    # HubSpot lifecycle stages (internal and label forms) and company types
    "subscriber": (_L, "new"),
    "marketingqualifiedlead": (_L, "contacted"),
    "marketing_qualified_lead": (_L, "contacted"),
    "salesqualifiedlead": (_P, "qualified"),
    "sales_qualified_lead": (_P, "qualified"),
    "opportunity": (_P, "proposal"),
    "evangelist": (_K, "won"),
    # Zoho, SuiteCRM, Dynamics 365 plain values are covered by the above
    "client": (_K, None),
    "clients": (_K, None),
    "customers": (_K, None),
    "prospects": (_P, None),
    "existing_customer": (_K, None),
    "potential_customer": (_P, None),
    # German, Finnish, Swedish, French, Spanish
    "kunde": (_K, None),
    "bestandskunde": (_K, None),
    "interessent": (_P, None),
    "neukunde": (_P, None),
    "asiakas": (_K, None),
    "prospekti": (_P, None),
    "liidi": (_L, None),
    "kund": (_K, None),
    "prospekt": (_P, None),
    "piste": (_L, None),
    "cliente": (_K, None),
    "prospecto": (_P, None),
    "cliente_potencial": (_P, None),
}

#: Stage / lead status values → (stage, kind).
STAGE_VALUES: dict[str, tuple[str | None, str | None]] = {
    "new": ("new", None),
    "contacted": ("contacted", None),
    "qualified": ("qualified", None),
    "proposal": ("proposal", None),
    "negotiation": ("negotiation", None),
    "won": ("won", None),
    "lost": ("lost", None),
    # HubSpot lifecycle stages (when the file has a separate type column)
    "subscriber": ("new", _L),
    "lead": ("new", _L),
    "marketingqualifiedlead": ("contacted", _L),
    "marketing_qualified_lead": ("contacted", _L),
    "salesqualifiedlead": ("qualified", _P),
    "sales_qualified_lead": ("qualified", _P),
    "opportunity": ("proposal", _P),
    "customer": ("won", _K),
    "evangelist": ("won", _K),
    # HubSpot lead status
    "open": ("new", None),
    "in_progress": ("contacted", None),
    "attempted_to_contact": ("contacted", None),
    "connected": ("contacted", None),
    "open_deal": ("proposal", None),
    "unqualified": ("lost", None),
    "bad_timing": ("lost", None),
    # Salesforce opportunity stages
    "prospecting": ("new", None),
    "qualification": ("qualified", None),
    "needs_analysis": ("qualified", None),
    "value_proposition": ("proposal", None),
    "id_decision_makers": ("proposal", None),
    "perception_analysis": ("proposal", None),
    "proposal_price_quote": ("proposal", None),
    "negotiation_review": ("negotiation", None),
    "closed_won": ("won", None),
    "closed_lost": ("lost", None),
    # German, Finnish, Swedish, French, Spanish
    "neu": ("new", None),
    "kontaktiert": ("contacted", None),
    "qualifiziert": ("qualified", None),
    "angebot": ("proposal", None),
    "verhandlung": ("negotiation", None),
    "gewonnen": ("won", None),
    "verloren": ("lost", None),
    "uusi": ("new", None),
    "kontaktoitu": ("contacted", None),
    "tarjous": ("proposal", None),
    "neuvottelu": ("negotiation", None),
    "voitettu": ("won", None),
    "menetetty": ("lost", None),
    "ny": ("new", None),
    "kontaktad": ("contacted", None),
    "kvalificerad": ("qualified", None),
    "offert": ("proposal", None),
    "forhandling": ("negotiation", None),
    "vunnen": ("won", None),
    "forlorad": ("lost", None),
    "nouveau": ("new", None),
    "contacte": ("contacted", None),
    "qualifie": ("qualified", None),
    "proposition": ("proposal", None),
    "negociation": ("negotiation", None),
    "gagne": ("won", None),
    "perdu": ("lost", None),
    "nuevo": ("new", None),
    "contactado": ("contacted", None),
    "cualificado": ("qualified", None),
    "calificado": ("qualified", None),
    "propuesta": ("proposal", None),
    "negociacion": ("negotiation", None),
    "ganado": ("won", None),
    "perdido": ("lost", None),
}


def norm_value(text: str) -> str:
    """Return the comparable form of a type or stage value.

    ``"Customer - Direct"`` becomes ``customer_direct``.

    Parameters
    ----------
    text
        A cell.

    Returns
    -------
    str
        As :func:`norm_header`.
    """
    return norm_header(text)


def map_kind(text: str) -> tuple[str | None, str | None] | None:
    """Map an account type or lifecycle value to ``(kind, stage)``.

    Parameters
    ----------
    text
        The cell.

    Returns
    -------
    tuple or None
        ``None`` when the value is unknown (the caller keeps it as given and
        warns).
    """
    return KIND_VALUES.get(norm_value(text))


def map_stage(text: str) -> tuple[str | None, str | None] | None:
    """Map a stage, lifecycle or lead status value to ``(stage, kind)``.

    Parameters
    ----------
    text
        The cell.

    Returns
    -------
    tuple or None
        ``None`` when the value is unknown.
    """
    return STAGE_VALUES.get(norm_value(text))


_TRUE = frozenset({"1", "true", "yes", "y", "x", "t", "on", "kylla", "ja", "oui", "si", "wahr"})


def is_true(text: str) -> bool:
    """Whether a yes/no cell (Odoo's ``Is a Company``: ``True``/``1``) says yes.

    Parameters
    ----------
    text
        The cell.

    Returns
    -------
    bool
        ``False`` for anything not clearly yes.
    """
    return norm_value(text) in _TRUE
