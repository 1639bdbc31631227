"""The Django admin: every registered model's list, add and change pages work for an administrator."""

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.models import SiteConfiguration
from tests.factories import (
    InvitationFactory,
    SkillFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    """An administrator, with at least one row of every model to open."""
    team = TeamFactory()
    customer = make_customer()
    agent = make_agent(team)
    SkillFactory().agents.add(agent)
    InvitationFactory(organization=customer.organization)
    ticket = make_ticket(customer, team=team, form=TicketFormFactory(), custom_fields={"order_number": "A-1"})
    ticket_services.ticket_set_tags(ticket, names=["vip"], actor=agent)
    ticket_services.ticket_reply(
        ticket, body="Hello", actor=agent, uploads=[SimpleUploadedFile("a.txt", b"hi")]
    )
    SiteConfiguration.objects.get_current()
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
