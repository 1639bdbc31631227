"""The customer's ticket page (portal detail), its reply and its status buttons, with plain
POSTs and with htmx (HX-Request: true)."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import TeamFactory, make_administrator, make_customer, make_ticket
from tests.tickets.conftest import (
    fresh,
    held_boxes,
    page_text,
    portal_detail_url,
    portal_reply_url,
    portal_status_url,
)
from tickets import services
from tickets.models import Ticket, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def customer():
    return make_customer(name="Carla Customer")


@pytest.fixture
def ticket(customer, team):
    return make_ticket(customer, team=team, subject="Printer on fire")


def set_status(ticket, status):
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    return fresh(ticket)


def reply(body="It is still on fire 4417", **extra):
    return {"body": body, "submission_key": str(uuid.uuid4()), **extra}


def status_badge(html: str) -> str:
    match = re.search(r'<dd id="ticket-status"[^>]*>(.*?)</dd>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def last_seen(ticket) -> int:
    return ticket.messages.filter(is_internal=False).latest("pk").pk


# ---------------------------------------------------------------------------------------------------
# A reply on each status


@pytest.mark.parametrize(
    ("before", "after", "badge"),
    [
        (Status.NEW, Status.NEW, "New"),
        (Status.OPEN, Status.OPEN, "Open"),
        (Status.PENDING, Status.OPEN, "Open"),
        (Status.ON_HOLD, Status.ON_HOLD, "Open"),
        (Status.RESOLVED, Status.OPEN, "Open"),
    ],
)
def test_plain_reply_on_each_status(client, customer, ticket, before, after, badge):
    set_status(ticket, before)
    client.force_login(customer)
    response = client.post(portal_reply_url(ticket), reply())
    assert response.status_code == 302 and response["Location"] == portal_detail_url(ticket)
    assert fresh(ticket).status == after
    page = client.get(response["Location"])
    text = page_text(page)
    assert "Your reply was sent." in text and "It is still on fire 4417" in text
    assert status_badge(text) == badge
    assert ticket.messages.filter(body="It is still on fire 4417", is_internal=False).count() == 1


@pytest.mark.parametrize(
    ("before", "after", "badge"),
    [
        (Status.NEW, Status.NEW, "New"),
        (Status.PENDING, Status.OPEN, "Open"),
        (Status.ON_HOLD, Status.ON_HOLD, "Open"),
        (Status.RESOLVED, Status.OPEN, "Open"),
    ],
)
def test_htmx_reply_on_each_status_updates_the_badge(client, customer, ticket, before, after, badge):
    set_status(ticket, before)
    client.force_login(customer)
    response = client.post(portal_reply_url(ticket), reply(), headers=HTMX)
    assert response.status_code == 200
    html = page_text(response)
    assert fresh(ticket).status == after
    assert status_badge(html) == badge
    assert "Your reply was sent." in html and "It is still on fire 4417" in html


# ---------------------------------------------------------------------------------------------------
# Closed: a follow-up


def test_reply_to_closed_opens_a_linked_follow_up_with_text_and_files(client, customer, ticket):
    closed = set_status(ticket, Status.CLOSED)
    client.force_login(customer)
    data = reply(body="Back on fire 9901", attachments=[SimpleUploadedFile("smoke.txt", b"smoky")])
    response = client.post(portal_reply_url(closed), data)
    follow_up = Ticket.objects.get(follow_up_of=closed)
    assert response.status_code == 302 and response["Location"] == portal_detail_url(follow_up)
    assert fresh(closed).status == Status.CLOSED
    assert closed.messages.filter(body="Back on fire 9901").count() == 0
    first = follow_up.messages.get()
    assert first.body == "Back on fire 9901" and [a.filename for a in first.attachments.all()] == [
        "smoke.txt"
    ]
    assert follow_up.requester == customer
    text = page_text(client.get(response["Location"]))
    assert f"{closed.reference} was closed, so your message opened {follow_up.reference}." in text
    assert "smoke.txt" in text and closed.reference in text  # "Follow-up of" link


def test_htmx_reply_to_closed_redirects_the_browser_to_the_follow_up(client, customer, ticket):
    closed = set_status(ticket, Status.CLOSED)
    client.force_login(customer)
    response = client.post(portal_reply_url(closed), reply(body="Again 2202"), headers=HTMX)
    follow_up = Ticket.objects.get(follow_up_of=closed)
    assert response.status_code == 200 and response["HX-Redirect"] == portal_detail_url(follow_up)


def test_double_click_on_a_closed_ticket_opens_one_follow_up(client, customer, ticket):
    closed = set_status(ticket, Status.CLOSED)
    client.force_login(customer)
    data = reply(body="Twice 3303")
    first = client.post(portal_reply_url(closed), data)
    second = client.post(portal_reply_url(closed), data)
    assert Ticket.objects.filter(follow_up_of=closed).count() == 1
    assert first["Location"] == second["Location"]


# ---------------------------------------------------------------------------------------------------
# The same reply twice


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_the_same_reply_posted_twice_makes_one_message(client, customer, ticket, headers):
    set_status(ticket, Status.PENDING)
    client.force_login(customer)
    data = reply(body="Only once 5151")
    first = client.post(portal_reply_url(ticket), data, headers=headers)
    second = client.post(portal_reply_url(ticket), data, headers=headers)
    assert first.status_code in (200, 302) and second.status_code == first.status_code
    assert TicketMessage.objects.filter(body="Only once 5151").count() == 1
    assert fresh(ticket).status == Status.OPEN


def test_the_same_reply_with_a_file_posted_twice_makes_one_message(client, customer, ticket):
    client.force_login(customer)
    data = reply(body="With file 6161")
    client.post(portal_reply_url(ticket), {**data, "attachments": [SimpleUploadedFile("a.txt", b"aa")]})
    second = client.post(
        portal_reply_url(ticket), {**data, "attachments": [SimpleUploadedFile("a.txt", b"aa")]}
    )
    assert second.status_code == 302
    assert TicketMessage.objects.filter(body="With file 6161").count() == 1


# ---------------------------------------------------------------------------------------------------
# Refused replies keep what was sent


@pytest.mark.parametrize("body", ["", "   \n\t  ", "\u200b\u200b", "\u200b \u2060 \ufeff", "&nbsp;"])
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_an_empty_reply_is_refused_with_its_file_kept(client, customer, ticket, body, headers):
    client.force_login(customer)
    before = ticket.messages.count()
    data = reply(body=body, attachments=[SimpleUploadedFile("kept-file.txt", b"keep me")])
    response = client.post(portal_reply_url(ticket), data, headers=headers)
    assert response.status_code == 422
    assert ticket.messages.count() == before
    boxes = held_boxes(response)
    assert any("kept-file.txt" in label and ticked for label, (_, ticked) in boxes.items()), boxes
    text = page_text(response)
    assert 'class="form-errors" role="alert"' in text
    assert "This field is required." in text or services.EMPTY_BODY in text
    # The held file goes with the next, filled-in sending.
    [(token, _)] = [value for label, value in boxes.items() if "kept-file.txt" in label]
    sent = client.post(portal_reply_url(ticket), reply(body="Now with words 7171", held=[token]))
    assert sent.status_code == 302
    message = ticket.messages.get(body="Now with words 7171")
    assert [a.filename for a in message.attachments.all()] == ["kept-file.txt"]


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_reply_too_long_is_refused_with_the_count_and_kept(client, customer, ticket, headers):
    client.force_login(customer)
    body = "x" * 50_001
    response = client.post(portal_reply_url(ticket), reply(body=body), headers=headers)
    assert response.status_code == 422
    text = page_text(response)
    assert re.search(r"50,?000", text) and re.search(r"50,?001", text)
    assert body in text  # what was typed comes back whole
    assert not ticket.messages.filter(body__startswith="xxxx").exists()


def test_a_reply_just_at_the_limit_with_windows_line_breaks_is_not_refused(client, customer, ticket):
    """A browser sends a textarea's line breaks as CRLF. 25,000 lines of one letter typed in the box read
    as 49,999 characters in the browser (its maxlength counts a line break once), so the customer may
    send it; the server must count the text as the browser does and accept it. Refused as "too long"
    the customer is given a count they cannot reconcile with what they see."""
    client.force_login(customer)
    body = "\r\n".join(["y"] * 25_000)  # 49,999 characters as typed, 74,998 bytes as sent
    response = client.post(portal_reply_url(ticket), reply(body=body))
    assert response.status_code == 302, page_text(response)[:2000]


# ---------------------------------------------------------------------------------------------------
# Mark as solved, reopen


@pytest.mark.parametrize("before", [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD])
def test_customer_marks_as_solved(client, customer, ticket, before):
    ticket = set_status(ticket, before)
    client.force_login(customer)
    page = page_text(client.get(portal_detail_url(ticket)))
    assert "Mark as solved" in page and ">Reopen<" not in page
    response = client.post(portal_status_url(ticket), {"status": "resolved", "seen": last_seen(ticket)})
    assert response.status_code == 302 and fresh(ticket).status == Status.RESOLVED
    text = page_text(client.get(response["Location"]))
    assert f"{ticket.reference} is marked as solved." in text and status_badge(text) == "Solved"
    assert "Reopen" in text


def test_customer_reopens_a_solved_ticket(client, customer, ticket):
    ticket = set_status(ticket, Status.RESOLVED)
    client.force_login(customer)
    response = client.post(portal_status_url(ticket), {"status": "open", "seen": last_seen(ticket)})
    assert fresh(ticket).status == Status.OPEN
    text = page_text(client.get(response["Location"]))
    assert f"{ticket.reference} is reopened." in text and status_badge(text) == "Open"


def test_mark_as_solved_from_a_stale_page_after_support_wrote(client, customer, agent, ticket):
    client.force_login(customer)
    seen = last_seen(ticket)
    services.ticket_reply(ticket, body="Try turning it off", actor=agent)
    response = client.post(portal_status_url(ticket), {"status": "resolved", "seen": seen})
    assert fresh(ticket).status == Status.OPEN
    assert services.NEWER_MESSAGE in page_text(client.get(response["Location"]))


def test_reopen_from_a_stale_page_after_auto_close(client, customer, ticket):
    ticket = set_status(ticket, Status.RESOLVED)
    client.force_login(customer)
    seen = last_seen(ticket)
    set_status(ticket, Status.CLOSED)
    response = client.post(portal_status_url(ticket), {"status": "open", "seen": seen})
    assert fresh(ticket).status == Status.CLOSED
    assert services.CLOSED_IS_FINAL in page_text(client.get(response["Location"]))


def test_mark_as_solved_clicked_twice_is_harmless(client, customer, ticket):
    client.force_login(customer)
    data = {"status": "resolved", "seen": last_seen(ticket)}
    client.post(portal_status_url(ticket), data)
    version = fresh(ticket).version
    response = client.post(portal_status_url(ticket), data)
    assert fresh(ticket).version == version
    assert "solved already; nothing changed" in page_text(client.get(response["Location"]))


# ---------------------------------------------------------------------------------------------------
# Crafted posts


@pytest.mark.parametrize(
    ("before", "target"),
    [
        (Status.OPEN, "closed"),
        (Status.RESOLVED, "closed"),
        (Status.OPEN, "pending"),
        (Status.OPEN, "on_hold"),
        (Status.PENDING, "on_hold"),
        (Status.OPEN, "new"),
        (Status.PENDING, "open"),
        (Status.OPEN, "bogus"),
        (Status.OPEN, ""),
    ],
)
def test_crafted_status_changes_are_refused(client, customer, ticket, before, target):
    ticket = set_status(ticket, before)
    client.force_login(customer)
    response = client.post(portal_status_url(ticket), {"status": target, "seen": last_seen(ticket)})
    assert response.status_code in (302, 400, 403, 404, 422)
    after = fresh(ticket)
    assert after.status == before
    if response.status_code == 302:
        text = page_text(client.get(response["Location"]))
        assert 'class="message message-' in text


def test_crafted_internal_fields_in_a_reply_are_ignored(client, customer, agent, ticket, team):
    other_team = TeamFactory(name="Elsewhere")
    set_status(ticket, Status.PENDING)
    before = fresh(ticket)
    client.force_login(customer)
    crafted = reply(
        body="Crafted 8181",
        status="closed",
        status_after="closed",
        kind="note",
        assignee=agent.pk,
        priority="urgent",
        team=other_team.pk,
        tags="vip",
        is_internal="on",
        from_staff="on",
        version=1,
    )
    response = client.post(portal_reply_url(ticket), crafted)
    assert response.status_code == 302
    after = fresh(ticket)
    assert after.status == Status.OPEN  # the customer's reply reopens, nothing else
    assert (after.assignee_id, after.priority, after.team_id) == (
        before.assignee_id,
        before.priority,
        before.team_id,
    )
    assert not after.tags.exists()
    message = after.messages.get(body="Crafted 8181")
    assert not message.is_internal and not message.from_staff


def test_crafted_internal_fields_in_a_status_post_are_ignored(client, customer, agent, ticket):
    before = fresh(ticket)
    client.force_login(customer)
    client.post(
        portal_status_url(ticket),
        {"status": "resolved", "seen": last_seen(ticket), "assignee": agent.pk, "priority": "urgent"},
    )
    after = fresh(ticket)
    assert after.status == Status.RESOLVED
    assert (after.assignee_id, after.priority) == (before.assignee_id, before.priority)


# ---------------------------------------------------------------------------------------------------
# Merged, requester changed, others' tickets


def merge(source, into, team):
    supervisor = make_administrator()
    return services.ticket_merge(source, into=into, actor=supervisor)


def test_merged_ticket_page_leads_to_target_and_reply_goes_there(client, customer, team, ticket):
    target = make_ticket(customer, team=team, subject="Printer still on fire")
    merge(ticket, target, team)
    client.force_login(customer)
    text = page_text(client.get(portal_detail_url(ticket)))
    assert f"This ticket was merged into {target.reference}" in text
    assert f'href="{portal_detail_url(target)}"' in text
    response = client.post(portal_reply_url(ticket), reply(body="Merged reply 1212"))
    assert response["Location"] == portal_detail_url(target)
    assert target.messages.filter(body="Merged reply 1212").count() == 1
    assert f"was merged, so your message was added to {target.reference}" in page_text(
        client.get(response["Location"])
    )


def test_merged_ticket_htmx_reply_redirects_to_target(client, customer, team, ticket):
    target = make_ticket(customer, team=team, subject="Printer still on fire")
    merge(ticket, target, team)
    client.force_login(customer)
    response = client.post(portal_reply_url(ticket), reply(body="Merged reply 1313"), headers=HTMX)
    assert response["HX-Redirect"] == portal_detail_url(target)


def test_status_post_on_a_merged_ticket_is_refused(client, customer, team, ticket):
    target = make_ticket(customer, team=team, subject="Printer still on fire")
    seen = last_seen(ticket)
    merge(ticket, target, team)
    client.force_login(customer)
    response = client.post(portal_status_url(ticket), {"status": "resolved", "seen": seen})
    assert fresh(target).status != Status.RESOLVED
    assert f"was merged into {target.reference}" in page_text(client.get(response["Location"]))


def test_former_requester_gets_404(client, customer, ticket):
    other = make_customer(organization=customer.organization)
    Ticket.objects.filter(pk=ticket.pk).update(requester=other)
    client.force_login(customer)
    assert client.get(portal_detail_url(ticket)).status_code == 404
    assert client.post(portal_reply_url(ticket), reply(body="Not mine 1414")).status_code == 404
    assert client.post(portal_status_url(ticket), {"status": "resolved"}).status_code == 404
    assert not TicketMessage.objects.filter(body="Not mine 1414").exists()
    assert fresh(ticket).status == Status.NEW


def test_another_customers_ticket_is_404(client, ticket):
    stranger = make_customer()
    client.force_login(stranger)
    assert client.get(portal_detail_url(ticket)).status_code == 404
    assert client.post(portal_reply_url(ticket), reply()).status_code == 404
    assert client.post(portal_status_url(ticket), {"status": "resolved"}).status_code == 404


# ---------------------------------------------------------------------------------------------------
# The thread


def test_thread_shows_public_messages_in_order_with_files(client, customer, agent, ticket):
    services.ticket_reply(
        ticket, body="Agent public 1", actor=agent, uploads=[SimpleUploadedFile("guide.txt", b"g")]
    )
    services.ticket_add_note(
        fresh(ticket), body="SECRET internal 2", actor=agent, uploads=[SimpleUploadedFile("s.txt", b"s")]
    )
    services.ticket_reply(fresh(ticket), body="Customer public 3", actor=customer)
    client.force_login(customer)
    text = page_text(client.get(portal_detail_url(ticket)))
    assert "SECRET internal 2" not in text and "s.txt" not in text
    positions = [text.index(words) for words in ("really", "Agent public 1", "Customer public 3")]
    assert positions == sorted(positions)
    assert "guide.txt" in text
    assert "Alex Agent · Support" in text


def test_page_queries_constant_with_thread_length(client, customer, agent, ticket):
    client.force_login(customer)

    def queries_for_page(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    for n in range(2):
        services.ticket_reply(
            fresh(ticket), body=f"a{n}", actor=agent, uploads=[SimpleUploadedFile(f"{n}.txt", b"x")]
        )
    small = queries_for_page(portal_detail_url(ticket))
    small_all = queries_for_page(portal_detail_url(ticket) + "?thread=all")
    for n in range(25):
        author = agent if n % 2 else customer
        services.ticket_reply(
            fresh(ticket), body=f"b{n}", actor=author, uploads=[SimpleUploadedFile(f"b{n}.txt", b"x")]
        )
    assert queries_for_page(portal_detail_url(ticket)) <= small
    assert queries_for_page(portal_detail_url(ticket) + "?thread=all") <= small_all


def test_page_query_count_bounded(client, customer, agent, ticket, django_assert_max_num_queries):
    for n in range(30):
        services.ticket_reply(
            fresh(ticket), body=f"c{n}", actor=agent, uploads=[SimpleUploadedFile(f"c{n}.txt", b"x")]
        )
    client.force_login(customer)
    with django_assert_max_num_queries(20):
        assert client.get(portal_detail_url(ticket) + "?thread=all").status_code == 200


# ---------------------------------------------------------------------------------------------------
# Rates, odd statuses and more


def test_double_click_on_a_closed_ticket_with_decomposed_accents(client, customer, ticket):
    closed = set_status(ticket, Status.CLOSED)
    client.force_login(customer)
    data = reply(body="Cafe\u0301 printer still broken")
    first = client.post(portal_reply_url(closed), data)
    assert first.status_code == 302
    second = client.post(portal_reply_url(closed), data)
    assert Ticket.objects.filter(follow_up_of=closed).count() == 1
    assert second.status_code == 302, page_text(second)[:300]
    assert second["Location"] == first["Location"]


def test_double_click_with_decomposed_accents_on_an_open_ticket(client, customer, ticket):
    client.force_login(customer)
    data = reply(body="Cafe\u0301 printer")
    client.post(portal_reply_url(ticket), data)
    second = client.post(portal_reply_url(ticket), data)
    assert second.status_code == 302
    assert ticket.messages.filter(body__startswith="Cafe").count() == 1


@pytest.mark.parametrize("body", ["#", "-", "[]()", "&#8203;", "```\n```", "\x00", ">"])
def test_bodies_that_show_nothing_are_refused(client, customer, ticket, body):
    client.force_login(customer)
    before = ticket.messages.count()
    response = client.post(portal_reply_url(ticket), reply(body=body))
    assert response.status_code == 422
    assert ticket.messages.count() == before


def test_an_invalid_submission_key_comes_back_with_the_text(client, customer, ticket):
    client.force_login(customer)
    response = client.post(portal_reply_url(ticket), {"body": "Keyless 1616", "submission_key": "nope"})
    # Either accepted or refused with the text kept.
    if response.status_code == 422:
        assert "Keyless 1616" in page_text(response)
    else:
        assert response.status_code == 302


def test_merged_into_closed_reply_opens_follow_up_of_target(client, customer, team, ticket):
    target = make_ticket(customer, team=team, subject="Printer still on fire")
    merge(ticket, target, team)
    set_status(target, Status.CLOSED)
    client.force_login(customer)
    text = page_text(client.get(portal_detail_url(ticket)))
    assert "That request is closed: writing below opens a new follow-up request" in text
    response = client.post(portal_reply_url(ticket), reply(body="After merge and close 1717"))
    follow_up = Ticket.objects.get(follow_up_of=target)
    assert response["Location"] == portal_detail_url(follow_up)
    assert f"which is closed, so your message opened {follow_up.reference}" in page_text(
        client.get(response["Location"])
    )


def test_error_summary_links_to_the_reply_box(client, customer, ticket):
    client.force_login(customer)
    response = client.post(portal_reply_url(ticket), reply(body=" "))
    text = page_text(response)
    assert 'href="#id_body"' in text
    textarea = re.search(r"<textarea[^>]*>", text).group(0)
    assert 'aria-invalid="true"' in textarea and "id_body_error" in textarea


def test_refused_follow_up_attempts_do_not_use_up_the_customers_rate(client, customer, ticket, settings):
    """A reply to a closed ticket opens a follow-up, so it is counted with the requests the customer
    submits (portal._follow_up_too_soon, 20 an hour per account). But the count is taken before the
    form is checked: every sending refused at 422 (an empty box, a file too large) counts as a request
    opened. A customer who was refused 20 times then has their real message refused with "you have
    opened many in a short time" though not one ticket was opened: a false message and a blocked
    customer. Only follow-ups actually opened (or at least forms that pass) should count."""
    settings.RATE_LIMITS_ENABLED = True
    closed = set_status(ticket, Status.CLOSED)
    client.force_login(customer)
    per_account = int(settings.RATE_LIMITS["ticket_submit"][1].split("/")[0])
    for _ in range(per_account):
        assert client.post(portal_reply_url(closed), reply(body="   ")).status_code == 422
    assert not Ticket.objects.filter(follow_up_of=closed).exists()
    response = client.post(portal_reply_url(closed), reply(body="Finally typed it 1818"))
    assert "opened many in a short time" not in page_text(response)
    assert Ticket.objects.filter(follow_up_of=closed).count() == 1
