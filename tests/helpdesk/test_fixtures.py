"""fixtures/roles.json and demo.json load on a fresh database, twice, without duplicates."""

import pytest
from django.apps import apps
from django.contrib.auth.hashers import check_password
from django.core.management import call_command

from accounts import rbac
from accounts.models import User

DEMO_ACCOUNTS = {
    "admin@example.com": "Administrator",
    "supervisor@example.com": "Supervisor",
    "agent@example.com": "Agent",
    "agent2@example.com": "Agent",
    "customer@example.com": "Customer",
    "customer2@example.com": "Customer",
    "other@example.com": "Customer",
}


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.django_db(transaction=True)
def test_fixtures_load_twice_on_a_fresh_database_without_duplicates():
    call_command("flush", "--noinput", verbosity=0)
    call_command("loaddata", "roles", "demo", verbosity=0)
    first = row_counts()
    call_command("loaddata", "roles", "demo", verbosity=0)
    assert row_counts() == first
    assert first["accounts.User"] == len(DEMO_ACCOUNTS)


@pytest.mark.django_db
def test_every_demo_account_has_the_documented_role_and_password():
    call_command("loaddata", "demo", verbosity=0)
    for email, role in DEMO_ACCOUNTS.items():
        user = User.objects.get(email=email)
        assert rbac.active_roles(user) == {role}, email
        assert check_password("helpdesk-demo", user.password), email
    acme_manager = User.objects.get(email="customer@example.com")
    assert acme_manager.organization.slug == "acme" and acme_manager.is_organization_manager
    assert User.objects.get(email="other@example.com").organization.slug == "globex"
    assert User.objects.get(email="admin@example.com").is_superuser
