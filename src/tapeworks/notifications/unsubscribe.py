"""One-click unsubscribe (RFC 8058) for the mails a user chose: each mail names a link
that stops that one kind of mail, with nothing else it can do.

The link's token is signed with the service's secret key and names the user and the
event type; it carries no login and works without one. Mail clients POST
`List-Unsubscribe=One-Click` to it; a person opening it in a browser gets a page with a
button (a GET never changes anything, so link scanners cannot unsubscribe anyone).
Notices about the user's own integrations are not a choice and carry no such link.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session as DbSession

from tapeworks.notifications import service
from tapeworks.notifications.messages import MAIL_EVENTS

_SALT = "tapeworks.mail.unsubscribe"

# What each choice is called on the pages (the account page's words).
EVENT_LABELS: dict[str, str] = {
    "session.completed": "a transcript is ready",
    "session.failed": "a transcription failed",
    "episode.completed": "an episode is ready",
    "episode.failed": "an episode could not be produced",
    "episode.published": "an episode is published",
}


@dataclass(frozen=True)
class Unsubscribe:
    user_id: str
    event_type: str

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self.event_type, self.event_type)


def make_token(secret: str, user_id: str, event_type: str) -> str:
    return URLSafeSerializer(secret, salt=_SALT).dumps([user_id, event_type])


def read_token(secret: str, token: str) -> Unsubscribe | None:
    """The user and the mail the token stops, or None for anything not made by us."""
    try:
        value = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, str) for v in value) or value[1] not in MAIL_EVENTS):
        return None
    return Unsubscribe(value[0], value[1])


def url_for(public_url: str, secret: str, user_id: str, event_type: str) -> str | None:
    """The link a mail about `event_type` carries; None for a notice that is not a choice."""
    if event_type not in MAIL_EVENTS:
        return None
    return f"{public_url.rstrip('/')}/unsubscribe/{make_token(secret, user_id, event_type)}"


def apply(db: DbSession, u: Unsubscribe) -> bool:
    """Stop that mail for that user; False when the account is gone. Doing it twice is
    the same as once."""
    from tapeworks.users.models import User

    if db.get(User, u.user_id) is None:
        return False
    chosen = service.mail_events(db, u.user_id)
    service.set_mail_events(db, u.user_id, [e for e in chosen if e != u.event_type])
    return True
