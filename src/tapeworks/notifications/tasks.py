"""The `mail.send` job: one attempt at one mail, in the short pool (claim: the address and
the event; work: build and send over SMTP, no database session; save: sent, or the next try
scheduled when the failure is temporary)."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from tapeworks.notifications import service, unsubscribe
from tapeworks.notifications.messages import build_message
from tapeworks.notifications.smtp import MailError, SmtpConfig, send_message
from tapeworks.queue.jobs import JobContext
from tapeworks.queue.models import Job
from tapeworks.queue.registry import Pool


class SendMailHandler:
    kind = service.SEND_KIND
    pool: Pool = "short"
    max_attempts: int | None = 3

    def prepare(self, db: DbSession, job: Job) -> service.MailPayload:
        assert job.owner_id is not None
        return service.prepare_send(db, job.owner_id)

    def work(self, ctx: JobContext, p: service.MailPayload) -> service.MailResult:
        s = ctx.rt.settings
        if p.to is None or not s.smtp_url.strip():
            return service.MailResult("mail is not configured" if p.to else None, False, ctx.rt)
        message = build_message(
            p.event_type, p.data, to=p.to, mail_from=s.mail_from,
            public_url=s.effective_public_url,
            unsubscribe_url=unsubscribe.url_for(s.effective_public_url, s.resolved_secret_key(),
                                                p.user_id, p.event_type) if p.user_id else None)
        try:
            send_message(SmtpConfig.parse(s.smtp_url), message)
        except MailError as exc:
            return service.MailResult(exc.message, exc.temporary, ctx.rt)
        return service.MailResult(None, False, ctx.rt)

    def save(self, db: DbSession, job: Job, payload: service.MailPayload,
             result: service.MailResult) -> None:
        service.record_send(db, result.rt, payload, result)
