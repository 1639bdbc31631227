# ruff: noqa: RUF001, RUF002
"""The agent queue's search box and filters (tickets/filters.py TicketQueueFilter, tickets/selectors.py
ticket_queue_page): references as people type and paste them, people by name and (for those who may see
contact details) address, and filter combinations checked against a computation in Python."""

import zoneinfo
from datetime import date, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from accounts.models import TeamMember, User
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    SavedViewFactory,
    TagFactory,
    TeamFactory,
    TeamMemberFactory,
    give_custom_role,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
    make_user_with_role,
)
from tests.tickets.conftest import insert_tickets
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def text(response) -> str:
    return unescape(response.content.decode())


def queue_of(client, **params):
    response = client.get(QUEUE, params)
    assert response.status_code == 200, (params, response.status_code)
    return response, response.context["queue"]


def numbers(client, **params) -> list[int]:
    return [ticket.number for ticket in queue_of(client, **params)[1].tickets]


def subjects(client, **params) -> set[str]:
    return {ticket.subject for ticket in queue_of(client, **params)[1].tickets}


def set_times(ticket, *, created=None, updated=None) -> None:
    changes = {}
    if created is not None:
        changes["created_at"] = created
    if updated is not None:
        changes["updated_at"] = updated
    Ticket.objects.filter(pk=ticket.pk).update(**changes)


def make_desk():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    acme = OrganizationFactory(name="Acme")
    carla = make_customer(acme, name="Carla Customer", email="carla.customer@acme.example")
    mueller = make_customer(name="Jürgen Müller", email="juergen@bucher.example")
    tanaka = make_customer(name="田中 太郎", email="tanaka@example.jp")
    tickets = {
        "printer": make_ticket(carla, team=support, subject="Printer on fire"),
        "wifi": make_ticket(carla, team=support, subject="Wi-Fi drops every hour"),
        "email": make_ticket(mueller, team=support, subject="E-mail bounces back"),
        "cjk": make_ticket(tanaka, team=support, subject="打印机无法连接到网络"),
        "billing": make_ticket(carla, team=billing, subject="Secret invoice dispute"),
    }
    agent = make_agent(support, name="Alex Agent")
    return {"support": support, "billing": billing, "acme": acme, "carla": carla, "mueller": mueller,
            "tanaka": tanaka, "agent": agent, **tickets}  # fmt: skip


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def tier_one(team) -> User:
    """A desk role an administrator made without "Can view user details" (accounts.view_user_info)."""
    tier = make_user_with_role("Customer", name="Tina Tier")
    tier.groups.clear()
    tier = give_custom_role(
        tier, "Tier 1", [("accounts", "view_support_queue"), ("accounts", "provide_support")]
    )
    TeamMemberFactory(team=team, user=tier, role=TeamMember.Role.AGENT)
    return tier


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["T-{n}", "#{n}", " t-{n} ", "[T-{n}]", "T{n}", "#T-{n}", "T-{n}."])
def test_a_reference_in_any_spelling_finds_that_ticket_alone(client, desk, spelling):
    target = desk["wifi"]
    make_ticket(desk["carla"], team=desk["support"], subject=f"Order {target.number} lost")
    client.force_login(desk["agent"])
    assert numbers(client, q=spelling.format(n=target.number)) == [target.number]


@pytest.mark.parametrize("spelling", ["T-{n}", "{n}", "#{n}", "[T-{n}] Re: invoice"])
def test_the_number_of_a_ticket_the_agent_cannot_see_finds_nothing(client, desk, spelling):
    client.force_login(desk["agent"])
    hidden = desk["billing"]
    response, queue = queue_of(client, q=spelling.format(n=hidden.number))
    assert queue.tickets == []
    assert queue.page.paginator.count == 0
    page = text(response)
    assert "Secret invoice" not in page
    assert "No tickets" in page or "no tickets" in page.lower()
    # The same answer as a number nobody has: nothing tells the two apart.
    _, other = queue_of(client, q="T-987654")
    assert other.page.paginator.count == 0


