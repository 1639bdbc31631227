"""Edges of tags spelled alike and their migrations, of e-mail addresses
taken alike (address_as_stored, normalize_email, createsuperuser), the profile's e-mail change, the demo
reset moving accounts back, /admin/login/ for signed-in administrators, invisible characters, file names."""

# ruff: noqa: RUF001, RUF002 (look-alike and compatibility characters on purpose)

import importlib
from html import unescape
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client, TestCase
from django.urls import reverse

from accounts import services as account_services
from accounts.forms import EmailAddressField
from accounts.models import EmailChangeRequest, User, address_as_stored
from accounts.tokens import account_state
from helpdesk.forms import as_tag, reads_as, shows_text
from knowledge.services import clean_tags
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tickets.attachments import safe_filename
from tickets.models import Tag, Ticket
from tickets.services import clean_tag_names

pytestmark = pytest.mark.django_db

QUEUE = "/desk/"


def respell_ticket_tags() -> None:
    from django.apps import apps

    importlib.import_module("tickets.migrations.0019_tags_spelled_alike").respell(apps, None)


def tags_of(ticket) -> list[str]:
    return sorted(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True))


def edit_tags(client, ticket, value):
    return client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "tags", "value": value, "version": Ticket.objects.get(pk=ticket.pk).version},
    )


def shown_tags_box(client, ticket) -> str:
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    return unescape(page.content.decode().split('id="edit-tags"')[1].split('value="')[1].split('"')[0])


# --- Ticket tags: the migration on odd stored data ----------------------------------------------


def test_the_tag_migration_never_stores_a_tag_holding_a_comma(desk):
    """A tag of a digit-with-comma character ('🄂', DIGIT ONE COMMA, a digit to str.isalnum, so taken by
    the old check) was stored once. Tags are comma-separated everywhere they are typed and shown, so the
    migration must not write one holding a comma. It writes '1,' (NFKC of '🄂'): the workspace's tags box
    then shows '1,' and sending it back splits it into another tag."""
    ticket = desk["ticket"]
    ticket.tags.add(Tag.objects.create(name="🄂"))
    respell_ticket_tags()
    assert not [name for name in Tag.objects.values_list("name", flat=True) if "," in name]


@pytest.mark.parametrize("legacy", ["½", "⑴", "⒈"])
def test_a_legacy_tag_the_migration_folds_into_refused_characters_still_lets_the_agent_save_tags(
    client, desk, legacy
):
    """'½', '⑴' and '⒈' are digits to str.isalnum, so they were valid tags. The migration folds them
    (NFKC) into '1⁄2', '(1)', '1.', which clean_tag_names refuses (fraction slash, parentheses, full
    stop). The workspace fills the tags box with the ticket's tags, so an agent adding 'billing' to the
    ticket gets a 422 about a tag they did not type, and can never save its tags again without deleting
    the legacy one. The migrated tag can be sent back as shown."""
    ticket = desk["ticket"]
    ticket.tags.add(Tag.objects.create(name=legacy))
    respell_ticket_tags()
    client.force_login(desk["agent"])
    response = edit_tags(client, ticket, shown_tags_box(client, ticket) + ", billing")
    assert response.status_code == 302
    assert "billing" in tags_of(ticket)


@pytest.mark.parametrize("typed", ["½", "⑴"])
def test_a_tag_that_passed_the_letter_check_as_typed_is_not_refused_after_folding(typed):
    """The refusal says tags hold 'letters, digits, spaces, - and _'. '½' and '⑴' are digits to Python
    and were accepted until today; they are now refused because the check runs on the NFKC-folded text
    ('1⁄2', '(1)'), whose fraction slash and parentheses the user never typed."""
    assert clean_tag_names([typed])


def test_a_legacy_tag_longer_than_50_after_folding_is_still_found_by_the_filter_as_typed(client, desk):
    """'ﷺﷺﷺ' (3 characters, a valid tag) folds (NFKC) to 54 characters. The migration cuts it to 50.
    An agent typing the tag as they always did into the queue's tag filter should find the ticket;
    TagField folds it to 54 characters and the filter is refused as too long instead."""
    ticket = desk["ticket"]
    ticket.tags.add(Tag.objects.create(name="ﷺﷺﷺ"))
    respell_ticket_tags()
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"tag": "ﷺﷺﷺ"})
    assert response.status_code == 200
    assert [t.pk for t in response.context["queue"].tickets] == [ticket.pk]


