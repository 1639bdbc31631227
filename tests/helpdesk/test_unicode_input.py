"""Text typed in other scripts and other Unicode forms: an internationalised organisation domain joins
the people at it, one word typed as é or as e and an accent is one word (names, subjects, searches),
and the audit export opens as UTF-8 in a spreadsheet."""

# ruff: noqa: RUF001, RUF002 (Cyrillic on purpose)

import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

import audit
from accounts.models import NOT_A_DOMAIN, Organization, User
from helpdesk.forms import reads_as, shows_text
from helpdesk.services import site_configuration_update
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import submission
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def composed(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def decomposed(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_an_internationalised_organisation_domain_is_kept_in_its_xn_form_and_places_people():
    """Addresses are ASCII (an internationalised domain in its xn-- form): a domain typed as
    "Bücher.example" is stored as the addresses at it are written, so new@xn--bcher-kva.example joins."""
    org = Organization(name="Bücher GmbH", slug="buecher", email_domains=[" Bücher.example"])
    org.full_clean()
    org.save()
    assert org.email_domains == ["xn--bcher-kva.example"]
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    assert (
        Client()
        .post(reverse("tickets:portal_submit"), submission(email="new@xn--bcher-kva.example", name="Neu"))
        .status_code
        == 302
    )
    assert User.objects.get(email="new@xn--bcher-kva.example").organization == org


def test_a_domain_that_is_no_domain_name_is_refused_with_a_clear_message():
    org = Organization(name="Odd", slug="odd", email_domains=["bücher..example"])
    with pytest.raises(ValidationError) as refusal:
        org.full_clean()
    assert NOT_A_DOMAIN in refusal.value.message_dict["email_domains"][0]


def test_organisation_names_that_differ_only_in_their_unicode_form_are_one_name():
    """ "Café" typed as é and as e + a combining accent look the same on every list: the second is
    refused as the same name."""
    OrganizationFactory(name=composed("Café Olé"), slug="cafe-1")
    twin = Organization(name=decomposed("Café Olé"), slug="cafe-2", email_domains=[])
    with pytest.raises(ValidationError):
        twin.full_clean()


@pytest.mark.parametrize(
    "stored, typed", [(decomposed, composed), (composed, decomposed)], ids=["nfd-stored", "nfd-typed"]
)
def test_the_desk_finds_subjects_and_requesters_however_their_accents_were_written(client, stored, typed):
    """macOS and many imports write é as e and an accent; a search typed the other way finds them."""
    team = TeamFactory()
    jose = make_customer(name=stored("José Núñez"))
    by_name = make_ticket(jose, team=team, subject="Invoice")
    by_subject = make_ticket(make_customer(), team=team, subject=stored("Kündigung zum Monatsende"))
    client.force_login(make_agent(team))

    def found(words: str) -> set[int]:
        return {
            ticket.number
            for ticket in client.get(reverse("tickets:desk_queue"), {"q": words}).context["queue"].tickets
        }

    assert by_name.number in found(typed("Núñez"))
    assert by_subject.number in found(typed("Kündigung"))


def test_the_portal_finds_a_subject_submitted_decomposed_by_its_usual_spelling(client):
    customer = make_customer()
    client.force_login(customer)
    assert (
        client.post(
            reverse("tickets:portal_submit"), submission(subject=decomposed("Résumé upload fails"))
        ).status_code
        == 302
    )
    ticket = Ticket.objects.get(requester=customer)
    assert ticket.subject == composed("Résumé upload fails")
    listed = client.get(reverse("tickets:portal_list"), {"q": composed("Résumé")}).context["page"].object_list
    assert [row.number for row in listed] == [ticket.number]


def test_the_audit_export_starts_with_a_byte_order_mark_so_spreadsheets_read_it_as_utf8(client):
    """Without it Excel reads the file in the local code page: "Ð¡Ð±Ñ€Ð¾Ñ" for "Сброс"."""
    audit.record("update", actor=None, object_repr="Сброс пароля")
    client.force_login(make_administrator())
    raw = b"".join(client.post(reverse("audit:event_export"), {"action": "update"}).streaming_content)
    assert raw.startswith('\ufeff"sequence",'.encode())
    assert "Сброс пароля" in raw.decode("utf-8-sig")


@pytest.mark.parametrize("domain", ["straße.example", "ςigma.example"])
def test_a_domain_the_idna_standards_write_differently_is_taken_only_in_its_xn_form(domain):
    """Python's codec follows the older IDNA standard, which writes straße.example as strasse.example,
    another domain whose people the organisation would claim: such a domain is refused, and its xn--
    form taken."""
    with pytest.raises(ValidationError) as refusal:
        Organization(name="Straße", slug="strasse", email_domains=[domain]).full_clean()
    assert NOT_A_DOMAIN in refusal.value.message_dict["email_domains"][0]
    org = Organization(name="Straße", slug="strasse", email_domains=["xn--strae-oqa.example"])
    org.full_clean()
    assert org.email_domains == ["xn--strae-oqa.example"]


def test_accents_fold_alike_in_python_and_postgresql():
    """The search box folds what is typed as the generated column and the name index fold what is
    stored: the same text for every kind of letter, composed, with letters that are no letter plus an
    accent (ß, ø, ł) and other scripts kept as they are."""
    from django.db import connection

    from helpdesk.accents import Unaccented, unaccented

    samples = [
        "Café",
        "Núñez",
        "crème brûlée",
        "Ångström",
        "straße",
        "Øresund",
        "Łódź",
        "한국어",
        "がぎ",
        "Ωμέγα",
    ]
    with connection.cursor() as cursor:
        for text in samples:
            cursor.execute("SELECT " + Unaccented.template % {"expressions": "%s"}, [text])
            assert cursor.fetchone()[0] == unaccented(text), text
    assert [unaccented(text) for text in samples[:5]] == [
        "Cafe",
        "Nunez",
        "creme brulee",
        "Angstrom",
        "straße",
    ]
    assert unaccented("한국어") == "한국어" and unaccented("がぎ") == "がぎ"


def test_a_name_is_kept_on_one_line():
    """A name shows in headers, lists and exports: a line break or a run of spaces in it is dropped
    (in an export a line break would let the next line start with a formula)."""
    customer = make_customer(name="Carla\r\n=HYPERLINK(1)  \t Cruz")
    customer.refresh_from_db()
    assert customer.name == "Carla =HYPERLINK(1) Cruz"


@pytest.mark.parametrize(
    "text",
    [
        "\u200b\u2003\u200b",  # an em space between zero-width spaces
        "\u061c",  # the Arabic letter mark
        "\ufe0f\u180b",  # variation selectors
        "\U000e0041\U000e0042",  # tag characters
        "\u2800 \u3164",  # a blank Braille pattern and a Hangul filler
        "\u17b4\U0001d173",
    ],
)
def test_text_of_invisible_characters_and_spaces_shows_nothing(text):
    assert not shows_text(text)


@pytest.mark.parametrize("text", ["a", "\u200bé", "\u0915\u094d\u200d\u0937", "👨\u200d👩\u200d👧", "٣"])
def test_text_with_anything_to_see_shows_text(text):
    assert shows_text(text)


def test_variation_selectors_and_letter_marks_change_nothing_in_what_a_name_reads_as():
    assert reads_as("Café\ufe0f\u061c") == reads_as("café")
    assert reads_as("👨\u200d👩") != reads_as("👨👩")  # the joiner makes one picture of two