# --- people --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Carla", {"Printer on fire", "Wi-Fi drops every hour"}),
        ("Car", {"Printer on fire", "Wi-Fi drops every hour"}),
        ("carla customer", {"Printer on fire", "Wi-Fi drops every hour"}),
        ("carla.customer@acme.example", {"Printer on fire", "Wi-Fi drops every hour"}),
        ("CARLA.CUSTOMER@ACME.EXAMPLE", {"Printer on fire", "Wi-Fi drops every hour"}),
        ("carla.customer@ac", {"Printer on fire", "Wi-Fi drops every hour"}),
        ("Müller", {"E-mail bounces back"}),
        ("Muller", {"E-mail bounces back"}),
        ("jurgen", {"E-mail bounces back"}),
        ("田中", {"打印机无法连接到网络"}),
        ("网络", {"打印机无法连接到网络"}),
        ("打印机", {"打印机无法连接到网络"}),
        ("e-mail", {"E-mail bounces back"}),
        ("wi-fi", {"Wi-Fi drops every hour"}),
        ('"drops every"', {"Wi-Fi drops every hour"}),
        ('"every drops"', set()),
        ("printer -fire", set()),
    ],
)
def test_people_and_words_are_found(client, desk, typed, expected):
    client.force_login(desk["agent"])
    _, queue = queue_of(client, q=typed)
    assert {ticket.subject for ticket in queue.tickets} == expected
    assert queue.page.paginator.count == len(expected)


@pytest.mark.parametrize(
    "typed",
    [
        "a & b",
        "!x",
        "foo:*",
        "printer & fire",
        "!printer",
        "print:*",
        "'",
        "\\",
        "(",
        ")",
        "<->",
        "a | b",
        "a:A",
        "*",
        "-",
        "--",
        '"',
        '""',
        '-""',
        "OR OR",
        "& | ! ( ) : * ' \"",
        "%",
        "_",
        "\x00",
        "T-",
        "#",
        "[T-]",
        "T-99999999999999999999",
        "#-1",
        "１０４２",
        "x" * 5000,
    ],
)
def test_hostile_search_text_never_fails(client, desk, typed):
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"q": typed})
    assert response.status_code == 200
    assert "Secret invoice" not in text(response)


def test_operators_typed_as_text_are_read_as_words(client, desk):
    client.force_login(desk["agent"])
    assert subjects(client, q="printer & fire") == {"Printer on fire"}
    assert subjects(client, q="print:*") == {"Printer on fire"}
    assert subjects(client, q="!printer") == {"Printer on fire"}


def test_a_desk_role_without_view_user_info_cannot_read_addresses_through_the_search(client, desk):
    """ "Can view user details" (accounts.view_user_info) hides a requester's e-mail address from a
    desk role without it: the queue row and the Requester panel show the name only. Were the search box
    to match address prefixes for such an agent, they would read the address back one character at a
    time ("carla.customer@a" finds Carla's tickets, "carla.customer@b" does not, …): for a viewer without
    view_user_info the search matches names and subjects, not addresses."""
    tier = tier_one(desk["support"])
    client.force_login(tier)
    # The row names Carla but does not show her address ...
    page = text(client.get(QUEUE))
    assert "Carla Customer" in page
    assert "carla.customer@acme.example" not in page
    # ... yet the search confirms it, and its domain, letter by letter.
    recovered = "carla.customer@"
    for _ in range(len("acme.example")):
        for letter in "abcdefghijklmnopqrstuvwxyz.":
            if subjects(client, q=recovered + letter):
                recovered += letter
                break
    assert recovered != "carla.customer@acme.example", (
        "the search disclosed the address hidden from this role: " + recovered
    )


def test_an_agent_holding_view_user_info_finds_requesters_by_address(client, desk):
    client.force_login(desk["agent"])
    assert subjects(client, q="juergen@bucher.example") == {"E-mail bounces back"}


# --- filters against a computation in Python -------------------------------------------------------


@pytest.fixture
def varied(desk):
    """Twelve Support tickets of varied status, tag, priority, channel and creation day."""
    vip, slow = TagFactory(name="vip"), TagFactory(name="slow")
    agent = desk["agent"]
    zone = zoneinfo.ZoneInfo("UTC")
    base = datetime(2024, 5, 1, 12, tzinfo=zone)
    statuses = ["open", "pending", "open", "resolved", "new", "open", "pending", "open", "new", "open",
                "resolved", "pending"]  # fmt: skip
    rows = []
    for n, status in enumerate(statuses):
        ticket = make_ticket(desk["carla"], team=desk["support"], subject=f"Varied {n}")
        tags = [vip] if n % 2 == 0 else []
        tags += [slow] if n % 3 == 0 else []
        ticket.tags.set(tags)
        created = base + timedelta(days=n)
        Ticket.objects.filter(pk=ticket.pk).update(
            status=status,
            priority=["low", "medium", "high", "urgent"][n % 4],
            channel=["web", "email"][n % 2],
            assignee=agent if n % 5 == 0 else None,
            created_at=created,
            updated_at=created + timedelta(hours=1),
        )
        rows.append({"subject": f"Varied {n}", "status": status, "tags": {t.name for t in tags},
                     "created": created.date(), "priority": ["low", "medium", "high", "urgent"][n % 4],
                     "channel": ["web", "email"][n % 2], "mine": n % 5 == 0})  # fmt: skip
    return rows


