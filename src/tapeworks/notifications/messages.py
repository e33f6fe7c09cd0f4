"""The mail a user gets for an event: plain text and HTML, a link to the page, no token.

A mail is built from the same event (type and data) a webhook receives, so both say the
same thing. Links are built here from ids and the service's public URL, to pages that
ask the reader to sign in as usual: a mail never carries a login token, a share token or
an API link with credentials.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

# Events a user can choose to be mailed about, and those on by default.
MAIL_EVENTS: tuple[str, ...] = (
    "session.completed", "session.failed", "episode.completed", "episode.failed",
    "episode.published",
)
DEFAULT_MAIL_EVENTS: frozenset[str] = frozenset(
    {"session.completed", "session.failed", "episode.completed", "episode.failed"}
)
# Notices to an owner that are not a choice (their integration stopped working).
OWNER_NOTICES: tuple[str, ...] = ("webhook.disabled",)

_TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
FOOTER = "You get this mail because of your notification choices. Change them on your account page:"


@dataclass(frozen=True)
class MailContent:
    subject: str
    heading: str
    lines: tuple[str, ...]
    link_url: str
    link_text: str


def _clean(text: object, limit: int = 200) -> str:
    """One line of the user's own text: control characters (CR, LF...) become spaces."""
    s = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(text))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _minutes(seconds: object) -> str | None:
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if value != value or value < 0:
        return None
    total = round(value)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _failed(subject: str, heading: str, error_message: str, link_url: str,
            link_text: str) -> MailContent:
    """A job that failed: what happened (when known) and where to try again."""
    return MailContent(
        subject=subject,
        heading=heading,
        lines=tuple(x for x in (
            error_message and f"What happened: {error_message}",
            "You can try again from its page.",
        ) if x),
        link_url=link_url, link_text=link_text,
    )


def content_for(event_type: str, data: Mapping[str, Any], *, public_url: str) -> MailContent:
    """Subject, text and page link for one event, from the event's data."""
    base = public_url.rstrip("/")
    title = _clean(data.get("title") or "Untitled")
    error = data.get("error") or {}
    error_message = _clean(error.get("message") if isinstance(error, Mapping) else error, 500)
    if event_type == "session.completed":
        length = _minutes(data.get("duration_seconds"))
        return MailContent(
            subject=f"Transcript ready: {title}",
            heading=f"The transcript of “{title}” is ready",
            lines=tuple(x for x in (
                f"Length: {length}." if length else None,
                "Read it, correct it and export it on its page.",
            ) if x),
            link_url=f"{base}/sessions/{data['id']}", link_text="Open the transcript",
        )
    if event_type == "session.failed":
        return _failed(f"Transcription failed: {title}", f"“{title}” could not be transcribed",
                       error_message, f"{base}/sessions/{data['id']}", "Open the recording")
    if event_type == "episode.completed":
        version = data.get("version")
        return MailContent(
            subject=f"Episode ready: {title}",
            heading=f"The episode “{title}” is ready"
                    + (f" (version {version})" if version and version != 1 else ""),
            lines=("Listen to it, check what was cut and download it on its page.",),
            link_url=f"{base}/episodes/{data['id']}", link_text="Open the episode",
        )
    if event_type == "episode.failed":
        return _failed(f"Episode failed: {title}", f"The episode “{title}” could not be produced",
                       error_message, f"{base}/episodes/{data['id']}", "Open the episode")
    if event_type == "episode.published":
        return MailContent(
            subject=f"Published: {title}",
            heading=f"“{title}” is now published",
            lines=("It is visible in its show's feed.",),
            link_url=f"{base}/episodes/{data['id']}", link_text="Open the episode",
        )
    if event_type == "webhook.disabled":
        url = _clean(data.get("url") or "", 300)
        return MailContent(
            subject="A webhook endpoint was disabled",
            heading="A webhook endpoint was disabled",
            lines=tuple(x for x in (
                f"Endpoint: {url}" if url else None,
                f"Why: {_clean(data.get('reason') or 'it kept failing', 500)}",
                "No more events are sent to it. Fix the receiver, then enable it again on "
                "the webhooks page; you can redeliver the events it missed from its log.",
            ) if x),
            link_url=f"{base}/webhooks", link_text="Open the webhooks page",
        )
    raise ValueError(f"no mail is written for {event_type!r}")


def build_message(
    event_type: str,
    data: Mapping[str, Any],
    *,
    to: str,
    mail_from: str,
    public_url: str,
    now: datetime | None = None,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """The complete message: headers, a plain-text part and an HTML alternative. With
    `unsubscribe_url`, the one-click headers of RFC 8058 and a line in the footer."""
    content = content_for(event_type, data, public_url=public_url)
    account_url = f"{public_url.rstrip('/')}/account"
    values = {**content.__dict__, "footer": FOOTER, "account_url": account_url,
              "unsubscribe_url": unsubscribe_url}
    msg = EmailMessage()
    msg["Subject"] = content.subject
    msg["From"] = mail_from
    msg["To"] = to
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=_safe_domain(domain))
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(_ENV.get_template("event.txt.j2").render(values))
    msg.add_alternative(_ENV.get_template("event.html.j2").render(values), subtype="html")
    return msg


def _safe_domain(domain: str) -> str:
    try:
        Address(addr_spec=f"x@{domain}")
    except (ValueError, IndexError):
        return "localhost"
    return domain
