#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
from urllib.parse import urlsplit, urlunsplit


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as error:
        # A server DATABASE_URL names that cannot be reached (down, a typo, a database not created yet)
        # ends the command with what to do, not a page of traceback. Errors once connected keep theirs.
        url = os.environ.get("DATABASE_URL", "")
        if not url or not str(error).startswith(("connection failed", "connection timeout")):
            raise
        reason = str(error).splitlines()[0].rpartition("failed: ")[2].removeprefix("FATAL:").strip()
        sys.exit(
            f"Could not connect to the database DATABASE_URL names ({_without_password(url)}): {reason}. "
            "Start that server, create the database or correct DATABASE_URL; unset it to use the "
            "embedded PostgreSQL."
        )


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


if __name__ == "__main__":
    main()
