"""Development mail: the console backend `make run` uses when no EMAIL_URL is set.

Django's console backend prints the MIME message as it would be sent, and a text line longer than 76
characters goes out quoted-printable: the link of a password-reset or address-confirmation mail comes
out cut by "=" soft line breaks, and opening it as printed fails. People read these mails, so this one
prints the headers that matter and the text as written (the MIME form is for mail servers, which the
SMTP backend speaks to).
"""

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend
from django.core.mail.message import EmailMessage

SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")


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
