"""manage.py changepassword, through accounts.services like every other password change: recorded in
the audit trail, and the account's other sessions signed out."""

import getpass

from django.contrib.auth.management.commands import changepassword

from accounts import services
from accounts.models import User


class Command(changepassword.Command):
    def handle(self, *args, **options):
        result = super().handle(*args, **options)  # asks for the password, validates and saves it
        username = options["username"] or getpass.getuser()
        user = User._default_manager.db_manager(options["database"]).get(**{User.USERNAME_FIELD: username})
        services.user_password_changed(user, actor=None, keep_session_key=None)
        return result
