"""The desk's numbers (the live counts beside the built-in views, the "N tickets" line under the
list, the htmx status line) agree with what the views list, for every kind of viewer, and follow changes
as the code says they do (COUNT_CACHE_SECONDS, the viewer's own change mark)."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts import rbac, roles
from accounts import services as account_services
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import fresh, insert_tickets
from tickets import selectors, services
from tickets.models import Ticket
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")
PAGE = 3  # a small page, so that every view is read across several pages


# --- The world ---------------------------------------------------------------------------------------


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", PAGE)
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    carla = make_customer(acme, name="Carla Customer")
    gus = make_customer(globex, name="Gus Globex")
    sam = make_agent(support, name="Sam Support")  # one team
    bo = make_agent(support, billing, name="Bo Both")  # both teams
    sue = make_supervisor(support, name="Sue Supervisor")
    admin = make_administrator(name="Ada Admin")
    # An agent of Billing who is also a customer of Acme (its manager): their own requests of another
    # team are theirs in the portal, not the desk.
    cat = make_agent(billing, name="Cat Customer-Agent", organization=acme, is_organization_manager=True)
    account_services.role_assign(cat, roles.CUSTOMER, actor=None)
    # An agent of no team, who sees only what is granted to them.
    gil = make_agent(name="Gil Granted")
    rbac.forget(cat)

    made: dict[str, Ticket] = {}

    def tk(key, team, status=Status.NEW, *, requester=carla, assignee=None, ago=None, **fields):
        ticket = make_ticket(requester, team=team, subject=key, **fields)
        if assignee is not None:
            Ticket.objects.filter(pk=ticket.pk).update(assignee=assignee)
        if status == Status.PENDING or status == Status.ON_HOLD or status == Status.OPEN:
            services.ticket_transition(fresh(ticket), status=status, actor=None)
        elif status in (Status.RESOLVED, Status.CLOSED):
            services.ticket_transition(fresh(ticket), status=Status.RESOLVED, actor=None)
            if status == Status.CLOSED:
                services.ticket_transition(fresh(ticket), status=Status.CLOSED, actor=None)
        if ago is not None:  # solved long ago
            then = timezone.now() - ago
            Ticket.objects.filter(pk=ticket.pk).update(resolved_at=then, updated_at=then, closed_at=None)
        made[key] = fresh(ticket)
        return made[key]

    for team, name in ((support, "S"), (billing, "B")):
        for status in Status.values:
            tk(f"{name}-{status}", team, status)
            tk(f"{name}-{status}-sam", team, status, assignee=sam)
            tk(f"{name}-{status}-bo", team, status, assignee=bo)
        tk(f"{name}-resolved-old", team, Status.RESOLVED, ago=timedelta(days=20))
        tk(f"{name}-closed-old", team, Status.CLOSED, ago=timedelta(days=20))
        tk(f"{name}-pending-cat", team, Status.PENDING, assignee=cat)
        tk(f"{name}-globex", team, Status.OPEN, requester=gus)
    # A ticket of no team (waits for an administrator).
    tk("none-new", None)
    tk("none-pending", None, Status.PENDING)
    # Billing's, assigned to Sam (Support only): Sam sees it as its assignee.
    tk("B-open-assigned-to-sam-outsider", billing, Status.OPEN)
    Ticket.objects.filter(pk=made["B-open-assigned-to-sam-outsider"].pk).update(assignee=sam)
    # Explicit per-ticket grants: a Billing ticket to Sam, a Support one to Gil; an organisation to Gil.
    granted_to_sam = tk("B-open-granted-sam", billing, Status.OPEN)
    assign_perm("tickets.view_ticket", sam, granted_to_sam)
    granted_to_gil = tk("S-pending-granted-gil", support, Status.PENDING)
    assign_perm("tickets.view_ticket", gil, granted_to_gil)
    assign_perm(rbac.VIEW_ORGANIZATION_TICKETS, gil, globex)
    # A ticket granted to Sam and then deleted.
    deleted_granted = tk("B-open-granted-deleted", billing, Status.OPEN)
    assign_perm("tickets.view_ticket", sam, deleted_granted)
    # Soft-deleted ones.
    for key in ("S-deleted-new", "S-deleted-sam"):
        ticket = tk(key, support, Status.OPEN, assignee=sam if key.endswith("sam") else None)
        services.ticket_delete(ticket, actor=admin)
    services.ticket_delete(fresh(deleted_granted), actor=admin)
    # Merged: one into another, both Support's, the source was Sam's.
    source = tk("S-merge-source", support, Status.OPEN, assignee=sam)
    target = tk("S-merge-target", support, Status.OPEN, assignee=sam)
    services.ticket_merge(fresh(source), into=fresh(target), actor=admin)
    # A follow-up of a closed ticket (the customer answered it).
    closed = tk("S-closed-followed", support, Status.CLOSED)
    services.ticket_reply(fresh(closed), body="Still broken", actor=carla)
    # Requested by Cat (Billing agent) herself: one in Support (portal only), one in Billing (desk).
    tk("S-open-requested-by-cat", support, Status.OPEN, requester=cat)
    tk("B-open-requested-by-cat", billing, Status.OPEN, requester=cat)
    tk("S-pending-requested-by-cat-assigned-cat", support, Status.PENDING, requester=cat)
    # An assignee of another team who requested it: assigned, so worked by them.
    Ticket.objects.filter(pk=made["S-pending-requested-by-cat-assigned-cat"].pk).update(assignee=cat)
    for user in (sam, bo, sue, admin, cat, gil):
        rbac.forget(user)
    cache.clear()
    return {
        "support": support, "billing": billing, "acme": acme, "globex": globex, "carla": carla, "gus": gus,
        "sam": sam, "bo": bo, "sue": sue, "admin": admin, "cat": cat, "gil": gil, "t": made,
    }  # fmt: skip


VIEWERS = ("sam", "bo", "sue", "admin", "cat", "gil")


# --- Reading the page --------------------------------------------------------------------------------


def sidebar_counts(html: str) -> dict[str, int]:
    found = re.findall(
        r'<a id="view-([a-z-]+)"[^>]*>\s*<span>[^<]*</span>\s*<span class="count">([\d,]+)</span>', html
    )
    return {slug: int(count.replace(",", "")) for slug, count in found}


def list_line(html: str) -> str:
    match = re.search(r'<span class="muted">([^<]*) · page (\d+)</span>', html)
    return match.group(1) if match else ""


def rows(html: str) -> list[int]:
    """Ticket numbers listed in the table, in order."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    if not body:
        return []
    numbers = re.findall(r'href="/desk/tickets/(\d+)/', body.group(1))
    seen: list[int] = []
    for number in map(int, numbers):
        if number not in seen:
            seen.append(number)
    return seen


