"""Sending mail: `TAPEWORKS_SMTP_URL` parsed once, one message per connection (smtplib).

URL forms (user name and password percent-encoded, e.g. ``me%40example.com``):

* ``smtps://user:password@host[:465]``: TLS from the first byte (implicit TLS).
* ``smtp://[user:password@]host[:587][?starttls=auto|always|never]``: plain SMTP upgraded
  with STARTTLS. ``auto`` (the default) uses STARTTLS when the server offers it and,
  when the URL carries a password, refuses to send it over an unencrypted connection;
  ``always`` requires it; ``never`` never upgrades (a relay on localhost).

Every failure is a `MailError` saying whether trying again later can help (`temporary`):
a server that is down, slow, or answers 4xx is temporary; a 5xx refusal of the sender or
recipient is not. Messages are in the operator's words, never the password.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from tapeworks.errors import ConfigError

StartTls = Literal["auto", "always", "never"]
DEFAULT_TIMEOUT_SECONDS = 30.0


class MailError(Exception):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.message = message
        self.temporary = temporary


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: StartTls
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        """Parse `TAPEWORKS_SMTP_URL`; a `ConfigError` names what is wrong (never the
        password)."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise ConfigError("TAPEWORKS_SMTP_URL is not a valid URL (check the port)") from exc
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise ConfigError("TAPEWORKS_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ConfigError("TAPEWORKS_SMTP_URL has no host name")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "timeout"}
        if unknown:
            raise ConfigError(
                f"TAPEWORKS_SMTP_URL has unknown options: {', '.join(sorted(unknown))} "
                "(known: starttls, timeout)"
            )
        implicit = scheme == "smtps"
        mode = query.get("starttls", "never" if implicit else "auto").lower()
        if mode not in ("auto", "always", "never"):
            raise ConfigError("TAPEWORKS_SMTP_URL: starttls must be auto, always or never")
        if implicit and mode != "never":
            raise ConfigError("TAPEWORKS_SMTP_URL: smtps:// is TLS already; drop ?starttls")
        try:
            timeout = float(query.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        except ValueError as exc:
            raise ConfigError("TAPEWORKS_SMTP_URL: timeout must be a number of seconds") from exc
        if not 0 < timeout < 3600:
            raise ConfigError("TAPEWORKS_SMTP_URL: timeout must be between 0 and 3600 seconds")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if password is not None and not username:
            raise ConfigError("TAPEWORKS_SMTP_URL has a password but no user name")
        return cls(
            host=parts.hostname, port=port or (465 if implicit else 587), implicit_tls=implicit,
            starttls=mode,  # type: ignore[arg-type]
            username=username, password=password, timeout=timeout,
        )

    def describe(self) -> str:
        """For logs and the admin: where mail goes, without the password."""
        who = f"{self.username}@" if self.username else ""
        tls = "TLS" if self.implicit_tls else f"STARTTLS {self.starttls}"
        return f"smtp{'s' if self.implicit_tls else ''}://{who}{self.host}:{self.port} ({tls})"


def send_message(
    config: SmtpConfig, message: EmailMessage, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Send one message, or raise `MailError`."""
    context = ssl_context or ssl.create_default_context()
    where = f"{config.host}:{config.port}"
    client: smtplib.SMTP
    try:
        if config.implicit_tls:
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                      context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    except TimeoutError as exc:
        raise MailError(f"the mail server at {where} did not answer in time",
                        temporary=True) from exc
    except ssl.SSLError as exc:
        raise MailError(f"the TLS handshake with the mail server at {where} failed",
                        temporary=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not connect to the mail server at {where}",
                        temporary=True) from exc
    try:
        with client:
            client.ehlo()
            if not config.implicit_tls and config.starttls != "never":
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif config.starttls == "always" or config.password is not None:
                    raise MailError(
                        f"the mail server at {where} does not offer STARTTLS; refusing to "
                        "send " + ("the password " if config.password is not None else "mail ")
                        + "unencrypted (set ?starttls=never in TAPEWORKS_SMTP_URL to allow it)",
                        temporary=True,
                    )
            if config.username:
                client.login(config.username, config.password or "")
            refused = client.send_message(message)
            if refused:
                raise MailError(f"the mail server refused {', '.join(sorted(refused))}",
                                temporary=False)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"the mail server at {where} refused the user name or password "
                        f"(SMTP {exc.smtp_code})", temporary=True) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"the mail server at {where} does not accept a user name and password "
                        "(no AUTH); remove them from TAPEWORKS_SMTP_URL", temporary=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise MailError(
            f"the mail server refused the recipient (SMTP {', '.join(map(str, codes))})",
            temporary=all(400 <= c < 500 for c in codes),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"the mail server at {where} answered SMTP {exc.smtp_code}",
                        temporary=not 500 <= exc.smtp_code < 600) from exc
    except TimeoutError as exc:
        raise MailError(f"the mail server at {where} did not answer in time",
                        temporary=True) from exc
    except ssl.SSLError as exc:
        raise MailError(f"the TLS handshake with the mail server at {where} failed",
                        temporary=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the connection to the mail server at {where} failed",
                        temporary=True) from exc
