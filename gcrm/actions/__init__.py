"""What each page of the app does, one call per action.

Pages in ``views/`` never open a database session: they call these
functions with the logged-in :class:`~gcrm.auth.Actor`. Each function runs in
one transaction of its own (committed on success, rolled back on error) and
returns plain values, frames or detached ORM rows with their attributes
loaded. The rules live in :mod:`gcrm.store`, :mod:`gcrm.auth` and the
capability modules; these functions only open the session around them.

One module per page: :mod:`.accounts`, :mod:`.admin`, :mod:`.imports`,
:mod:`.my_day`, :mod:`.profile` (logging in, one's own password),
:mod:`.prospect_map`, :mod:`.reports` and :mod:`.territories`
(:mod:`gcrm.campaign_actions` and :mod:`gcrm.visit_plan` do the same for
the Campaigns and Visit plan pages).
"""
