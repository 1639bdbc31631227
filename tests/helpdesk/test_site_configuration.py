"""Site configuration: the singleton, the site_config command and maintenance mode."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEvent
from helpdesk.models import CONFIGURATION_CACHE_SECONDS, SiteConfiguration
from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, make_administrator, make_agent, make_customer
from tickets.services import ticket_create

pytestmark = pytest.mark.django_db


def run_site_config(*args) -> str:
    out = StringIO()
    call_command("site_config", *args, stdout=out)
    return out.getvalue()


def test_show_lists_every_setting():
    output = run_site_config("show")
    assert "maintenance_mode = False" in output
    assert "default_ticket_priority = medium" in output
    assert "by System" in output


def test_set_parses_booleans_choices_and_custom_json():
    run_site_config("set", "maintenance_mode", "yes")
    run_site_config("set", "default_ticket_priority", "high")
    run_site_config("set", "custom.greeting", '{"en": "Hello"}')
    configuration = SiteConfiguration.objects.get_current()
    assert configuration.maintenance_mode is True
    assert configuration.default_ticket_priority == "high"
    assert configuration.custom_settings == {"greeting": {"en": "Hello"}}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("maintenance_mode", "perhaps", "takes true or false"),
        ("default_ticket_priority", "whenever", "not a valid choice"),
        ("no_such_key", "1", "Unknown setting"),
        ("custom_settings", "{broken", "takes JSON"),
    ],
)
def test_set_refuses_bad_values_with_a_clear_error(key, value, message):
    with pytest.raises(CommandError, match=message):
        run_site_config("set", key, value)
    assert SiteConfiguration.objects.get_current().default_ticket_priority == "medium"


def test_there_is_only_ever_one_configuration_row():
    from django.db import IntegrityError, transaction

    SiteConfiguration.objects.get_current()
    with pytest.raises(IntegrityError), transaction.atomic():
        SiteConfiguration.objects.create(pk=2)
    assert SiteConfiguration.objects.count() == 1


def test_update_records_who_changed_it():
    admin = make_administrator()
    configuration = site_configuration_update(changes={"open_signup": True}, actor=admin)
    assert configuration.updated_by == admin


@pytest.fixture
def maintenance():
    site_configuration_update(
        changes={"maintenance_mode": True, "maintenance_message": "Back at noon."}, actor=None
    )


@pytest.mark.usefixtures("maintenance")
def test_maintenance_mode_shows_visitors_and_customers_a_503_page(client):
    response = client.get(reverse("home"))
    assert response.status_code == 503
    assert "Back at noon." in response.content.decode()
    assert response["Retry-After"]
    client.force_login(make_customer())
    assert client.get(reverse("accounts:profile")).status_code == 503


@pytest.mark.usefixtures("maintenance")
def test_maintenance_mode_lets_staff_keep_working_and_login_stay_open(client):
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    client.force_login(make_agent())
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Maintenance mode is on" in response.content.decode()


@pytest.mark.usefixtures("maintenance")
def test_a_form_sent_as_maintenance_begins_is_given_back_to_copy(client):
    """A ticket typed for ten minutes and sent (without JavaScript) just after maintenance mode went on:
    the 503 page says nothing was saved and gives back what was typed, but not the form's own keys. Before
    the fix it said only "We'll be right back", and the form's page, closed too, had lost the text."""
    client.force_login(make_customer())
    typed = "The invoice from March lists the wrong VAT number, please correct it to GB123"
    response = client.post(
        reverse("tickets:portal_submit"),
        {"subject": "Wrong VAT number", "description": typed, "version": "3",
         "submission_key": "0f6a3a4e-9d1b-4c3e-8f47-0a2b1c3d4e5f", "csrfmiddlewaretoken": "x" * 64},
    )  # fmt: skip
    assert response.status_code == 503
    page = response.content.decode()
    assert "Nothing you sent was saved." in page
    assert typed in page and "Wrong VAT number" in page
    assert "0f6a3a4e" not in page and "x" * 64 not in page
    assert '<label for="kept-1">Subject</label>' in page
    assert '<label for="kept-2">How can we help?</label>' in page