def read_view(client, query: str) -> tuple[list[int], list[str], dict[str, int], object]:
    """Every row of the view across its pages, the "N tickets" line of each page, the sidebar counts of
    the first page, and the first page's response."""
    numbers: list[int] = []
    lines: list[str] = []
    first = client.get(f"{QUEUE}?{query}")
    assert first.status_code == 200
    html = first.content.decode()
    counts = sidebar_counts(html)
    page = 1
    while True:
        numbers += rows(html)
        lines.append(list_line(html))
        if 'rel="next"' not in html:
            break
        page += 1
        assert page < 100
        html = client.get(f"{QUEUE}?{query}&page={page}").content.decode()
    return numbers, lines, counts, first


def shown(n: int) -> str:
    return f"{n} ticket{'s' if n != 1 else ''}"


def number_of(world, key) -> int:
    return world["t"][key].number


# --- Every viewer, every built-in view ---------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_built_in_view_counts_equal_the_rows_listed_for_every_viewer(client, world, viewer):
    """For each kind of viewer and each built-in view: the count beside the view, the "N tickets" line
    on every page and the number of rows read across the pages are one and the same number; no row
    repeats across pages."""
    user = world[viewer]
    client.force_login(user)
    for view in selectors.built_in_views():
        numbers, lines, counts, _ = read_view(client, view.query)
        assert len(numbers) == len(set(numbers)), (viewer, view.slug, "a row repeated across pages")
        expected = len(numbers)
        assert counts[view.slug] == expected, (viewer, view.slug, counts, expected)
        for line in lines:
            if expected:
                assert line == shown(expected), (viewer, view.slug, line)


