"""manage.py changepassword, through accounts.services like every other password change: recorded in
the audit trail, and the account's other sessions signed out."""

import getpass

from django.contrib.auth.management.commands import changepassword

from accounts import services
from accounts.models import User


class Command(changepassword.Command):
    def handle(self, *args, **options):
        # The account of the address in any letter case, as signing in finds it.
        typed = options["username"] or getpass.getuser()
        users = User._default_manager.db_manager(options["database"])
        if (known := users.with_email(typed).first()) is not None:
            options["username"] = known.email
        result = super().handle(*args, **options)  # asks for the password, validates and saves it
        user = users.get(**{User.USERNAME_FIELD: options["username"] or typed})
        services.user_password_changed(user, actor=None, keep_session_key=None)
        return result
