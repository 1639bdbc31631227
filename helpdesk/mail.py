"""Mail: the console backend `make run` uses when no EMAIL_URL is set, send_automatic for every mail the
site sends, and mail_or_retry for tasks.

Django's console backend prints the MIME message as it would be sent, and a text line longer than 76
characters goes out quoted-printable: the link of a password-reset or address-confirmation mail comes
out cut by "=" soft line breaks, and opening it as printed fails. People read these mails, so this one
prints the headers that matter and the text as written (the MIME form is for mail servers, which the
SMTP backend speaks to).
"""

import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend
from django.core.mail.message import EmailMessage
from django.tasks import Task
from django.utils import timezone

logger = logging.getLogger(__name__)

SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")

# Mail the site sends on its own (RFC 3834): out-of-office replies and autoresponders leave it unanswered,
# Exchange's included, so two programs never write to each other for ever.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def send_automatic(subject: str, body: str, to: str) -> None:
    """Send one plain-text mail from DEFAULT_FROM_EMAIL to `to`, marked as sent by a program."""
    EmailMessage(subject, body, None, [to], headers=AUTOMATIC_HEADERS).send()


class EmailBackend(ConsoleEmailBackend):
    def write_message(self, message: EmailMessage) -> None:
        sent = message.message()
        for name in SHOWN_HEADERS:
            if sent[name]:
                self.stream.write(f"{name}: {sent[name]}\n")
        self.stream.write(f"\n{message.body.rstrip()}\n")
        for alternative in getattr(message, "alternatives", []):
            self.stream.write(f"\n[also sent as {alternative.mimetype}]\n")
        for attachment in message.attachments:
            name = attachment[0] if isinstance(attachment, tuple) else attachment.get_filename()
            self.stream.write(f"[attached: {name}]\n")
        self.stream.write("-" * 79 + "\n")


# When the mail server cannot be reached, a mail task tries again after each of these in turn, then fails
# (its result, with the error, kept for the administrators).
MAIL_RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6))


def refused_for_good(error: OSError) -> bool:
    """Whether the server refused the mail itself for good (RFC 5321: a 5xx answer): every recipient
    ("550 no such user"), or the message. Trying again would only repeat it for hours. A refused sign-in
    or sender is the site's configuration, which an operator may mend meanwhile: tried again."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    return isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500


def mail_or_retry(
    task: Task, send: Callable[[], object], *args: Any, attempt: int, what: str, **kwargs: Any
) -> bool:
    """Call `send`; whether it sent. Refused by the mail server (smtplib's errors are OSErrors), `task`
    is enqueued again with `args` and `kwargs` and the next `attempt`, MAIL_RETRY_AFTER later: a notice
    that an account's address changed, or a receipt, is not lost to a mail server restarting. Past the
    last attempt, with a backend that cannot wait, or refused for good (refused_for_good), the error is
    raised (the task's result keeps it for the administrators)."""
    try:
        send()
    except OSError as error:
        if refused_for_good(error) or not (
            task.get_backend().supports_defer and attempt < len(MAIL_RETRY_AFTER)
        ):
            raise
        logger.warning("Could not send %s; will try again", what, exc_info=True)
        task.using(run_after=timezone.now() + MAIL_RETRY_AFTER[attempt]).enqueue(
            *args, **kwargs, attempt=attempt + 1
        )
        return False
    return True
