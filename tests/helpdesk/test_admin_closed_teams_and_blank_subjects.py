"""The admin with a team closed down since it was chosen as the site's or a form's default team (still
shown, kept by other saves, never chosen anew), ticket subjects of invisible characters only, and the
zone its times are in."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import roles
from accounts.models import RoleAssignment, Team
from helpdesk import services as helpdesk_services
from helpdesk.models import SiteConfiguration
from tests.admin_pages import change_url, form_data, post_change
from tests.factories import TeamFactory, TicketFormFactory, make_administrator, make_customer, make_ticket
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _closed_default_team(kind: str):
    team = TeamFactory(name="Night shift")
    if kind == "site configuration":
        configuration = SiteConfiguration.objects.get_current()
        SiteConfiguration.objects.filter(pk=configuration.pk).update(default_team=team)
        obj, change = SiteConfiguration.objects.get(pk=configuration.pk), {"maintenance_mode": "on"}
    else:
        obj, change = TicketFormFactory(title="Returns", default_team=team), {"title": "Returns and refunds"}
    Team.objects.filter(pk=team.pk).update(is_active=False)  # closed down, as the team admin suggests
    return obj, team, change


@pytest.mark.parametrize("kind", ["site configuration", "ticket form"])
def test_a_default_team_closed_since_is_shown_and_kept_when_another_setting_is_saved(superuser_client, kind):
    """Before the fix the select listed active teams only: the page showed "- Select an option -", a save
    as loaded was refused ("Select a valid choice"), and a browser's save cleared the default team."""
    obj, team, change = _closed_default_team(kind)
    page = superuser_client.get(change_url(obj))
    select = re.search(r'<select name="default_team".*?</select>', page.content.decode(), re.S).group(0)
    assert re.search(rf'<option value="{team.pk}" selected>Night shift \(closed\)</option>', select)
    response = superuser_client.post(change_url(obj), form_data(page, **change))
    assert response.status_code == 302
    saved = type(obj).objects.get(pk=obj.pk)
    assert saved.default_team_id == team.pk
    if kind == "site configuration":
        assert saved.maintenance_mode
    else:
        assert saved.title == "Returns and refunds"


@pytest.mark.parametrize("kind", ["site configuration", "ticket form"])
def test_a_closed_team_is_not_chosen_anew(superuser_client, kind):
    obj, _, _ = _closed_default_team(kind)
    open_team, closed = TeamFactory(name="Day shift"), TeamFactory(name="Archive", is_active=False)
    type(obj).objects.filter(pk=obj.pk).update(default_team=open_team)
    refused = post_change(superuser_client, type(obj).objects.get(pk=obj.pk), default_team=str(closed.pk))
    assert refused.status_code == 422
    assert "default_team" in refused.context["adminform"].form.errors
    assert type(obj).objects.get(pk=obj.pk).default_team_id == open_team.pk
    with pytest.raises(ValidationError, match="Archive no longer works tickets"):
        helpdesk_services.site_configuration_update(changes={"default_team": closed}, actor=None)


@pytest.mark.parametrize("subject", ["\u200b", "\u2060\u200b", "\u3164", "\u2800"])
def test_a_ticket_renamed_to_invisible_characters_only_is_refused(superuser_client, subject):
    """ticket_create refuses such a subject; before the fix the admin's rename saved it, and the ticket
    had a blank subject in the queue, the portal, mails and its timeline."""
    ticket = make_ticket(make_customer(), team=TeamFactory(), subject="Printer on fire")
    response = post_change(superuser_client, ticket, subject=subject)
    assert response.status_code == 422
    assert Ticket.objects.get(pk=ticket.pk).subject == "Printer on fire"


def test_admin_pages_say_which_zone_their_times_are_in(client):
    """Expiries and suspension ends are typed, and lists show times, in the account's zone: said on every
    admin page, as on the site's own (before the fix, on none)."""
    administrator = make_administrator(timezone="Europe/Berlin")
    client.force_login(administrator)
    for url in (
        reverse("admin:index"),
        reverse("admin:tickets_ticket_changelist"),
        change_url(administrator),
    ):
        page = client.get(url).content.decode()
        assert re.search(r'id="time-zone-note">Times are in Europe/Berlin \(UTC\+0[12]:00', page), url


def test_a_role_granted_until_a_time_typed_in_berlin_is_named_at_that_instant_in_utc():
    """The admin names a grant (its message, its History entry) from the form's value, which is in the
    zone of whoever typed it: before the fix 12:00 Berlin time was written "12:00 UTC", two hours off."""
    grant = RoleAssignment(
        user=make_customer(name="Bea"), role=Group.objects.get(name=roles.AGENT),
        expires_at=datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")),
    )  # fmt: skip
    assert str(grant) == f"Bea is {roles.AGENT} until 2026-07-01 10:00 UTC"
