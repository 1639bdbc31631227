"""Configuration: every environment variable the settings read is documented in .env.example."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from helpdesk.smtp_url import checked_sender, smtp_options


def test_every_environment_variable_is_documented_in_env_example():
    source = (settings.BASE_DIR / "helpdesk" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    example = (settings.BASE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z_]+)=", example, re.M))
    assert read, "the pattern found no variables: the test would pass vacuously"
    assert read - documented == set()
    assert documented - read == set(), "documented but never read"


def test_env_example_copied_to_dot_env_keeps_every_default():
    """Copied to .env as it is, an empty SECRET_KEY= would replace the development key (the site
    would not start) and MEDIA_ROOT= put uploads in the working folder: such lines stay commented."""
    text = (settings.BASE_DIR / ".env.example").read_text()
    assert re.findall(r"^[A-Z_]+=$", text, re.M) == []
    assert re.search(r"^# SECRET_KEY=$", text, re.M)


def settings_value(name: str, **environment: str) -> str:
    """Import the settings in a fresh interpreter with only `environment` set, and print one value."""
    env = {"PATH": os.environ["PATH"], **environment}
    code = f"import helpdesk.settings as s; print(s.{name})"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_debug_is_off_unless_set(tmp_path):
    if not (settings.BASE_DIR / ".env").exists():  # a developer's own .env may switch DEBUG on
        assert settings_value("DEBUG", HOME=str(tmp_path)) == "False"
    assert settings_value("DEBUG", DEBUG="1") == "True"
    assert settings_value("DEBUG", DEBUG="0") == "False"


# --- EMAIL_URL (helpdesk/smtp_url.py) ----------------------------------------------------------------


def test_email_url_as_env_example_writes_it_sends_over_starttls():
    """.env.example tells an operator to write smtp://user:password@host:587?tls=True. django-environ filed
    ?tls=True where the SMTP backend never looked: mail, with the account's password and every reset link,
    went out in clear text (or a server that insists on STARTTLS refused it)."""
    options = settings_value(
        "MAILERS['default']['OPTIONS']",
        EMAIL_URL="smtp://help%40example.com:p%3Ass@smtp.example.com:587?tls=True",
    )
    assert options == str(
        {"host": "smtp.example.com", "port": 587, "username": "help@example.com", "password": "p:ss",
         "use_tls": True, "use_ssl": False, "timeout": 30}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com:465?ssl=true", {"port": 465, "use_ssl": True, "use_tls": False}),
        # smtps is TLS from the first byte (port 465), which django-environ took for STARTTLS.
        ("smtps://mail.example.com", {"port": 465, "use_ssl": True, "use_tls": False}),
        ("smtp+tls://mail.example.com", {"port": 587, "use_ssl": False, "use_tls": True}),
        ("smtp://mail.example.com", {"port": 25, "use_ssl": False, "use_tls": False, "username": ""}),
        ("SMTP://mail.example.com:2525?TLS=1&timeout=5", {"port": 2525, "use_tls": True, "timeout": 5}),
        ("smtps://mail.example.com?ssl=false", {"port": 25, "use_ssl": False, "use_tls": False}),
    ],
)
def test_email_url_options(url, expected):
    options = smtp_options(url)
    assert {key: options[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("smtp://mail.example.com:587?EMAIL_USE_TLS=False", "?EMAIL_USE_TLS= is not an option here"),
        ("smtp://mail.example.com:587?tls=maybe", "?tls= takes true or false, not 'maybe'"),
        ("smtp://mail.example.com?tls=true&ssl=true", "not both"),
        ("smtp://mail.example.com?timeout=0", "?timeout= takes a number of seconds"),
        ("smtp://mail.example.com:port", "the port is not a number"),
        ("smtp://mail.example.com:0", "the port is not a number"),
        # Unencoded, "#" starts a fragment and "/" a path: the host would be "user", the rest dropped.
        ("smtp://user:#Secret@smtp.example.com:587?tls=true", "write # / ? @ in the user name or password"),
        ("smtp://user:12/34@smtp.example.com:587", "write # / ? @ in the user name or password"),
        ("smtp://:587", "name the mail server"),
        ("mail.example.com:587", "start it with smtp://"),
        ("imap://mail.example.com", "not imap://"),
    ],
)
def test_an_email_url_the_mailer_cannot_use_stops_the_start_saying_why(url, said):
    """Silently ignored, a misspelt option meant mail in clear text, or none sent at all."""
    with pytest.raises(ImproperlyConfigured, match=re.escape(said)):
        smtp_options(url)


@pytest.mark.parametrize(
    ("sender", "one"),
    [
        ("Helpdesk <helpdesk@localhost>", True),
        ('"Acme, Inc." <help@acme.example>', True),
        ("help@acme.example", True),
        ("Acme, Inc. <help@acme.example>", False),  # two addresses to a mail library
        ("Helpdesk", False),
        ("a@example.com, b@example.com", False),
    ],
)
def test_the_sender_is_one_address_or_the_start_stops(sender, one):
    if one:
        assert checked_sender(sender) == sender
    else:
        with pytest.raises(ImproperlyConfigured, match="DEFAULT_FROM_EMAIL: give one address"):
            checked_sender(sender)


def test_a_database_url_that_cannot_be_reached_ends_a_command_with_one_sentence(tmp_path):
    """A typo in DATABASE_URL (here a port nothing listens on) ended `manage.py migrate` with a page of
    traceback; now one sentence naming the address (its password masked) and what to do."""
    result = subprocess.run(
        [sys.executable, "manage.py", "showmigrations"],
        cwd=settings.BASE_DIR,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
             "DATABASE_URL": "postgres://helpdesk:s3cret@127.0.0.1:9/helpdesk"},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Could not connect to the database DATABASE_URL names "
        "(postgres://helpdesk:***@127.0.0.1:9/helpdesk): Connection refused. Start that server, create the "
        "database or correct DATABASE_URL; unset it to use the embedded PostgreSQL."
    ]
