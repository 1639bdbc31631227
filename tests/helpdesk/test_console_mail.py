"""The development console prints mail as people read it: a long link comes out whole and opens."""

from io import StringIO

from django.core.mail import EmailMultiAlternatives

from helpdesk.mail import EmailBackend

LINK = "http://127.0.0.1:8000/accounts/reset/Ng/dj1cjt-6048746cf3d69c411f98f794f61668df/"


def test_a_long_link_is_printed_whole_with_the_headers_that_matter():
    stream = StringIO()
    message = EmailMultiAlternatives(
        subject="Réinitialisation du mot de passe",
        body=f"Open this link within a day to choose a new password for your account:\n\n    {LINK}\n",
        from_email="Helpdesk <helpdesk@localhost>",
        to=["carla@example.com"],
    )
    message.attach_alternative("<p>HTML</p>", "text/html")
    message.attach("report.txt", b"hello", "text/plain")
    EmailBackend(stream=stream).send_messages([message])
    printed = stream.getvalue()
    assert f"    {LINK}\n" in printed
    assert "Subject: Réinitialisation du mot de passe" in printed
    assert "To: carla@example.com" in printed and "From: Helpdesk <helpdesk@localhost>" in printed
    assert "[also sent as text/html]" in printed and "[attached: report.txt]" in printed
    assert "quoted-printable" not in printed and "=\n" not in printed