def test_two_legacy_tags_that_differ_only_past_the_cut_are_not_merged(desk):
    """'ﷺﷺﷺ' and 'ﷺﷺﷺﷺ' were two tags. Both fold past 50 characters and the migration cuts both to the
    same 50, merging two different tags on their tickets without a word."""
    other = make_ticket(desk["customer"], team=desk["team"])
    desk["ticket"].tags.add(Tag.objects.create(name="ﷺﷺﷺ"))
    other.tags.add(Tag.objects.create(name="ﷺﷺﷺﷺ"))
    respell_ticket_tags()
    assert tags_of(desk["ticket"]) != tags_of(other)


def test_two_legacy_tags_merging_on_a_ticket_that_has_both_keep_one(desk):
    ticket = desk["ticket"]
    ticket.tags.add(
        Tag.objects.create(name="ＶＩＰ"), Tag.objects.create(name="VIP"), Tag.objects.create(name="vip")
    )
    respell_ticket_tags()
    assert tags_of(ticket) == ["vip"]
    assert Tag.objects.filter(name="vip").count() == 1


def test_a_legacy_tag_renamed_before_its_target_exists_then_merged(desk):
    other = make_ticket(desk["customer"], team=desk["team"])
    desk["ticket"].tags.add(Tag.objects.create(name="ＢＩＬＬＩＮＧ"))  # lower pk, renamed first
    other.tags.add(Tag.objects.create(name="Billing"))
    respell_ticket_tags()
    assert tags_of(desk["ticket"]) == tags_of(other) == ["billing"]


def test_the_tag_migration_twice_changes_nothing_the_second_time(desk):
    desk["ticket"].tags.add(Tag.objects.create(name="Straße"), Tag.objects.create(name="İzmir"))
    respell_ticket_tags()
    first = tags_of(desk["ticket"])
    respell_ticket_tags()
    assert tags_of(desk["ticket"]) == first == ["izmir", "straße"]


# --- Knowledge-base tags -------------------------------------------------------------------------


def test_kb_tags_as_stored_are_stored_again_unchanged():
    """clean_tags writes the article's tags; writing them again (the next edit, the migration run on
    what it wrote) must change nothing. '🄂' folds to '1,', so 'a 🄂, b' is stored as 'a 1,, b', which
    the next save rewrites as 'a 1, b': the article's tags change on an edit that did not touch them."""
    once = clean_tags("a 🄂, b")
    assert clean_tags(once) == once


def test_kb_tags_of_only_invisible_characters_become_empty():
    assert clean_tags("\u200b, \u2800 ,\U000e0041") == ""


# --- Addresses -----------------------------------------------------------------------------------


def test_normalize_email_of_none_is_empty():
    assert User.objects.normalize_email(None) == ""