def test_combined_filters_give_exactly_the_intersection(client, desk, varied):
    client.force_login(desk["agent"])
    response = client.get(
        QUEUE,
        {"status": ["open", "pending"], "tag": "vip", "created_after": "2024-05-02",
         "created_before": "2024-05-09", "q": "varied"},
    )  # fmt: skip
    assert response.status_code == 200
    got = {ticket.subject for ticket in response.context["queue"].tickets}
    expected = {
        row["subject"]
        for row in varied
        if row["status"] in ("open", "pending")
        and "vip" in row["tags"]
        and date(2024, 5, 2) <= row["created"] <= date(2024, 5, 9)
    }
    assert got == expected and expected
    assert response.context["queue"].page.paginator.count == len(expected)


def test_more_combined_filters(client, desk, varied):
    client.force_login(desk["agent"])
    got = subjects(client, priority=["high", "urgent"], channel="web", tag="slow", q="varied")
    expected = {
        r["subject"]
        for r in varied
        if r["priority"] in ("high", "urgent") and r["channel"] == "web" and "slow" in r["tags"]
    }
    assert got == expected
    got = subjects(client, assignee="me", status="open", q="varied")
    assert got == {r["subject"] for r in varied if r["mine"] and r["status"] == "open"}
    got = subjects(client, assignee="none", status=["new", "resolved"], q="varied")
    assert got == {r["subject"] for r in varied if not r["mine"] and r["status"] in ("new", "resolved")}


def test_reversed_dates_are_said_and_not_a_silent_empty_list(client, desk, varied):
    client.force_login(desk["agent"])
    response, queue = queue_of(client, created_after="2024-05-09", created_before="2024-05-02")
    assert any(t.subject == "Varied 0" for t in queue.tickets)  # the range is not applied, and said
    assert "The To date is before the From date." in text(response)


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "2024-13-45"},
        {"created_before": "yesterday"},
        {"updated_after": "0000-01-01"},
        {"created_after": "99999-01-01"},
        {"created_before": "9999-12-31"},
        {"created_after": "0001-01-01"},
        {"created_within": "12"},
        {"created_within": "-1"},
        {"solved_within": "999999999999"},
        {"team": "abc"},
        {"team": "99999999999999999999999"},
        {"organization": "-1"},
        {"requester": "1.5"},
        {"requester": "99999999999999999999999"},
        {"assignee": "99999999999999999999999"},
        {"assignee": "-3"},
        {"channel": "pigeon"},
        {"sort": "subject; drop table"},
        {"page": "-1"},
        {"page": "9" * 40},
        {"tag": "x" * 500},
        {"nonsense": "1", "q": "printer"},
    ],
)
def test_bad_filter_values_never_fail(client, desk, params):
    client.force_login(desk["agent"])
    response = client.get(QUEUE, params)
    assert response.status_code == 200


def test_a_bad_date_is_said(client, desk):
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"created_after": "2024-13-45"})
    assert "Some filters were not applied" in text(response)


def test_days_are_whole_in_the_viewers_time_zone(client, desk):
    agent = desk["agent"]
    User.objects.filter(pk=agent.pk).update(timezone="America/New_York")
    zone = zoneinfo.ZoneInfo("America/New_York")
    late = make_ticket(desk["carla"], team=desk["support"], subject="Late evening")
    early = make_ticket(desk["carla"], team=desk["support"], subject="Early morning")
    # 23:30 on 10 June in New York is 03:30 on 11 June in UTC.
    set_times(late, created=datetime(2024, 6, 10, 23, 30, tzinfo=zone))
    set_times(early, created=datetime(2024, 6, 11, 0, 15, tzinfo=zone))
    client.force_login(User.objects.get(pk=agent.pk))
    assert subjects(client, created_before="2024-06-10", created_after="2024-06-10") == {"Late evening"}
    assert subjects(client, created_after="2024-06-11", created_before="2024-06-11") == {"Early morning"}
    assert subjects(client, created_before="2024-06-10") >= {"Late evening"}
    assert "Early morning" not in subjects(client, created_before="2024-06-10")


