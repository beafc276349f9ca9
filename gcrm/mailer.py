"""Campaign e-mail: templates, signed unsubscribe tokens and the SMTP hand-off.

Templates are Jinja2 in a sandbox with ``StrictUndefined`` (a misspelt field
is an error when the campaign is created, not a blank in 500 letters). The
same body renders twice: as the plain-text part (no escaping) and as the HTML
part (autoescaped: a name such as ``<b>Café & Co</b>`` stays text).

Every message carries an unsubscribe link and a ``List-Unsubscribe`` header
holding a token signed with HMAC-SHA256 (:func:`unsubscribe_token`); only the
holder of the key can make one, and :func:`read_unsubscribe_token` rejects
any change to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import secrets
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, NamedTuple

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from gcrm._errors import InputError
from gcrm.settings import Settings, get_settings

#: Fields a template may use.
TEMPLATE_FIELDS: tuple[str, ...] = (
    "name",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "contact_name",
    "unsubscribe_url",
)

_TEXT_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_HTML_ENV = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def check_template(source: str, *, field: str = "body") -> None:
    """Raise :class:`InputError` unless a template parses and uses known fields only.

    Parameters
    ----------
    source
        Jinja2 template text.
    field
        Its name in the message (``subject`` or ``body``).
    """
    sample = dict.fromkeys(TEMPLATE_FIELDS, "x")
    try:
        _TEXT_ENV.from_string(source).render(sample)
    except TemplateError as exc:
        msg = f"{field}: template error: {exc}"
        raise InputError(msg) from exc


def render(subject: str, body: str, fields: Mapping[str, Any]) -> tuple[str, str, str]:
    """Render a message.

    Parameters
    ----------
    subject, body
        Templates.
    fields
        Values of :data:`TEMPLATE_FIELDS` (``None`` renders as empty).

    Returns
    -------
    tuple of str
        ``(subject, text, html)``; the HTML part is escaped and keeps line
        breaks; the unsubscribe link is appended to both parts.
    """
    values = {k: ("" if fields.get(k) is None else fields[k]) for k in TEMPLATE_FIELDS}
    subj = " ".join(_TEXT_ENV.from_string(subject).render(values).split())
    text = _TEXT_ENV.from_string(body).render(values)
    body_html = _HTML_ENV.from_string(body).render(values)
    url = str(values["unsubscribe_url"])
    text += f"\n\n--\nUnsubscribe: {url}\n"
    html_doc = (
        "<html><body><p>"
        + str(body_html).replace("\n", "<br>\n")
        + f'</p><hr><p><a href="{html.escape(url, quote=True)}">Unsubscribe</a></p>'
        + "</body></html>"
    )
    return subj, text, html_doc


def _secret(settings: Settings) -> bytes:
    if settings.campaign_secret is not None:
        return settings.campaign_secret.get_secret_value().encode()
    path = settings.data_dir / "campaign_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeToken(NamedTuple):
    """What a valid unsubscribe token names."""

    campaign_id: int
    account_id: int
    #: The contact person mailed, or ``None`` for the account's own address.
    contact_id: int | None


def unsubscribe_token(campaign_id: int, account_id: int, contact_id: int | None = None) -> str:
    """Return the signed token that unsubscribes one address (from one campaign's mail).

    Parameters
    ----------
    campaign_id, account_id
        Who was mailed in which campaign.
    contact_id
        The contact person mailed (``None``: the account's own address).

    Returns
    -------
    str
        URL-safe ``payload.signature``.
    """
    if contact_id is None:
        payload = f"u1:{int(campaign_id)}:{int(account_id)}".encode()
    else:
        payload = f"u2:{int(campaign_id)}:{int(account_id)}:{int(contact_id)}".encode()
    sig = hmac.new(_secret(get_settings()), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(sig)}"


def read_unsubscribe_token(token: str) -> UnsubscribeToken:
    """Check a token and return what it names.

    Raises
    ------
    InputError
        If the token is malformed or its signature does not match.
    """
    try:
        head, sig = token.strip().split(".", 1)
        payload = _unb64(head)
        given = _unb64(sig)
    except (ValueError, TypeError) as exc:
        msg = "unsubscribe token: malformed"
        raise InputError(msg) from exc
    want = hmac.new(_secret(get_settings()), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(want, given):
        msg = "unsubscribe token: invalid signature"
        raise InputError(msg)
    parts = payload.decode(errors="replace").split(":")
    sizes = {"u1": 3, "u2": 4}
    if sizes.get(parts[0]) != len(parts) or not all(p.isdigit() for p in parts[1:]):
        msg = "unsubscribe token: malformed"
        raise InputError(msg)
    contact = int(parts[3]) if len(parts) == 4 else None
    return UnsubscribeToken(int(parts[1]), int(parts[2]), contact)


def unsubscribe_url(token: str) -> str:
    """Return the link that unsubscribes with a token (the app's ``?unsubscribe=``)."""
    return f"{get_settings().public_url.rstrip('/')}/?unsubscribe={token}"


def build_message(
    *, sender: str, to: str, subject: str, text: str, html_doc: str, message_id: str, token: str
) -> EmailMessage:
    """Return a multipart text+HTML message with its Message-ID and unsubscribe headers."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id
    msg["List-Unsubscribe"] = (
        f"<{unsubscribe_url(token)}>, <mailto:{sender}?subject=unsubscribe%20{token}>"
    )
    msg.set_content(text)
    msg.add_alternative(html_doc, subtype="html")
    return msg


def connect(settings: Settings | None = None) -> smtplib.SMTP:
    """Open an SMTP connection per the settings (TLS and login as configured)."""
    s = settings or get_settings()
    client: smtplib.SMTP
    if s.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
    else:
        client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
        if s.smtp_tls == "starttls":
            client.starttls()
    if s.smtp_user:
        password = s.smtp_password.get_secret_value() if s.smtp_password else ""
        client.login(s.smtp_user, password)
    return client
