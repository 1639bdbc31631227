from django.apps import AppConfig


class AccountsCliConfig(AppConfig):
    name = "accounts.cli"
    label = "accounts_cli"
    verbose_name = "Account commands"
