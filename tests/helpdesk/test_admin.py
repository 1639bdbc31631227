"""The Django admin: every registered model's list, add and change pages work for an administrator."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from tests.factories import make_administrator, make_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    call_command("loaddata", "demo", verbosity=0)
    client.force_login(make_administrator(is_superuser=True))
    return client


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_admin_pages_render_for_every_model(admin_client, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    instance = model._default_manager.first()
    if instance is not None:
        change = admin_client.get(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[instance.pk])
        )
        assert change.status_code == 200


def test_admin_is_closed_to_agents_and_visitors(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    client.force_login(make_agent())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