def test_a_colleagues_change_lags_in_the_counts_no_longer_than_the_cache_time(client, world, clock):
    """Documented (selectors: "its total may lag by as much"): after a colleague takes a ticket from
    "Unassigned in my teams", the count beside the view and the "N tickets" of the list's first pages
    may say the old number (the last page corrects it from its rows) for up to COUNT_CACHE_SECONDS; past
    that, all agree again."""
    sam, bo = world["sam"], world["bo"]
    unassigned = next(v for v in selectors.built_in_views() if v.slug == "unassigned")
    client.force_login(sam)
    numbers, _, counts, _ = read_view(client, unassigned.query)
    assert counts["unassigned"] == len(numbers)
    services.ticket_assign(fresh(world["t"]["S-new"]), assignee=bo, actor=bo)
    numbers, lines, counts, _ = read_view(client, unassigned.query)
    assert (counts["unassigned"], lines[0], lines[-1]) == (
        len(numbers) + 1,
        shown(len(numbers) + 1),
        shown(len(numbers)),
    )
    clock.shift(selectors.COUNT_CACHE_SECONDS + 1)
    numbers, lines, counts, _ = read_view(client, unassigned.query)
    assert counts["unassigned"] == len(numbers) and set(lines) == {shown(len(numbers))}


def test_my_open_tickets_list_total_after_a_colleague_hands_over_tickets_is_a_real_number(client, world):
    """A colleague hands Sam several tickets. queue_counts counts "My open tickets" afresh on every page
    (its docstring: a colleague handing them a ticket shows at the next refresh), so the count beside
    the view is right at once. The list of that very view, on the same page, says "N tickets" from its
    cached count, which CappedPaginator.page raises to "rows seen so far + 1" when a page has a Next: a
    number that was never the total (neither the old one nor the new one), and that changes from page
    to page ("6 tickets", "9 tickets", ...) until the last page says the real one.

    Expected (as Zendesk/FreeScout show a view's count and its list's total): one total on the page, the
    same beside the view and under its list; at worst an older true total (the documented lag), never an
    invented one."""
    sam, bo, t = world["sam"], world["bo"], world["t"]
    mine = next(v for v in selectors.built_in_views() if v.slug == "mine")
    client.force_login(sam)
    numbers, lines, counts, _ = read_view(client, mine.query)
    old_total = len(numbers)
    assert counts["mine"] == old_total and set(lines) == {shown(old_total)}
    handed = [t[f"{team}-{status}-bo"] for team in ("S",) for status in ("new", "open", "pending", "on_hold")]
    handed += [t["S-new"], t["S-open"], t["S-pending"], t["S-on_hold"]]
    for ticket in handed:
        services.ticket_assign(fresh(ticket), assignee=sam, actor=bo)
    numbers, lines, counts, _ = read_view(client, mine.query)
    new_total = len(numbers)
    assert new_total == old_total + len(handed)
    assert counts["mine"] == new_total  # the count beside the view: fresh, as intended
    invented = [line for line in lines if line not in (shown(old_total), shown(new_total))]
    assert not invented, f"totals {old_total} then {new_total}; the list's pages said {lines}"
    assert lines[0] == shown(new_total), (counts["mine"], lines)


def test_a_long_list_and_its_view_count_read_in_thousands(client, world):
    """Past a thousand the view's count and the list's total are grouped ("1,205 tickets"), as the capped
    list's "More than 10,000" is: "1205" beside "10,000" read as two kinds of number."""
    insert_tickets(1_200, requester=world["carla"], team=world["support"], status="open")
    client.force_login(world["sam"])
    view = next(v for v in selectors.built_in_views() if v.slug == "team-open")
    html = client.get(f"{QUEUE}?{view.query}").content.decode()
    total = sidebar_counts(html)["team-open"]
    assert 1_200 < total < 10_000
    assert f"{total:,} tickets · page 1" in html and f'<span class="count">{total:,}</span>' in html


def test_the_list_says_more_than_ten_thousand_and_the_view_count_is_exact(client, world):
    """Past COUNT_CAP the list says "More than 10,000 tickets" while the count beside the view is exact
    (queue_counts counts without the cap): both hold, neither contradicts the other."""
    from helpdesk.counting import COUNT_CAP

    insert_tickets(COUNT_CAP + 1, requester=world["carla"], team=world["support"], status="open")
    client.force_login(world["sam"])
    view = next(v for v in selectors.built_in_views() if v.slug == "team-open")
    response = client.get(f"{QUEUE}?{view.query}")
    html = response.content.decode()
    assert "More than 10,000 tickets (count capped)" in html
    assert sidebar_counts(html)["team-open"] > COUNT_CAP
    fragment = client.get(f"{QUEUE}?{view.query}", headers={"HX-Request": "true", "HX-Target": "queue-table"})
    assert (
        '<p id="queue-status" hx-swap-oob="innerHTML">More than 10,000 tickets.</p>'
        in fragment.content.decode()
    )
    assert 'rel="next"' in html
