"""Where a new ticket lands and whose words its first message is: the site's default team for forms
that name none, the closed ticket's team for a follow-up, the visitor as the author of their own
request, and an anonymous submission as one transaction with its pending account."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from helpdesk.models import SiteConfiguration
from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, TicketFormFactory, make_customer, make_ticket
from tickets import services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def test_the_default_form_lands_in_the_sites_default_team_where_its_agents_see_it(client, team, agent):
    customer = make_customer()
    client.force_login(customer)
    client.post(SUBMIT, submission(subject="Before"))
    assert Ticket.objects.get(subject="Before").team is None  # no default team: it waits for an administrator
    assert not Ticket.objects.visible_to(agent).filter(subject="Before").exists()

    site_configuration_update(changes={"default_team": team}, actor=None)
    client.post(SUBMIT, submission(subject="After"))
    ticket = Ticket.objects.get(subject="After")
    assert ticket.team == team
    assert Ticket.objects.visible_to(agent).filter(pk=ticket.pk).exists()


def test_a_forms_own_team_wins_over_the_default(client, team):
    billing = TeamFactory(name="Billing")
    site_configuration_update(changes={"default_team": team}, actor=None)
    TicketFormFactory(slug="billing", default_team=billing, schema=[])
    client.force_login(make_customer())
    client.post(reverse("tickets:portal_submit_form", args=["billing"]), submission(subject="Invoice"))
    assert Ticket.objects.get(subject="Invoice").team == billing


def test_a_follow_up_of_a_closed_ticket_stays_with_its_team(team, customer):
    site_configuration_update(changes={"default_team": TeamFactory(name="Triage")}, actor=None)
    ticket = make_ticket(customer, team=team)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    follow_up = services.ticket_reply(ticket, body="It broke again", actor=customer).ticket
    assert follow_up.follow_up_of == ticket and follow_up.team == team


def test_an_anonymous_visitors_request_is_written_by_them_not_by_system(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    client.post(SUBMIT, submission(name="Vera Visitor", email="vera@example.net"))
    message = Ticket.objects.get(subject="Printer jam").messages.get()
    assert message.author.email == "vera@example.net" and not message.from_staff
    visitor = User.objects.get(email="vera@example.net")
    visitor.status = User.Status.ACTIVE
    visitor.save()
    client.force_login(visitor)
    page = client.get(reverse("tickets:portal_detail", args=[message.ticket.number])).content.decode()
    assert "Vera Visitor" in page and "System" not in page


def test_an_anonymous_submission_refused_for_its_file_leaves_no_account_behind(client):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    bad = SimpleUploadedFile("page.html", b"<html><script>alert(1)</script></html>", "text/html")
    response = client.post(SUBMIT, submission(name="Nina", email="nina@example.net", attachments=[bad]))
    assert response.status_code == 422
    assert not User.objects.filter(email="nina@example.net").exists()


def test_a_suspension_that_ended_does_not_block_an_anonymous_submission(client, clock):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    customer = make_customer(email="back@example.net", email_verified_at=timezone.now())
    User.objects.filter(pk=customer.pk).update(
        status=User.Status.SUSPENDED, suspended_until=timezone.now() + timedelta(hours=1)
    )
    assert client.post(SUBMIT, submission(name="Back", email="back@example.net")).status_code == 422
    clock.shift(timedelta(hours=2))
    assert client.post(SUBMIT, submission(name="Back", email="back@example.net")).status_code == 302
    assert Ticket.objects.get(subject="Printer jam").requester == customer


def test_a_submission_key_of_another_requesters_ticket_never_returns_their_ticket(team):
    first, second = make_customer(), make_customer()
    key = uuid.uuid4()
    theirs = services.ticket_create(
        requester=first, subject="A", description="a", actor=first, submission_key=key
    )
    with pytest.raises(services.ValidationError) as refused:
        services.ticket_create(
            requester=second, subject="B", description="b", actor=second, submission_key=key
        )
    assert services.SUBMIT_AGAIN in refused.value.messages
    assert Ticket.objects.filter(submission_key=key).get() == theirs


def test_site_config_names_the_default_team_by_its_slug(team):
    out = StringIO()
    call_command("site_config", "set", "default_team", team.slug, stdout=out)
    assert SiteConfiguration.objects.get_current().default_team == team
    assert f"default_team = {team}" in out.getvalue()
    with pytest.raises(CommandError, match="no team 'nope'"):
        call_command("site_config", "set", "default_team", "nope")
    call_command("site_config", "set", "default_team", "none", stdout=StringIO())
    assert SiteConfiguration.objects.get_current().default_team is None


def test_a_form_whose_default_team_was_closed_down_routes_to_the_site_default(client):
    support = TeamFactory(name="Support desk")
    site_configuration_update(changes={"default_team": support}, actor=None)
    TicketFormFactory(slug="legacy", default_team=TeamFactory(name="Old desk", is_active=False), schema=[])
    client.force_login(make_customer())
    response = client.post(reverse("tickets:portal_submit_form", args=["legacy"]), submission())
    assert response.status_code == 302
    assert Ticket.objects.get().team == support