@pytest.mark.usefixtures("maintenance")
def test_only_what_was_typed_is_given_back_by_the_labels_the_form_showed(client):
    """A button's value (Mark as solved, a vote), the form's signed draft key and a choice are nobody's
    words: not given back; a custom field comes back under its label. Before the fix every posted field
    came back, "Drafted by" with its token and "Status: resolved" among them, under its POST name."""
    from tests.factories import TicketFormFactory

    form = TicketFormFactory(slug="rma", schema=[{"name": "serial", "label": "Serial number", "type": "text"},
                                                 {"name": "plan", "label": "Plan", "type": "select",
                                                  "choices": ["Basic", "Pro"]}])  # fmt: skip
    client.force_login(make_customer())
    posted = {"subject": "Broken", "description": "It hums.", "drafted_by": "NQ:1xabc:signed",
              "cf_serial": "SN-4711", "cf_plan": "Pro", "status": "resolved", "helpful": "yes"}  # fmt: skip
    response = client.post(reverse("tickets:portal_submit_form", args=[form.slug]), posted)
    assert response.status_code == 503
    kept = response.context["kept"]
    assert kept == [("Subject", "Broken"), ("How can we help?", "It hums."), ("Serial number", "SN-4711")]
    answered = client.post(reverse("tickets:portal_status", args=[1001]), {"status": "resolved"})
    assert answered.context["kept"] == [] and "Nothing you sent was saved" not in answered.content.decode()


@pytest.mark.usefixtures("maintenance")
def test_the_maintenance_page_for_a_signed_in_customer_offers_sign_out_only(client):
    """A customer signed in on a shared computer can sign out from the maintenance page (its only
    navigation), and is not shown the staff banner. Before the fix the navigation landmark was empty and
    the banner said "customers and visitors see a maintenance page" to a customer."""
    client.force_login(make_customer())
    page = client.get(reverse("home")).content.decode()
    nav = page.split('<nav class="main-nav" aria-label="Main">')[1].split("</nav>")[0]
    assert f'action="{reverse("accounts:logout")}"' in nav and nav.count("<li>") == 1
    assert "Maintenance mode is on" not in page
    assert "Staff can still" not in page


@pytest.mark.usefixtures("maintenance")
def test_the_maintenance_pages_sign_in_link_leads_back_to_the_page_asked_for(client):
    """Signed out, a bookmarked page answers the maintenance page with no navigation landmark at all, and
    its sign-in link brings staff back to that page. Before the fix an empty "Main" navigation was left,
    and the link led to the home page."""
    wanted = reverse("admin:helpdesk_siteconfiguration_change", args=[1])
    page = client.get(wanted).content.decode()
    assert "<nav" not in page.split("<main")[0].split("Skip to main content")[1]
    assert (
        f'href="{reverse("accounts:login")}?next=%2Fadmin%2Fhelpdesk%2Fsiteconfiguration%2F1%2Fchange%2F"'
        in page
    )


def test_a_custom_setting_changed_from_1_to_true_is_saved_and_recorded():
    """{"beta": 1} saved as {"beta": true}: stored and recorded. Before the fix the two compared equal
    (True == 1 in Python), so nothing was written while the admin said the change was saved."""
    site_configuration_update(changes={"custom_settings": {"beta": 1}}, actor=None)
    site_configuration_update(changes={"custom_settings": {"beta": True}}, actor=None)
    assert SiteConfiguration.objects.get().custom_settings["beta"] is True
    event = AuditEvent.objects.filter(action="settings_change").latest("sequence")
    assert event.changes["custom_settings"] == [{"beta": 1}, {"beta": True}]


def test_configuration_is_read_once_then_from_the_cache_until_saved(django_assert_num_queries):
    SiteConfiguration.objects.get_current()
    with django_assert_num_queries(0):
        assert SiteConfiguration.objects.get_current().open_signup is False
    site_configuration_update(changes={"open_signup": True}, actor=None)
    with django_assert_num_queries(1):
        assert SiteConfiguration.objects.get_current().open_signup is True


def test_a_change_saved_by_another_process_shows_within_seconds(clock):
    SiteConfiguration.objects.get_current()
    # Another worker saved it: this process's cache does not know yet.
    SiteConfiguration.objects.filter(pk=1).update(open_signup=True)
    assert SiteConfiguration.objects.get_current().open_signup is False
    clock.shift(timedelta(seconds=CONFIGURATION_CACHE_SECONDS + 1))
    assert SiteConfiguration.objects.get_current().open_signup is True


