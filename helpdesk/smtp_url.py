"""EMAIL_URL read into the SMTP mailer's options: smtp://user:password@host:port, with ?tls=true (STARTTLS,
port 587) or ?ssl=true (TLS from the first byte, port 465), or the schemes smtp+tls:// and smtps://; and
?timeout=SECONDS (30 unless given: a server that stops answering must not hold a worker for ever).
Anything else stops the start with a sentence saying what is understood.

checked_sender reads DEFAULT_FROM_EMAIL the same way: one address, or the start stops.

Not django-environ's email_url: it files ?tls=True under OPTIONS, which the SMTP backend never reads, so
mail went out in clear text (passwords, reset links) while the address said TLS; and it reads smtps:// as
STARTTLS, which port 465 does not speak."""

from email.utils import getaddresses
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SCHEMES = {"smtp": None, "smtp+tls": "tls", "smtps": "ssl", "smtp+ssl": "ssl"}
DEFAULT_PORTS = {None: 25, "tls": 587, "ssl": 465}
YES, NO = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
DEFAULT_TIMEOUT = 30
EXAMPLE = "e.g. smtp://user:password@smtp.example.com:587?tls=true"


def _refused(problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"EMAIL_URL: {problem} ({EXAMPLE}).")


def _yes_or_no(name: str, value: str) -> bool:
    if value.lower() in YES:
        return True
    if value.lower() in NO:
        return False
    raise _refused(f"?{name}= takes true or false, not {value!r}")


def smtp_options(url: str) -> dict:
    """The SMTP backend's options for `url`; ImproperlyConfigured, saying why, for one it cannot use."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES:
        raise _refused(f"start it with smtp://, smtp+tls:// or smtps://, not {parts.scheme or 'nothing'}://")
    if parts.fragment or parts.path not in ("", "/"):
        # "smtp://user:pa#ss@host" is host "user" to any URL parser: the rest would be dropped unsaid.
        raise _refused("write # / ? @ in the user name or password as %23 %2F %3F %40")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _refused("the port is not a number from 1 to 65535")
    if not parts.hostname:
        raise _refused("name the mail server")
    secure = {"tls": False, "ssl": False}
    if by_scheme := SCHEMES[parts.scheme.lower()]:
        secure[by_scheme] = True
    timeout = DEFAULT_TIMEOUT
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        key = name.lower()
        if key in secure:
            secure[key] = _yes_or_no(name, value)
        elif key == "timeout":
            if not value.isdigit() or int(value) == 0:
                raise _refused(f"?timeout= takes a number of seconds, not {value!r}")
            timeout = int(value)
        else:
            raise _refused(f"?{name}= is not an option here; these are: tls, ssl, timeout")
    if secure["tls"] and secure["ssl"]:
        raise _refused("choose tls (STARTTLS, port 587) or ssl (port 465), not both")
    security = "tls" if secure["tls"] else "ssl" if secure["ssl"] else None
    return {
        "host": parts.hostname,
        "port": DEFAULT_PORTS[security] if port is None else port,
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "use_tls": secure["tls"],
        "use_ssl": secure["ssl"],
        "timeout": timeout,
    }


def checked_sender(value: str) -> str:
    """`value` (DEFAULT_FROM_EMAIL) if it names one address: unquoted, "Acme, Inc. <help@acme.example>"
    is two to a mail library, and every mail would go out with a From that servers refuse or misread."""
    addresses = getaddresses([value])
    if len(addresses) != 1 or "@" not in addresses[0][1]:
        raise ImproperlyConfigured(
            f"DEFAULT_FROM_EMAIL: give one address, e.g. Helpdesk <help@example.com>, and quote a name with "
            f'a comma ("Acme, Inc." <help@example.com>), not {value!r}.'
        )
    return value
