"""System checks for configuration invariants of this project."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def check_embedded_database_location(app_configs, **kwargs):
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "helpdesk.embedded_postgres" and not database.get("DATA_DIR"):
        return [Error("The embedded database needs DATA_DIR.", id="helpdesk.E001")]
    return []


@register()
def check_secret_key_outside_debug(app_configs, **kwargs):
    if (
        not settings.DEBUG
        and settings.SECRET_KEY.startswith("django-insecure-")
        and settings.SESSION_COOKIE_SECURE
    ):
        return [
            Error(
                "HTTPS is configured but SECRET_KEY is the development default.",
                hint="Set SECRET_KEY in the environment to a long random string.",
                id="helpdesk.E002",
            )
        ]
    return []


@register()
def check_day_counts(app_configs, **kwargs):
    """Day counts the periodic jobs subtract from now (negative ones would delete or close everything) and
    the system log's row cap (below one it would keep nothing)."""
    from audit.retention import MAX_RETENTION_DAYS

    errors = []
    for name, id_ in (
        ("TICKET_AUTO_CLOSE_DAYS", "helpdesk.E010"),
        ("SYSTEM_LOG_RETENTION_DAYS", "helpdesk.E011"),
    ):
        value = getattr(settings, name)
        if not 0 <= value <= MAX_RETENTION_DAYS:
            errors.append(Error(f"{name} is {value}; it must be 0 to {MAX_RETENTION_DAYS} days.", id=id_))
    if settings.SYSTEM_LOG_MAX_ROWS < 1:
        errors.append(
            Error(
                f"SYSTEM_LOG_MAX_ROWS is {settings.SYSTEM_LOG_MAX_ROWS}; it must be 1 or more.",
                id="helpdesk.E012",
            )
        )
    return errors


@register()
def check_site_url(app_configs, **kwargs):
    """SITE_URL, where links in mails go, is an address: a scheme and a host, nothing after them."""
    if not settings.SITE_URL:
        return []
    parts = urlsplit(settings.SITE_URL)
    beyond_the_host = parts.path or parts.query or parts.fragment
    if parts.scheme not in ("http", "https") or not parts.netloc or beyond_the_host:
        message = (
            f"SITE_URL is {settings.SITE_URL!r}; give the site's address as https://host (a port may follow)."
        )
        return [Error(message, id="helpdesk.E020")]
    return []


@register(Tags.security, deploy=True)
def check_mailed_links(app_configs, **kwargs):
    """Links in mails (password resets, address confirmations) carry a token: they must go out over HTTPS
    when the site is served so, and to the site's own host, not whichever one a request names."""
    warnings = []
    https_only = settings.SECURE_SSL_REDIRECT or settings.SESSION_COOKIE_SECURE
    if urlsplit(settings.SITE_URL).scheme == "http" and https_only:  # as E020 reads it, in any case
        message = (
            f"SITE_URL is {settings.SITE_URL!r} while the site is served over HTTPS only: links in mails "
            "would carry their token unencrypted on the first click. Give its https:// address."
        )
        warnings.append(Warning(message, id="helpdesk.W021"))
    if not settings.SITE_URL and any(host == "*" or host.startswith(".") for host in settings.ALLOWED_HOSTS):
        message = (
            "SITE_URL is not set and ALLOWED_HOSTS holds a wildcard: links in mails would point to whichever "
            "host a request names. Set SITE_URL to the site's address."
        )
        warnings.append(Warning(message, id="helpdesk.W022"))
    return warnings