@pytest.mark.parametrize(
    ("changes", "category"),
    [
        ({"require_two_factor": True}, "security"),
        ({"open_signup": True}, "security"),
        ({"anonymous_submission": True, "site_name": "Acme"}, "security"),
        ({"site_name": "Acme"}, "business"),
    ],
)
def test_who_may_get_in_is_a_security_setting(changes, category):
    site_configuration_update(changes=changes, actor=make_administrator())
    assert AuditEvent.objects.get(action="settings_change").category == category


def test_a_closed_team_cannot_be_the_default_and_one_closed_since_is_passed_over(client):
    closed = TeamFactory(name="Closed desk", is_active=False)
    with pytest.raises(ValidationError, match="default_team"):
        site_configuration_update(changes={"default_team": closed}, actor=None)
    support = TeamFactory(name="Support")
    site_configuration_update(changes={"default_team": support}, actor=None)
    support.is_active = False
    support.save()
    customer = make_customer()
    assert ticket_create(requester=customer, subject="Hi", description="Help", actor=customer).team is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("custom.greeting", '"\\udfff"'),
        ("custom_settings", '{"greeting": "\\ud800"}'),
        ("site_name", "Help\udcffdesk"),
    ],
)
def test_text_that_is_not_unicode_is_refused_with_a_sentence_not_a_traceback(key, value):
    """A lone surrogate: from a JSON escape, or from bytes the terminal's encoding could not read."""
    with pytest.raises(CommandError, match=r"valid (Unicode|UTF-8)"):
        run_site_config("set", key, value)
    assert SiteConfiguration.objects.get_current().site_name == "Helpdesk"


def test_maintenance_mode_switches_on_while_the_default_team_is_closed():
    """Only what changes is validated: a default team closed since (tickets then pass it over) does not
    block the emergency switch."""
    support = TeamFactory(name="Support")
    site_configuration_update(changes={"default_team": support}, actor=None)
    support.is_active = False
    support.save()
    run_site_config("set", "maintenance_mode", "true")
    assert SiteConfiguration.objects.get().maintenance_mode is True


def test_the_admin_answers_a_refused_configuration_with_422_and_what_was_typed(superuser_client):
    """A blank site name and custom settings that are not a JSON object: 422, every field as typed, and
    nothing saved."""
    SiteConfiguration.objects.get_current()
    response = superuser_client.post(
        reverse("admin:helpdesk_siteconfiguration_change", args=[SiteConfiguration.SINGLETON_PK]),
        {"site_name": "", "maintenance_message": "Back at noon", "default_ticket_priority": "high",
         "custom_settings": "[1, 2]"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Back at noon" in response.content.decode()
    assert SiteConfiguration.objects.get().site_name == "Helpdesk"


def test_a_site_name_of_only_spaces_is_refused_as_a_blank_one():
    """As the admin form strips what is typed, so does the command: a name of spaces is no name."""
    with pytest.raises(CommandError, match="cannot be blank"):
        run_site_config("set", "site_name", "   ")
    run_site_config("set", "site_name", "  Acme Support  ")
    assert SiteConfiguration.objects.get().site_name == "Acme Support"


def test_a_fixture_load_shows_at_once(client, tmp_path):
    """loaddata saves raw, past the model's save(): the cached row is dropped all the same, so `make
    demo-reset` or an operator's fixture takes effect at once, not when the cache expires."""
    assert client.get("/").status_code == 200  # the configuration is cached now
    fixture = tmp_path / "site.json"
    row = {"site_name": "Loaded Desk", "maintenance_mode": True, "updated_at": "2026-01-01T00:00:00Z"}
    fixture.write_text(json.dumps([{"model": "helpdesk.siteconfiguration", "pk": 1, "fields": row}]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert client.get("/").status_code == 503


def test_demo_reset_puts_the_settings_back_at_once(client):
    call_command("demo_load", verbosity=0, stdout=StringIO())
    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    assert client.get("/").status_code == 503
    call_command("demo_load", "--reset", verbosity=0, stdout=StringIO())
    assert client.get("/").status_code == 200
