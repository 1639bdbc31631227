"""The agent's ticket workspace (/desk/tickets/<number>/) as an agent works a ticket: the
composer (hostile and empty bodies, notes kept from the customer), inline edits (refused transitions,
odd assignees, stale pages), merges (self, cycles, closed, other organisation), the queue neighbours
and the timeline."""

import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from accounts.models import User
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import (
    edit,
    fresh,
    make_desk,
    merge_url,
    page_text,
    portal_detail_url,
    reply_data,
    reply_url,
    update_url,
    ws,
)
from tickets import services
from tickets.models import TicketActivity, TicketMessage

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HTMX = {"HTTP_HX_REQUEST": "true"}


def timeline(response) -> str:
    page = page_text(response)
    found = re.search(r'<ol class="timeline".*?</ol>', page, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split()) if found else ""


# --- Composer ---------------------------------------------------------------------------------


HOSTILE = (
    "Hello <script>alert('s')</script> <img src=x onerror=alert('i')>\n\n"
    "[click](javascript:alert('j')) [click2](JaVaScRiPt:alert(1)) <javascript:alert('auto')>\n\n"
    "![pixel](data:image/png;base64,iVBORw0KGgo=) [d](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '[v](vbscript:msgbox(1)) <a href="javascript:alert(2)">raw</a>'
)


def _assert_clean(html: str) -> None:
    lowered = re.sub(r"&lt;.*?&gt;", "", html.lower())  # raw HTML shows as escaped text only
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "onerror=" not in lowered
    for scheme in ("javascript:", "data:", "vbscript:"):
        assert f'href="{scheme}' not in lowered, html
    assert not re.search(r"<a [^>]*href=\"(?!https?:|mailto:|#)", html), html


@pytest.mark.parametrize("kind", ["reply", "note"])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_hostile_markdown_is_stored_and_shown_sanitised(client, desk, kind, headers):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, HOSTILE, kind=kind), **headers)
    assert response.status_code == 302
    message = TicketMessage.objects.get(ticket=ticket, body=HOSTILE)
    _assert_clean(message.body_html)
    page = client.get(ws(ticket)).content.decode()
    body = page.split(f'id="message-{message.pk}"')[1].split("</li>")[0]
    _assert_clean(body)


@pytest.mark.parametrize("body", ["\u200b\u200b\u2060", "\u3164 \u200d\ufeff", "&#8203; &nbsp;", "   \n\t "])
@pytest.mark.parametrize("kind", ["reply", "note"])
def test_a_body_showing_nothing_is_refused_beside_the_field(client, desk, body, kind):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    before = ticket.version
    response = client.post(reply_url(ticket), reply_data(ticket, body, kind=kind))
    assert response.status_code == 422
    assert not TicketMessage.objects.filter(
        ticket=ticket, is_internal=(kind == "note"), from_staff=True
    ).exists()
    page = page_text(response)
    around_body = page.split('name="body"')[0][-400:] + page.split('name="body"')[1][:400]
    assert 'aria-invalid="true"' in around_body
    assert fresh(ticket).version == before


def test_a_body_past_fifty_thousand_characters_comes_back_whole(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    body = "word " * 10_001  # 50,005 characters
    response = client.post(reply_url(ticket), reply_data(ticket, body))
    assert response.status_code == 422
    assert body.strip() in page_text(response)
    assert not TicketMessage.objects.filter(ticket=ticket, from_staff=True).exists()


def test_internal_notes_never_reach_the_portal(client, desk):
    ticket = desk["ticket"]
    agent, customer = desk["agent"], desk["customer"]
    client.force_login(agent)
    client.post(reply_url(ticket), reply_data(ticket, "SECRET-NOTE-991", kind="note"))
    client.post(reply_url(ticket), reply_data(fresh(ticket), "Public words 552"))
    client.force_login(customer)
    for headers in ({}, HTMX):
        page = client.get(portal_detail_url(ticket), **headers).content.decode()
        assert "Public words 552" in page
        assert "SECRET-NOTE-991" not in page
    listing = client.get(reverse("tickets:portal_list")).content.decode()
    assert "SECRET-NOTE-991" not in listing


# --- Inline edits: refused transitions and assignees ----------------------------------------------


def _activities(ticket) -> int:
    return TicketActivity.objects.filter(ticket=ticket).count()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("start", "asked"),
    [
        ("resolved", "pending"),
        ("resolved", "on_hold"),
        ("open", "new"),
        ("closed", "open"),
        ("open", "bogus"),
    ],
)
def test_a_transition_the_status_does_not_allow_is_refused_and_changes_nothing(
    client,
    desk,
    headers,
    start,
    asked,
):
    ticket = desk["ticket"]
    if start != "new":
        services.ticket_transition(ticket, status="open", actor=desk["supervisor"])
    if start in ("resolved", "closed"):
        services.ticket_transition(fresh(ticket), status=start, actor=desk["supervisor"])
    ticket = fresh(ticket)
    before, count = ticket.version, _activities(ticket)
    client.force_login(desk["supervisor"])
    response = client.post(update_url(ticket), edit("status", asked, ticket.version), **headers)
    assert response.status_code in (409, 422)
    assert 'id="edit-error"' in response.content.decode()
    after = fresh(ticket)
    assert (after.status, after.version, _activities(ticket)) == (start, before, count)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize("who", ["other_team", "suspended", "inactive", "customer", "unknown", "garbage"])
