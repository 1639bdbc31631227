"""The Django admin: every registered model's list, add and change pages work for an administrator."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.models import SiteConfiguration
from tests.factories import (
    InvitationFactory,
    SkillFactory,
    TeamFactory,
    TicketFormFactory,
    UserFactory,
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


def test_user_actions_need_the_change_permission(client):
    viewer = UserFactory(is_staff=True)  # may open the admin and read users, nothing more
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    )
    target = make_customer()
    changelist = reverse("admin:accounts_user_changelist")
    writers = {"suspend_users", "activate_users", "unlock_sign_in", "sign_out_everywhere", "reset_two_factor"}

    def offered_actions() -> set[str]:
        response = client.get(changelist)
        assert response.status_code == 200
        form = response.context["action_form"]  # None when no action is offered at all
        return set() if form is None else {value for value, _ in form.fields["action"].choices}

    client.force_login(make_administrator(is_superuser=True))
    assert writers <= offered_actions()
    client.force_login(viewer)
    assert not offered_actions() & writers
    client.post(changelist, {"action": "suspend_users", "_selected_action": [target.pk]})
    target.refresh_from_db()
    assert target.status == target.Status.ACTIVE
