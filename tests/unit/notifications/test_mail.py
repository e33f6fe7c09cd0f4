"""Mail: TAPEWORKS_SMTP_URL parsing, messages with text and HTML parts and a page link
(never a token), and sending to a real aiosmtpd server on loopback (plain, STARTTLS with
a password, implicit TLS, server down)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from tapeworks.errors import ConfigError
from tapeworks.notifications.messages import (
    DEFAULT_MAIL_EVENTS,
    MAIL_EVENTS,
    build_message,
    content_for,
)
from tapeworks.notifications.smtp import MailError, SmtpConfig, send_message
from tests.helpers.smtp_server import MailServer, free_port

PUBLIC = "https://tapes.example.org"
SESSION = {"id": "3f2a9c", "title": "Coaching with Ana", "status": "completed",
           "duration_seconds": 3725.4}


# ---------------------------------------------------------------- URL


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.org", dict(host="mail.example.org", port=587, implicit_tls=False,
                                     starttls="auto", username=None, password=None)),
    ("smtp://mail.example.org:25?starttls=never", dict(port=25, starttls="never")),
    ("smtp://me%40example.org:p%3Ass%2Fw@mail.example.org:2525?starttls=always",
     dict(port=2525, starttls="always", username="me@example.org", password="p:ss/w")),
    ("smtps://bot:secret@mail.example.org", dict(port=465, implicit_tls=True,
                                                 starttls="never", username="bot")),
    ("SMTPS://mail.example.org:1465?timeout=5", dict(port=1465, implicit_tls=True,
                                                     timeout=5.0)),
    ("smtp://user:@mail.example.org", dict(username="user", password="")),
])
def test_smtp_urls_parse(url: str, expected: dict[str, object]) -> None:
    config = SmtpConfig.parse(url)
    for key, value in expected.items():
        assert getattr(config, key) == value, key


@pytest.mark.parametrize(("url", "words"), [
    ("http://mail.example.org", "smtp:// or smtps://"),
    ("smtp://", "no host"),
    ("smtp://mail.example.org:notaport", "not a valid URL"),
    ("smtp://mail.example.org?starttls=maybe", "auto, always or never"),
    ("smtps://mail.example.org?starttls=always", "TLS already"),
    ("smtp://mail.example.org?tls=yes", "unknown options: tls"),
    ("smtp://:pw@mail.example.org", "no user name"),
    ("smtp://mail.example.org?timeout=0", "between 0 and 3600"),
])
def test_bad_smtp_urls_say_what_is_wrong_without_the_password(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)) as info:
        SmtpConfig.parse(url)
    assert "pw" not in info.value.message


def test_describe_never_shows_the_password() -> None:
    text = SmtpConfig.parse("smtps://bot:hunter22@mail.example.org").describe()
    assert "hunter22" not in text and "bot@mail.example.org:465" in text


# ---------------------------------------------------------------- messages


def _links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


@pytest.mark.parametrize("event_type", [*MAIL_EVENTS, "webhook.disabled"])
def test_every_mail_has_text_and_html_and_links_only_to_pages(event_type: str) -> None:
    data = {**SESSION, "version": 2, "url": "https://hooks.example.net/x",
            "reason": "HTTP 410", "error": {"stage": "transcribing",
                                            "message": "the recording has no speech"}}
    msg = build_message(event_type, data, to="ana@example.org",
                        mail_from="tapeworks <noreply@tapes.example.org>", public_url=PUBLIC)
    assert msg["To"] == "ana@example.org"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@tapes.example.org>")
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    links = set(_links(text)) | set(_links(markup))
    assert links, "a mail links to its page"
    for link in links:
        assert link.startswith(PUBLIC + "/") or link == "https://hooks.example.net/x"
        assert not re.search(r"token|key|auth|sig|secret", link, re.IGNORECASE), link
    page = content_for(event_type, data, public_url=PUBLIC).link_url
    assert page in text and f'href="{page}"' in markup


def test_completed_session_mail_reads_well() -> None:
    msg = build_message("session.completed", SESSION, to="ana@example.org",
                        mail_from="noreply@tapes.example.org", public_url=PUBLIC + "/",
                        now=datetime(2026, 11, 21, 10, 0, tzinfo=UTC))
    assert msg["Subject"] == "Transcript ready: Coaching with Ana"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Length: 1:02:05." in text
    assert f"{PUBLIC}/sessions/3f2a9c" in text
    assert f"{PUBLIC}/account" in text


def test_titles_cannot_inject_headers_or_markup() -> None:
    data = {"id": "x1", "title": "Evil\r\nBcc: victim@example.org <script>alert(1)</script>"}
    msg = build_message("session.completed", data, to="ana@example.org",
                        mail_from="noreply@tapes.example.org", public_url=PUBLIC)
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"]
    markup = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in markup and "&lt;script&gt;" in markup


def test_failed_mail_says_what_happened() -> None:
    data = {"id": "s9", "title": "Interview", "error": {"stage": "transcribing",
                                                        "message": "the audio is silent"}}
    text = build_message("session.failed", data, to="a@example.org", mail_from="n@example.org",
                         public_url=PUBLIC).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "What happened: the audio is silent" in text


def test_defaults_are_completed_and_failed() -> None:
    assert {"session.completed", "session.failed", "episode.completed",
            "episode.failed"} == DEFAULT_MAIL_EVENTS
    assert "episode.published" in MAIL_EVENTS and "episode.published" not in DEFAULT_MAIL_EVENTS


# ---------------------------------------------------------------- sending


def _msg(to: str = "ana@example.org") -> EmailMessage:
    return build_message("session.completed", SESSION, to=to,
                         mail_from="tapeworks <noreply@tapes.example.org>", public_url=PUBLIC)


def test_a_plain_smtp_server_on_loopback_receives_the_mail(mail_server: MailServer) -> None:
    send_message(SmtpConfig.parse(mail_server.url + "?starttls=never"), _msg())
    (got,) = mail_server.wait_for(1)
    assert got.rcpt_tos == ["ana@example.org"]
    assert got.mail_from == "noreply@tapes.example.org"
    assert got.message["Subject"] == "Transcript ready: Coaching with Ana"
    assert got.message.get_body(("html",)) is not None
    assert f"{PUBLIC}/sessions/3f2a9c" in got.message.get_body(("plain",)).get_content()


def test_auto_starttls_with_a_password(tmp_path: object) -> None:
    server = MailServer(tls="starttls", users={"bot@tapes": "s3cret pw"}).start()
    try:
        config = SmtpConfig.parse(f"smtp://bot%40tapes:s3cret%20pw@127.0.0.1:{server.port}")
        send_message(config, _msg(), ssl_context=server.client_context())
        (got,) = server.wait_for(1)
        assert server.logins == [("bot@tapes", "s3cret pw")]
        assert got.login == "bot@tapes"
    finally:
        server.stop()


def test_a_password_is_never_sent_without_tls() -> None:
    server = MailServer(users={"bot": "pw"}, auth_require_tls=False).start()
    try:
        config = SmtpConfig.parse(f"smtp://bot:pw@127.0.0.1:{server.port}")
        with pytest.raises(MailError, match="does not offer STARTTLS") as info:
            send_message(config, _msg())
        assert server.logins == [] and server.received == []
        assert "pw" not in info.value.message.replace("password", "")
        # the operator can allow it explicitly (a relay on the same machine)
        allowed = SmtpConfig.parse(f"smtp://bot:pw@127.0.0.1:{server.port}?starttls=never")
        send_message(allowed, _msg())
        assert server.logins == [("bot", "pw")]
        server.wait_for(1)
    finally:
        server.stop()


def test_a_wrong_password_is_a_temporary_error_naming_no_password() -> None:
    server = MailServer(tls="starttls", users={"bot": "right"}).start()
    try:
        with pytest.raises(MailError, match="refused the user name or password") as info:
            send_message(SmtpConfig.parse(f"smtp://bot:wrong@127.0.0.1:{server.port}"), _msg(),
                         ssl_context=server.client_context())
        assert info.value.temporary and "wrong" not in info.value.message
    finally:
        server.stop()


def test_implicit_tls() -> None:
    # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from the start
    server = MailServer(tls="implicit", users={"bot": "pw"}, auth_require_tls=False).start()
    try:
        send_message(SmtpConfig.parse(f"smtps://bot:pw@127.0.0.1:{server.port}"), _msg(),
                     ssl_context=server.client_context())
        server.wait_for(1)
        assert server.logins == [("bot", "pw")]
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused() -> None:
    server = MailServer(tls="implicit").start()
    try:
        with pytest.raises(MailError, match="TLS handshake") as info:
            send_message(SmtpConfig.parse(f"smtps://127.0.0.1:{server.port}"), _msg())
        assert info.value.temporary and server.received == []
    finally:
        server.stop()


def test_server_down_is_temporary_and_the_mail_arrives_once_it_is_up() -> None:
    port = free_port()
    config = SmtpConfig.parse(f"smtp://127.0.0.1:{port}?timeout=5")
    with pytest.raises(MailError, match="could not connect") as info:
        send_message(config, _msg())
    assert info.value.temporary
    server = MailServer(port=port).start()
    try:
        send_message(config, _msg())
        server.wait_for(1)
    finally:
        server.stop()


def test_a_refused_recipient_is_permanent() -> None:
    server = MailServer().start()
    try:
        handler = server._controller.handler  # type: ignore[union-attr]

        async def handle_RCPT(srv: object, session: object, envelope: object, address: str,
                              options: object) -> str:
            return "550 5.1.1 no such user"

        handler.handle_RCPT = handle_RCPT
        with pytest.raises(MailError, match="refused the recipient") as info:
            send_message(SmtpConfig.parse(server.url), _msg("nobody@example.org"))
        assert not info.value.temporary
    finally:
        server.stop()