def test_assignee_me_without_tickets_is_empty(client, desk):
    other = make_agent(desk["support"], name="Nobody Assigned")
    client.force_login(other)
    response, queue = queue_of(client, assignee="me")
    assert queue.tickets == [] and queue.page.paginator.count == 0
    assert "No tickets" in text(response) or "no tickets" in text(response).lower()


def test_a_saved_view_whose_team_was_deleted_says_so(client, desk):
    doomed = TeamFactory(name="Doomed")
    TeamMemberFactory(team=doomed, user=desk["agent"], role=TeamMember.Role.AGENT)
    make_ticket(desk["carla"], team=doomed, subject="Doomed team ticket")
    view = SavedViewFactory(owner=desk["agent"], query=f"team={doomed.pk}&status=new", name="Doomed")
    doomed.delete()
    client.force_login(User.objects.get(pk=desk["agent"].pk))
    response = client.get(f"{QUEUE}?{view.query}")
    assert response.status_code == 200
    page = text(response)
    assert "Some filters were not applied" in page


def test_a_saved_view_whose_tag_was_deleted_shows_nothing(client, desk):
    tag = TagFactory(name="gone")
    desk["printer"].tags.add(tag)
    view = SavedViewFactory(owner=desk["agent"], query="tag=gone", name="Gone")
    tag.delete()
    client.force_login(desk["agent"])
    response = client.get(f"{QUEUE}?{view.query}")
    assert response.status_code == 200
    assert response.context["queue"].tickets == []


def test_count_equals_rows_across_pages_and_past_the_end(client, desk):
    insert_tickets(30, requester=desk["carla"], team=desk["support"])
    client.force_login(desk["agent"])
    _, first = queue_of(client, q="bulk")
    _, second = queue_of(client, q="bulk", page="2")
    assert first.page.paginator.count == 30
    seen = [t.number for t in first.tickets] + [t.number for t in second.tickets]
    assert len(seen) == len(set(seen)) == 30
    _, beyond = queue_of(client, q="bulk", page="99")
    assert beyond.page.number == 2 and len(beyond.tickets) == 5


def test_unknown_sort_and_keys_fall_back(client, desk):
    client.force_login(desk["agent"])
    _, queue = queue_of(client, sort="subject", evil="1")
    assert queue.sort == "updated"
    assert "Secret invoice" not in {t.subject for t in queue.tickets}


def test_requester_and_organisation_filters_keep_to_visible_tickets(client, desk):
    client.force_login(desk["agent"])
    carlas = {"Printer on fire", "Wi-Fi drops every hour"}
    assert subjects(client, requester=str(desk["carla"].pk)) == carlas
    assert subjects(client, organization=str(desk["acme"].pk)) == carlas


def test_an_administrator_finds_any_ticket_by_number(client, desk):
    client.force_login(make_administrator())
    assert numbers(client, q=desk["billing"].reference) == [desk["billing"].number]


# --- references and addresses as people type and paste them -----------------------------------------

FULL_WIDTH = str.maketrans("0123456789#T-", "０１２３４５６７８９＃Ｔ－")


@pytest.mark.parametrize("spelling", ["{n}", "#{n}", "T-{n}"])
def test_a_reference_typed_in_full_width_characters_finds_the_ticket(client, desk, spelling):
    """A Japanese, Chinese or Korean agent whose input method is in full-width mode types "１０４２",
    "＃１０４２" or "Ｔ－１０４２" (NFKC-compatible forms of "1042", "#1042", "T-1042"). The desk is
    documented to search CJK text (README), and its subject index folds these forms (SearchWords applies
    NFKC): the reference is read NFKC-folded too (tickets.models.number_from), and the ticket of that
    number is found."""
    target = desk["wifi"]
    client.force_login(desk["agent"])
    typed = spelling.format(n=target.number).translate(FULL_WIDTH)
    assert target.number in numbers(client, q=typed), typed


@pytest.mark.parametrize("dash", ["\u2013", "\u2011", "\u2010"])
def test_a_reference_pasted_with_a_typographic_hyphen_finds_the_ticket(client, desk, dash):
    """Mail clients and word processors turn "T-1042" into "T–1042" (en dash, autocorrect) or
    "T‑1042" (non-breaking hyphen, so the reference is not split across lines); agents paste it from
    there. Any Unicode dash between the prefix and the digits is read like "-", as "T 1042" and "T1042"
    are."""
    target = desk["wifi"]
    client.force_login(desk["agent"])
    assert numbers(client, q=f"T{dash}{target.number}") == [target.number]
