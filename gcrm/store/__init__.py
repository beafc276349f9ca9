"""The store: the only place that queries the database.

Every function takes an open :class:`~sqlalchemy.orm.Session` and the acting
user (:class:`gcrm.auth.Actor`) and applies that user's scope, so the UI and
the CLI never see a record outside it. Geometry-bearing results come back as
GeoDataFrames in EPSG:4326.

The store is a package with one module per concern; callers use the names
re-exported here (``from gcrm import store; store.accounts_frame(...)``).

- :mod:`~gcrm.store.scope`: :class:`AccountFilter` and the scoped base query.
- :mod:`~gcrm.store.accounts`: account reads, aggregates and edits.
- :mod:`~gcrm.store.visits`: interactions, check-ins, contacts, an account's detail.
- :mod:`~gcrm.store.users`: users, regions, reps' home bases.
- :mod:`~gcrm.store.territories`: territories and the accounts' territory.
- :mod:`~gcrm.store.plans`: saved day plans and call cycles.
- :mod:`~gcrm.store.report_stats`: the report figures' aggregates.
- :mod:`~gcrm.store.consent`: the contact rules, audiences, recipients, unsubscribes.
- :mod:`~gcrm.store.imports`: the importer's reads and bulk writes.
- :mod:`~gcrm.store.audit_log`: the audit log.
- :mod:`~gcrm.store.erasure`: right to erasure and subject access.

"""

from __future__ import annotations

from gcrm.store.accounts import (
    EDITABLE_FIELDS,
    SORTS,
    account_cells,
    account_group_stats,
    account_ids_by_external,
    account_personal_fields,
    accounts_extent,
    accounts_frame,
    accounts_page,
    accounts_value,
    count_accounts,
    facets,
    get_account,
    list_accounts,
    set_manual_pin,
    update_account,
)
from gcrm.store.audit_log import audit, audit_frame
from gcrm.store.consent import (
    AUDIENCE_COLUMNS,
    CHANNELS,
    MARKETING_CHANNELS,
    RECIPIENT_COLUMNS,
    audience_frame,
    contact_person_rule,
    contact_rule,
    current_recipient,
    email_recipients_frame,
    reachable_ids,
    withdraw_contact_consent,
    withdraw_marketing_consent,
)
from gcrm.store.erasure import erase_account, erase_contact, subject_access
from gcrm.store.imports import (
    import_account_ids,
    import_account_text,
    import_accounts_by_external_id,
    import_address_rows,
    import_company_external_id,
    import_external_ids,
    import_insert_accounts,
    import_link_duplicates,
    import_refresh_statistics,
    import_territories,
    import_update_accounts,
    import_upsert_contacts,
    import_user_names,
)
from gcrm.store.plans import save_cycle_plan, save_plan, saved_cycles, saved_plans_frame
from gcrm.store.report_stats import (
    report_groups,
    report_last_activity,
    report_sample,
    report_visits,
)
from gcrm.store.scope import ACCOUNT_COLUMNS, AccountFilter, point_geometry
from gcrm.store.territories import (
    region_geometry,
    save_territories,
    set_account_territories,
    set_territory_owner,
    territories_frame,
)
from gcrm.store.users import get_user, list_users, regions, rep_home_bases
from gcrm.store.visits import (
    STANDARD_OUTCOMES,
    account_detail,
    checkins_frame,
    contacts_of,
    interactions_frame,
    log_interaction,
    record_checkin,
)

__all__ = [
    "ACCOUNT_COLUMNS",
    "AUDIENCE_COLUMNS",
    "CHANNELS",
    "EDITABLE_FIELDS",
    "MARKETING_CHANNELS",
    "RECIPIENT_COLUMNS",
    "SORTS",
    "STANDARD_OUTCOMES",
    "AccountFilter",
    "account_cells",
    "account_detail",
    "account_group_stats",
    "account_ids_by_external",
    "account_personal_fields",
    "accounts_extent",
    "accounts_frame",
    "accounts_page",
    "accounts_value",
    "audience_frame",
    "audit",
    "audit_frame",
    "checkins_frame",
    "contact_person_rule",
    "contact_rule",
    "contacts_of",
    "count_accounts",
    "current_recipient",
    "email_recipients_frame",
    "erase_account",
    "erase_contact",
    "facets",
    "get_account",
    "get_user",
    "import_account_ids",
    "import_account_text",
    "import_accounts_by_external_id",
    "import_address_rows",
    "import_company_external_id",
    "import_external_ids",
    "import_insert_accounts",
    "import_link_duplicates",
    "import_refresh_statistics",
    "import_territories",
    "import_update_accounts",
    "import_upsert_contacts",
    "import_user_names",
    "interactions_frame",
    "list_accounts",
    "list_users",
    "log_interaction",
    "point_geometry",
    "reachable_ids",
    "record_checkin",
    "region_geometry",
    "regions",
    "rep_home_bases",
    "report_groups",
    "report_last_activity",
    "report_sample",
    "report_visits",
    "save_cycle_plan",
    "save_plan",
    "save_territories",
    "saved_cycles",
    "saved_plans_frame",
    "set_account_territories",
    "set_manual_pin",
    "set_territory_owner",
    "subject_access",
    "territories_frame",
    "update_account",
    "withdraw_contact_consent",
    "withdraw_marketing_consent",
]