def test_assigning_to_someone_who_cannot_work_the_ticket_is_refused(client, desk, headers, who):
    ticket = desk["ticket"]
    if who == "other_team":
        value = str(desk["biller"].pk)
    elif who == "suspended":
        value = str(make_agent(desk["support"], name="Sus Pended", status=User.Status.SUSPENDED).pk)
    elif who == "inactive":
        # Pending (never signed in): not active.
        value = str(make_agent(desk["support"], name="Pen Ding", status=User.Status.PENDING).pk)
    elif who == "customer":
        value = str(desk["customer"].pk)
    elif who == "unknown":
        value = "987654321"
    else:
        value = "1; DROP TABLE"
    before, count = ticket.version, _activities(ticket)
    client.force_login(desk["supervisor"])
    response = client.post(update_url(ticket), edit("assignee", value, ticket.version), **headers)
    assert response.status_code in (409, 422), response.status_code
    assert 'id="edit-error"' in response.content.decode()
    after = fresh(ticket)
    assert (after.assignee_id, after.version, _activities(ticket)) == (None, before, count)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("field", "mine", "theirs"),
    [("priority", "high", "low"), ("tags", "vip", "billing"), ("status", "pending", "on_hold")],
)
def test_the_second_of_two_agents_editing_a_field_is_told_not_overwritten(
    client,
    desk,
    headers,
    field,
    mine,
    theirs,
):
    ticket = desk["ticket"]
    seen = ticket.version
    client.force_login(desk["colleague"])
    assert client.post(update_url(ticket), edit(field, theirs, seen)).status_code == 302
    client.force_login(desk["agent"])
    response = client.post(update_url(ticket), edit(field, mine, seen), **headers)
    assert response.status_code == 409
    assert "Someone changed this ticket" in page_text(response)
    after = fresh(ticket)
    held = {
        "priority": after.priority,
        "status": after.status,
        "tags": ",".join(after.tags.values_list("name", flat=True)),
    }[field]
    assert held == theirs


# --- Merges ---------------------------------------------------------------------------------------


def _merge(client, source, into, **extra):
    data = {"into": into, "version": fresh(source).version, "confirm": "merge", **extra}
    return client.post(merge_url(source), data)


@pytest.mark.parametrize("case", ["itself", "cycle", "closed", "deleted", "other_org", "other_requester"])
def test_merges_that_cannot_be_are_refused_and_change_nothing(client, desk, case):
    supervisor, customer = desk["supervisor"], desk["customer"]
    source = desk["ticket"]
    target = make_ticket(customer, team=desk["support"], subject="Second")
    if case == "itself":
        target = source
    elif case == "cycle":  # the target was merged into the source before
        services.ticket_merge(target, into=source, actor=supervisor)
    elif case == "closed":
        services.ticket_transition(target, status="closed", actor=supervisor)
    elif case == "deleted":
        services.ticket_delete(target, actor=make_administrator())
    elif case == "other_org":
        stranger = make_customer(OrganizationFactory(), name="Other Org")
        target = make_ticket(stranger, team=desk["support"], subject="Theirs")
    elif case == "other_requester":
        target = make_ticket(
            make_customer(customer.organization), team=desk["support"], subject="Colleague's"
        )
    before = fresh(source)
    count, messages = _activities(source), TicketMessage.objects.filter(ticket=source).count()
    client.force_login(supervisor)
    response = _merge(client, source, target.reference)
    assert response.status_code == 422
    after = fresh(source)
    assert (after.merged_into_id, after.status, after.version) == (
        before.merged_into_id,
        before.status,
        before.version,
    )
    assert _activities(source) == count
    assert TicketMessage.objects.filter(ticket=source).count() == messages


# --- The timeline ---------------------------------------------------------------------------------


