"""The unsubscribe link of campaign e-mail (``?unsubscribe=TOKEN``), before any login.

Whoever holds the link (the person mailed) turns their marketing consent off
without an account in the app; the token is signed, so a changed or made-up
one is refused and changes nothing. :func:`gcrm.campaigns.unsubscribe` does
the work (audited); this page only says what happened, in plain words.
"""

from __future__ import annotations

import streamlit as st

from gcrm import campaign_actions as actions
from gcrm._errors import InputError, NotFoundError


def handle_unsubscribe() -> bool:
    """Answer an unsubscribe link if the URL carries one.

    Returns
    -------
    bool
        ``True`` if the request was an unsubscribe (the caller stops there).
    """
    token = st.query_params.get("unsubscribe")
    if token is None:
        return False
    st.title("Unsubscribe")
    try:
        result = actions.unsubscribe_link(token)
    except InputError:
        st.error(
            "This unsubscribe link is not valid: it may have been cut short or changed. "
            "Nothing was changed. Please open the whole link from the e-mail again, "
            "or reply to the e-mail and ask to be unsubscribed."
        )
        return True
    except NotFoundError:
        st.warning("This address is no longer in our records: there is nothing to unsubscribe.")
        return True
    if result["changed"]:
        st.success(
            "You are unsubscribed. This address will receive no more marketing e-mail from us."
        )
    else:
        st.info("This address was already unsubscribed. You will receive no marketing e-mail.")
    st.caption("You can close this page.")
    return True