@pytest.mark.parametrize(
    "typed,stored",
    [
        ("ANNA@BÜCHER.EXAMPLE", "ANNA@xn--bcher-kva.example"),
        ("a@b@bücher.example", "a@b@xn--bcher-kva.example"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_address_as_stored_edges(typed, stored):
    assert address_as_stored(typed) == stored


def test_an_all_capitals_idn_address_signs_up_in_xn_form():
    assert EmailAddressField().clean("ANNA@BÜCHER.EXAMPLE") == "ANNA@xn--bcher-kva.example"


@pytest.mark.parametrize("typed", ["a@b@bücher.example", "@bücher.example", "anna@", "anna@bücher..example"])
def test_odd_idn_addresses_on_the_signup_page_are_a_422_not_a_500(client, typed):
    response = client.post(
        reverse("accounts:signup"), {"name": "Anna", "email": typed, "password": "a long pass phrase 42"}
    )
    assert response.status_code in (302, 422)
    assert not User.objects.filter(email__icontains="bcher").exists() or response.status_code == 302


def test_createsuperuser_takes_an_idn_address_from_the_environment_like_from_the_option(monkeypatch):
    """`createsuperuser --noinput` reads the address from DJANGO_SUPERUSER_EMAIL when --email is not given
    (Django's documented way for scripts and containers). The command converts only options['email'],
    so 'boss@bücher.example' given through the environment is refused ('must be ASCII') where the same
    address given as --email, and on the sign-up page, is taken in its xn-- form."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase 42")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "boss@bücher.example")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Boss")
    call_command("createsuperuser", interactive=False, verbosity=0)
    assert User.objects.get().email == "boss@xn--bcher-kva.example"


def test_createsuperuser_from_the_environment_refuses_an_address_taken_in_another_case(monkeypatch):
    make_customer(email="boss@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase 42")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "BOSS@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Boss")
    with pytest.raises(CommandError):
        call_command("createsuperuser", interactive=False, verbosity=0)


# --- The profile's e-mail change -------------------------------------------------------------------


def _sign_in(user) -> Client:
    client = Client()
    assert (
        client.post(
            reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD}
        ).status_code
        == 302
    )
    return client


def _request(user, new_email):
    return EmailChangeRequest.objects.create(
        user=user, new_email=new_email, account_state=account_state(user)
    )


def test_the_change_link_for_a_deleted_account_is_invalid_not_a_500():
    from accounts.tokens import email_change_token

    user = make_customer(email="old@example.org")
    change = _request(user, "new@example.org")
    token = email_change_token(change.pk)
    user.delete()
    assert not EmailChangeRequest.objects.filter(pk=change.pk).exists()
    response = Client().get(reverse("accounts:email_change_confirm", args=[token]))
    assert response.status_code == 200 and "not valid" in response.content.decode()
    assert Client().post(reverse("accounts:email_change_confirm", args=[token])).status_code == 422


def test_the_change_confirm_post_signed_out_is_403_and_changes_nothing():
    from accounts.tokens import email_change_token

    user = make_customer(email="old@example.org")
    token = email_change_token(_request(user, "new@example.org").pk)
    assert Client().post(reverse("accounts:email_change_confirm", args=[token])).status_code == 403
    user.refresh_from_db()
    assert user.email == "old@example.org"


def test_asking_to_move_to_an_all_capitals_idn_address_stores_it_in_xn_form(immediate_tasks):
    user = make_customer(email="old@example.org")
    client = _sign_in(user)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("accounts:profile"),
            {"change_email": "1", "email": "ANNA@BÜCHER.EXAMPLE", "password": TEST_PASSWORD},
        )
    assert response.status_code == 302
    assert EmailChangeRequest.objects.get(user=user).new_email == "ANNA@xn--bcher-kva.example"


def test_staff_who_must_set_up_two_factor_can_use_the_link_after_setting_it_up(settings):
    """The middleware sends staff without a second factor to the set-up page from every page, the
    link's too; the link itself must stay usable (not spent by the detour)."""
    from accounts.tokens import email_change_token
    from helpdesk.models import SiteConfiguration

    config = SiteConfiguration.objects.get_current()
    config.require_two_factor = True
    config.save()
    agent = make_agent(TeamFactory(), email="agent@example.org")
    client = Client()
    client.force_login(agent)
    change = _request(agent, "agent.new@example.org")
    url = reverse("accounts:email_change_confirm", args=[email_change_token(change.pk)])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:two_factor"))
    assert account_services.email_change_link_state(change, viewer=agent) == "ready"


# --- The demo reset ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_reset_puts_back_two_demo_accounts_when_one_took_the_others_old_address():
    """Two demo customers: customer@ moves to carla@example.org, then customer2@ moves to the freed
    customer@example.com. The reset should put each back at its own demo address without a second copy.
    _move_accounts_back skips customer@ (an account has it: the wrong one) and skips customer2@ (its
    mover now holds a demo address), so loaddata writes customer@'s demo data over customer2's account
    and creates a new customer2@ account, while the first account stays at carla@ with the demo's
    password and roles: a duplicate of a demo account, which is what the change set out to prevent."""
    call_command("demo_load", stdout=StringIO())
    users = User.objects.count()
    first = User.objects.get(email="customer@example.com")
    second = User.objects.get(email="customer2@example.com")
    account_services.user_email_change(
        _request(first, "carla@example.org"), actor=first, keep_session_key=None
    )
    account_services.user_email_change(
        _request(second, "customer@example.com"), actor=second, keep_session_key=None
    )
    call_command("demo_load", "--reset", stdout=StringIO())
    assert User.objects.count() == users
    assert User.objects.get(pk=first.pk).email == "customer@example.com"
    assert User.objects.get(pk=second.pk).email == "customer2@example.com"


# --- /admin/login/ for someone signed in -----------------------------------------------------------


def test_admin_login_signed_in_admin_goes_to_the_admin_page_asked_for(client):
    client.force_login(make_administrator(is_superuser=True))
    response = client.get("/admin/login/", {"next": "/admin/accounts/user/"})
    assert response.status_code == 302 and response["Location"] == "/admin/accounts/user/"


@pytest.mark.parametrize(
    "next_", ["//evil.example/admin/", "https://evil.example/", "desk", "javascript:alert(1)"]
)
def test_admin_login_never_sends_a_signed_in_admin_off_site(client, next_):
    client.force_login(make_administrator(is_superuser=True))
    response = client.get("/admin/login/", {"next": next_})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_admin_login_to_the_admins_logout_does_not_land_on_a_405(client):
    """A signed-in administrator at /admin/login/?next=/admin/logout/ is sent to /admin/logout/, which
    answers a GET with 405 Method Not Allowed (logout is POST only): a dead end. The admin
    index (or any page that answers a GET)."""
    client.force_login(make_administrator(is_superuser=True))
    response = client.get("/admin/login/", {"next": "/admin/logout/"}, follow=True)
    assert response.status_code == 200


def test_admin_login_signed_in_without_admin_access_is_403(client):
    client.force_login(make_customer())
    assert client.get("/admin/login/", {"next": "/admin/"}).status_code == 403


def test_admin_login_post_is_refused_not_a_500(client):
    client.force_login(make_administrator(is_superuser=True))
    assert client.post("/admin/login/", {"next": "/admin/"}).status_code == 405


# --- Invisible characters and speed ----------------------------------------------------------------


# How long these take is measured by bench/input_speed.py: the suite asserts what they answer.
def test_shows_text_on_200000_spaces_answers_no():
    assert not shows_text(" " * 200_000 + "\u200b" * 1000)
    assert shows_text(" " * 200_000 + "x")


def test_reads_as_and_as_tag_on_a_long_text_answer():
    body = "Grüße aus Köln \u200b\U000e0041 " * 40_000  # ~720,000 characters
    assert reads_as(body).startswith("grüsse aus köln grüsse")
    assert as_tag(body).startswith("grüße aus köln")


def test_a_reply_of_200000_spaces_is_refused_not_a_500(client, desk):
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[desk["ticket"].number]), {"body": " " * 200_000, "kind": "public"}
    )
    assert response.status_code in (400, 413, 422)


@pytest.mark.parametrize("char", ["\u061c", "\ufe0f", "\U000e0020", "\u2800", "\u17b4", "\U0001d173"])
def test_tags_of_only_a_default_ignorable_character_are_refused(char):
    with pytest.raises(ValidationError):
        clean_tag_names([char])


# --- File names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [". .pdf", ". pdf"])
def test_a_saved_file_name_never_starts_with_a_space(name):
    """'.pdf' became 'attachment.pdf'; '. .pdf' becomes ' .pdf' and '. pdf' 'attachment. pdf': the space
    stripping runs before the leading dots go, so a space is left at the start or after the dot. A file
    saved as ' .pdf' looks nameless in a file list."""
    cleaned = safe_filename(name)
    assert not cleaned.startswith(" ") and ". " not in cleaned


@pytest.mark.parametrize(
    "name,kept", [(".pdf", "attachment.pdf"), ("..", "attachment"), (".tar.gz", "tar.gz")]
)
def test_safe_filename_of_names_that_are_only_a_type(name, kept):
    assert safe_filename(name) == kept


# --- Organisation domains: the trailing-dot migration ------------------------------------------------


def test_the_trailing_dot_migration_does_not_make_two_organisations_claim_one_domain():
    """Acme holds 'acme.example'; another organisation was saved with 'acme.example.' (which matched
    nobody). Before the migration addresses at acme.example join Acme. The migration strips the dot
    without looking at other organisations, so both now claim acme.example, a state Organization.clean
    forbids, and organization_for_address (exactly one) quietly stops joining anyone to Acme."""
    from django.apps import apps

    from accounts.models import Organization
    from tests.factories import OrganizationFactory

    acme = OrganizationFactory(slug="acme", email_domains=["acme.example"])
    stale = OrganizationFactory(slug="acme-old", email_domains=[])
    Organization.objects.filter(pk=stale.pk).update(email_domains=["acme.example."])
    assert account_services.organization_for_address("new@acme.example") == acme
    importlib.import_module(
        "accounts.migrations.0015_organisation_domains_without_trailing_dots"
    ).drop_trailing_dots(apps, None)
    assert account_services.organization_for_address("new@acme.example") == acme