def test_the_timeline_shows_each_change_once_with_its_actor(client, desk):
    ticket = desk["ticket"]
    agent, colleague = desk["agent"], desk["colleague"]
    client.force_login(agent)
    client.post(update_url(ticket), edit("priority", "urgent", ticket.version))
    client.force_login(colleague)
    client.post(reply_url(ticket), reply_data(fresh(ticket), "Done", status_after="pending"))
    client.post(update_url(ticket), edit("tags", "vip, vip ,VIP", fresh(ticket).version))
    client.force_login(agent)
    text = timeline(client.get(ws(ticket)))
    assert text.count("Urgent") == 1, text
    assert re.search(r"Alex Agent [^A-Z]*priority", text, re.I), text
    assert text.count("Pending") == 1, text
    assert re.search(r"Casey Colleague [^A-Z]*status", text, re.I), text
    assert text.lower().count("vip") == 1, text


# --- Queue neighbours -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "queue",
    [
        "status=bogus&assignee=abc&created_after=notadate&sort=__class__",
        "page=99999999999999999999&team=-1&tag=%00",
        "q=%00&organization=1e9&priority=urgent&priority=low",
        "updated_within=-5&solved_before=2024-13-45&scope=everything",
    ],
)
def test_a_workspace_opened_from_an_odd_queue_still_opens(client, desk, queue):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.get(f"{ws(ticket)}?queue={quote(queue)}&previous=x&next=-3")
    assert response.status_code == 200


def test_next_moves_on_when_the_next_ticket_left_the_queue(client, desk):
    customer, support = desk["customer"], desk["support"]
    first = desk["ticket"]
    second = make_ticket(customer, team=support, subject="Second")
    third = make_ticket(customer, team=support, subject="Third")
    fourth = make_ticket(customer, team=support, subject="Fourth")
    queue = "sort=-number"
    client.force_login(desk["agent"])
    page = page_text(client.get(f"{ws(second)}?queue={queue.replace('=', '%3D')}"))
    assert f"/desk/tickets/{third.number}/" in page.split("Next")[0].rsplit("href=", 1)[1]
    services.ticket_update_fields(third, changes={"team": desk["billing"]}, actor=desk["supervisor"])
    # Work on the second sent from the page that had the third as Next.
    response = client.post(
        update_url(second),
        edit("priority", "high", second.version, queue=queue, previous=first.number, next=third.number),
    )
    assert response.status_code == 302
    page = page_text(client.get(response["Location"]))
    nav = page.split('aria-label="Queue navigation"')[1].split("</nav>")[0]
    assert f"/desk/tickets/{fourth.number}/" in nav, nav
    assert f"/desk/tickets/{third.number}/" not in nav, nav


ODD_VALUES = ["", "\x00", "\u0661", "\uff11", "-1", "1e3", "9" * 23, "<b>x</b>", " , ,", "a" * 5000]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "field",
    ["take", "assignee", "status", "priority", "team", "tags", "custom_fields", "", "subject", "version"],
)
def test_odd_inline_edit_values_get_an_answer_not_a_crash(client, desk, headers, field):
    ticket = desk["ticket"]
    client.force_login(desk["supervisor"])
    for value in ODD_VALUES:
        response = client.post(update_url(ticket), edit(field, value, fresh(ticket).version), **headers)
        assert response.status_code in (200, 302, 409, 422), (value, response.status_code)


# --- Findings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["reply", "note"])
def test_a_message_that_opens_with_an_indented_code_block_keeps_it(client, desk, kind):
    """An agent pastes a command as markdown's indented code block (four spaces) at the top of a reply
    or note and sends it. The composer's field and ticket_reply/ticket_add_note strip the body, so the
    first line loses its four spaces: it is stored as a paragraph and the rest joins it (indented code
    cannot interrupt a paragraph), so the command reaches the customer as running text, "$ sudo …
    $ lpstat -p" on one paragraph, not as code. The body should be stored as written (only blank lines
    and trailing spaces trimmed), as the knowledge base does (tests/knowledge/test_authoring.py), and
    render as <pre><code>."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    body = "\r\n    $ sudo systemctl restart cups\r\n    $ lpstat -p\r\n\r\nThen print a test page."
    response = client.post(reply_url(ticket), reply_data(ticket, body, kind=kind))
    assert response.status_code == 302
    message = TicketMessage.objects.get(ticket=ticket, from_staff=True)
    assert message.body.startswith("    $ sudo systemctl restart cups"), repr(message.body)
    assert "<pre><code>$ sudo systemctl restart cups\n$ lpstat -p" in message.body_html, message.body_html
