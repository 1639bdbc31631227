"""A ticket's reference as people write and paste it, found on the desk and in the portal, and the
portal's search by every word typed, accents or not."""

import pytest
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets.models import number_from

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "number"),
    [("1042", 1042), ("T-1042", 1042), ("t-1042", 1042), ("#T-1042", 1042), ("##1042", 1042),
     ("T1042", 1042), ("T 1042", 1042), ("T - 1042", 1042), ("[T-1042]", 1042), ("(T-1042)", 1042),
     ("T-1042.", 1042), (" t-1042 ", 1042), ("001042", 1042),
     ("-1", None), ("1042 1043", None), ("10 42", None), ("T-", None), ("1e3", None), ("T-" + "9" * 25, None),
     ("٤٢", None)],
)  # fmt: skip
def test_a_reference_is_read_as_people_write_it(typed, number):
    """The receipt's subject gives "[T-1042]"; people write "T1042", "T 1042" and end a sentence with one.
    Before the fix only "T-", "#" and bare digits were read."""
    assert number_from(typed) == number


def make_tickets():
    team = TeamFactory(name="Support")
    customer = make_customer()
    return {
        "agent": make_agent(team),
        "customer": customer,
        "cafe": make_ticket(customer, team=team, subject="Café machine broken"),
        "printer": make_ticket(customer, team=team, subject="Printer out of paper"),
    }


_tickets_rows, tickets = made_once_per_module(make_tickets, "tickets")


@pytest.mark.parametrize("typed", ["[{ref}]", "{ref}.", "T{number}"])
def test_the_receipts_reference_finds_the_ticket_on_the_desk_and_in_the_portal(client, tickets, typed):
    """Pasted from the receipt's subject, "[T-1042]" finds the ticket. Before the fix: nothing matches."""
    ticket = tickets["printer"]
    query = typed.format(ref=ticket.reference, number=ticket.number)
    client.force_login(tickets["agent"])
    assert [
        t.pk for t in client.get(reverse("tickets:desk_queue"), {"q": query}).context["queue"].tickets
    ] == [ticket.pk]
    client.force_login(tickets["customer"])
    listed = client.get(reverse("tickets:portal_list"), {"q": query}).context["page"].object_list
    assert [t.pk for t in listed] == [ticket.pk]


@pytest.mark.parametrize(
    ("typed", "found"),
    [("cafe", "cafe"), ("CAFÉ machine", "cafe"), ("paper printer", "printer"), ("print", "printer"),
     ("printer coffee", None)],
)  # fmt: skip
def test_the_portal_finds_every_word_typed_in_any_order_with_or_without_accents(
    client, tickets, typed, found
):
    """ "cafe" finds "Café machine broken" and "paper printer" finds "Printer out of paper", as on the desk;
    a word the subject lacks finds nothing. Before the fix the portal looked for the text typed as one
    piece, accents and all."""
    client.force_login(tickets["customer"])
    listed = client.get(reverse("tickets:portal_list"), {"q": typed}).context["page"].object_list
    assert [t.pk for t in listed] == ([tickets[found].pk] if found else [])


@pytest.mark.parametrize(
    ("typed", "found"),
    [("drucker*", ["druck"]), ("Drucker* büro", ["druck"]), ("druck* -büro", []), ("drucker", []),
     ("dru* pap*", []), ("print* paper", ["printer"])],
)  # fmt: skip
def test_a_word_ending_in_a_star_is_the_start_of_one_on_the_desk(client, tickets, typed, found):
    """ "drucker*" finds "Druckerproblem im Büro" on the desk, with other words and websearch's -word
    alike; "drucker" alone still means the whole word. Before the fix the star was dropped and nothing
    was found: the portal, which matches within words, found it and the desk did not."""
    tickets["druck"] = make_ticket(
        tickets["customer"], team=tickets["cafe"].team, subject="Druckerproblem im Büro"
    )
    client.force_login(tickets["agent"])
    listed = client.get(reverse("tickets:desk_queue"), {"q": typed, "status": ["new", "open"]}).context[
        "queue"
    ]
    assert sorted(t.pk for t in listed.tickets) == sorted(tickets[name].pk for name in found)
