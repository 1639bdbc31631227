"""The agent's ticket workspace (/desk/tickets/<number>/) and queue (/desk/) used without
JavaScript (plain form posts) and with htmx headers, compared; stale pages and tickets that change
(merged, deleted, moved, closed) while the workspace is open; queue neighbours; bulk without JS; 304."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    make_ticket,
)
from tests.tickets.conftest import (
    edit,
    fresh,
    make_desk,
    merge_url,
    notes,
    page_text,
    reply_data,
    reply_url,
    update_url,
    ws,
)
from tickets import services
from tickets.models import SavedView, TicketMessage
from tickets.views import desk as desk_views
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HTMX = {"HTTP_HX_REQUEST": "true"}
QUEUE = reverse("tickets:desk_queue")
BULK = reverse("tickets:desk_bulk")


def is_full_page(response) -> bool:
    return "<html" in response.content.decode().lower()


# --- Composer: posted plainly, with the ticket changed underneath -------------------------------


def test_plain_reply_redirects_back_to_the_workspace(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket))
    assert response.status_code == 302
    assert response["Location"].startswith(ws(ticket))
    assert TicketMessage.objects.filter(ticket=ticket, body__contains="7731").exists()


def test_reply_and_solve_from_a_stale_page_keeps_the_reply_and_sends_nothing(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, version=seen, status_after="resolved"))
    assert response.status_code == 422
    text = page_text(response)
    assert "My carefully typed answer 7731" in text
    assert "Someone changed this ticket" in text
    assert not TicketMessage.objects.filter(ticket=ticket, body__contains="7731").exists()
    assert fresh(ticket).status != Status.RESOLVED


def test_note_and_pend_from_a_stale_page_keeps_the_note(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        reply_url(ticket), reply_data(ticket, kind="note", version=seen, status_after="pending")
    )
    assert response.status_code == 422
    text = page_text(response)
    assert "My carefully typed answer 7731" in text
    assert 'id="kind-note" checked' in text


def test_a_reply_to_a_ticket_merged_meanwhile_keeps_what_was_typed(client, desk):
    """The agent types a long reply; meanwhile a supervisor merges the ticket into another. Sending is
    refused (the ticket is read-only now) with a message, but the typed reply must come back so that it
    can be copied into the ticket the conversation moved to; the read-only composer drops it."""
    ticket = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    seen = ticket.version
    services.ticket_merge(ticket, into=target, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, version=seen))
    assert response.status_code == 422
    text = page_text(response)
    assert target.reference in text
    assert "My carefully typed answer 7731" in text, "the typed reply is lost"


def test_a_note_to_a_ticket_merged_meanwhile_keeps_what_was_typed(client, desk):
    ticket = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    seen = ticket.version
    services.ticket_merge(ticket, into=target, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, kind="note", version=seen))
    assert response.status_code == 422
    assert "My carefully typed answer 7731" in page_text(response), "the typed note is lost"


def test_a_public_reply_to_a_ticket_closed_meanwhile_is_refused_and_kept(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_transition(ticket, status=Status.CLOSED, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, version=seen))
    assert response.status_code == 422
    text = page_text(response)
    assert "My carefully typed answer 7731" in text
    assert not TicketMessage.objects.filter(ticket=ticket, body__contains="7731").exists()


def test_a_note_to_a_ticket_closed_meanwhile_is_added(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_transition(ticket, status=Status.CLOSED, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(reply_url(ticket), reply_data(ticket, kind="note", version=seen))
    assert response.status_code == 302
    assert TicketMessage.objects.filter(ticket=ticket, body__contains="7731", is_internal=True).exists()


@pytest.mark.parametrize("how", ["moved", "deleted"])
def test_every_form_answers_404_once_the_agent_lost_the_ticket(client, desk, how):
    ticket = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    seen = ticket.version
    if how == "moved":
        services.ticket_update_fields(ticket, changes={"team": desk["billing"]}, actor=desk["supervisor"])
    else:
        services.ticket_delete(ticket, actor=make_admin())
    client.force_login(desk["agent"])
    posts = [
        (reply_url(ticket), reply_data(ticket, version=seen), {}),
        (update_url(ticket), edit("priority", "high", seen), {}),
        (update_url(ticket), edit("priority", "high", seen), HTMX),
        (update_url(ticket), edit("take", "", seen), HTMX),
        (update_url(ticket), edit("tags", "a, b", seen), {}),
        (reverse("tickets:desk_seen", args=[ticket.number]), {"shown": ""}, {}),
    ]
    for url, data, headers in posts:
        response = client.post(url, data, **headers)
        assert response.status_code == 404, (url, data, headers, response.status_code)
    client.force_login(desk["supervisor"])
    if how == "moved":
        # the supervisor of Support has lost it as well
        response = client.post(
            merge_url(ticket), {"confirm": "merge", "into": target.reference, "version": seen}
        )
        assert response.status_code == 404


def make_admin():
    from tests.factories import make_administrator

    return make_administrator(is_superuser=True)


# --- Inline edits: plain vs htmx ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [("priority", "high"), ("status", "pending"), ("tags", "vip, billing"), ("take", ""), ("assignee", None)],
)
def test_inline_edits_plain_redirect_and_htmx_answer_a_fragment(client, desk, field, value):
    ticket = desk["ticket"]
    if value is None:
        value = str(desk["colleague"].pk)
    client.force_login(desk["agent"])
    plain = client.post(update_url(ticket), edit(field, value, ticket.version, queue=""))
    assert plain.status_code == 302, plain.status_code
    assert plain["Location"].startswith(ws(ticket))
    ticket = fresh(ticket)
    # again with htmx: a fragment of the page's own template (the properties card), never a full page
    other = "low" if field == "priority" else value
    if field == "status":
        other = "open"
    if field == "take":
        services.ticket_assign(ticket, assignee=None, actor=desk["supervisor"])
        ticket = fresh(ticket)
    response = client.post(update_url(ticket), edit(field, other, ticket.version), **HTMX)
    assert response.status_code == 200
    assert not is_full_page(response)
    assert 'id="properties"' in response.content.decode()


def test_stale_inline_edit_plain_is_a_full_page_with_the_message_and_typed_tags(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(update_url(ticket), edit("tags", "typed-tag-9, other-tag", seen))
    assert response.status_code == 409
    assert is_full_page(response)
    text = page_text(response)
    assert "Someone changed this ticket" in text
    assert "typed-tag-9, other-tag" in text
    # the same with htmx: only the card
    response = client.post(update_url(ticket), edit("tags", "typed-tag-9, other-tag", seen), **HTMX)
    assert response.status_code == 409
    assert not is_full_page(response)
    assert "typed-tag-9, other-tag" in page_text(response)


def ticket_with_a_form(desk):
    return make_ticket(
        desk["customer"],
        team=desk["support"],
        form=TicketFormFactory(),
        custom_fields={"order_number": "A-1", "product": "Basic"},
    )


def test_stale_custom_fields_keep_the_typed_values_plain_and_htmx(client, desk):
    ticket = ticket_with_a_form(desk)
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    data = edit("custom_fields", "", seen, **{"cf-order_number": "TYPED-4242", "cf-product": "Pro"})
    response = client.post(update_url(ticket), data)
    assert response.status_code == 409, re.findall(r'id="edit-error"[^>]*>([^<]*)', page_text(response))
    assert is_full_page(response)
    assert "TYPED-4242" in page_text(response)
    response = client.post(update_url(ticket), data, **HTMX)
    assert response.status_code == 409
    assert not is_full_page(response)
    assert "TYPED-4242" in page_text(response)


def test_custom_fields_sent_from_a_page_older_than_the_closing_are_refused_as_final(client, desk):
    """The form's schema gained a required field after the closing: the old page's values were checked
    against it ("Serial: This field is required.") though nothing could be changed on a closed ticket."""
    ticket = ticket_with_a_form(desk)
    seen = ticket.version
    services.ticket_transition(ticket, status=Status.CLOSED, actor=desk["supervisor"])
    form = ticket.form
    form.schema = [*form.schema, {"name": "serial", "label": "Serial", "type": "text", "required": True}]
    form.save()
    client.force_login(desk["agent"])
    data = edit("custom_fields", "", seen, **{"cf-order_number": "A-1", "cf-product": "Basic"})
    response = client.post(update_url(ticket), data)
    assert response.status_code == 409 and "a closed ticket is final" in page_text(response)
    assert "This field is required" not in page_text(response)


def test_invalid_custom_field_plain_is_422_with_typed_values(client, desk):
    ticket = ticket_with_a_form(desk)
    client.force_login(desk["agent"])
    data = edit("custom_fields", "", ticket.version, **{"cf-order_number": "", "cf-product": "Nonsense-77"})
    response = client.post(update_url(ticket), data)
    assert response.status_code == 422
    assert is_full_page(response)
    assert fresh(ticket).custom_fields["order_number"] == "A-1"
    # The focus on the first field to correct, as the other refused inline edits put it.
    autofocused = re.findall(r"<(?:input|select|textarea)[^>]*\bautofocus\b[^>]*>", response.content.decode())
    assert len(autofocused) == 1 and 'id="id_cf-order_number"' in autofocused[0]


@pytest.mark.parametrize(
    "data",
    [
        {"field": "priority", "value": "bogus"},
        {"field": "team", "value": "abc"},
        {"field": "team", "value": "999999"},
        {"field": "assignee", "value": "999999"},
        {"field": "assignee", "value": "x"},
        {"field": "status", "value": "nonsense"},
        {"field": "nonsense", "value": "1"},
        {"field": "tags", "value": "<b>" * 30},
    ],
)
def test_bad_inline_values_are_refused_plain_and_htmx_never_500(client, desk, data):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    plain = client.post(update_url(ticket), {**data, "version": ticket.version})
    assert plain.status_code in (409, 422), plain.status_code
    assert is_full_page(plain)
    htmx = client.post(update_url(ticket), {**data, "version": ticket.version}, **HTMX)
    assert htmx.status_code in (409, 422), htmx.status_code
    assert not is_full_page(htmx)
    assert 'id="edit-error"' in htmx.content.decode()


@pytest.mark.parametrize(
    "field,value", [("priority", "high"), ("tags", "x"), ("status", "pending"), ("take", "")]
)
def test_inline_edits_on_a_ticket_merged_meanwhile_say_so(client, desk, field, value):
    ticket = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    seen = ticket.version
    services.ticket_merge(ticket, into=target, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    plain = client.post(update_url(ticket), edit(field, value, seen))
    assert plain.status_code == 409, plain.status_code
    assert is_full_page(plain)
    assert 'id="edit-error"' in plain.content.decode() or "merged" in page_text(plain).lower()
    htmx = client.post(update_url(ticket), edit(field, value, seen), **HTMX)
    assert htmx.status_code == 409, htmx.status_code
    assert not is_full_page(htmx)
    assert 'id="edit-error"' in htmx.content.decode()


@pytest.mark.parametrize("field,value", [("priority", "high"), ("tags", "x"), ("take", "")])
def test_inline_edits_on_a_ticket_closed_meanwhile_say_so(client, desk, field, value):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_transition(ticket, status=Status.CLOSED, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    plain = client.post(update_url(ticket), edit(field, value, seen))
    assert plain.status_code == 409
    assert "Someone changed this ticket" in page_text(plain)
    # The same edit from the fresh page: closed is final (services.CLOSED_FINAL), and the page says so.
    ticket = fresh(ticket)
    again = client.post(update_url(ticket), edit(field, value, ticket.version), **HTMX)
    assert again.status_code == 409 and not is_full_page(again)
    assert "a closed ticket is final" in page_text(again)
    assert fresh(ticket).version == ticket.version


def test_a_closed_tickets_properties_are_shown_read_only_and_a_note_still_goes_on_it(client, desk):
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status=Status.CLOSED, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    page = client.get(ws(ticket)).content.decode()
    assert not any(f'id="edit-{name}"' in page for name in ("priority", "tags", "assignee", "team"))
    assert "Closed tickets are final" in page and "<dt>Priority</dt><dd>Medium</dd>" in page
    assert 'id="composer"' in page
    note_form = {"kind": "note", "body": "Archived.", "version": fresh(ticket).version}
    note = client.post(reply_url(ticket), note_form)
    assert note.status_code == 302
    assert TicketMessage.objects.get(ticket=ticket, body="Archived.").is_internal


@pytest.mark.parametrize("field,value", [("priority", "high"), ("status", "pending"), ("take", "")])
def test_the_same_inline_edit_sent_twice_is_saved_once_and_blames_no_colleague(client, desk, field, value):
    """A double click on a Save button without JavaScript posts the page's version twice: the second
    finds the agent's own change, not someone else's, and is answered as saved."""
    ticket = desk["ticket"]
    seen = ticket.version
    client.force_login(desk["agent"])
    assert client.post(update_url(ticket), edit(field, value, seen)).status_code == 302
    again = client.post(update_url(ticket), edit(field, value, seen), follow=True)
    assert again.status_code == 200 and "Someone changed this ticket" not in page_text(again)
    assert "Saved." in page_text(again)
    assert fresh(ticket).version == seen + 1


def test_a_team_move_sent_twice_that_took_the_ticket_out_of_reach_is_answered_as_the_first(client, desk):
    """The first click moved the ticket to a team the agent does not work and answered "moved out of your
    queues"; the second found no ticket the agent may open and showed a 404 page, what the browser kept."""
    ticket = desk["ticket"]
    seen = ticket.version
    client.force_login(desk["agent"])
    move = edit("team", str(TeamFactory(name="Elsewhere").pk), seen)
    first = client.post(update_url(ticket), move)
    assert first.status_code == 302 and first["Location"].startswith(reverse("tickets:desk_queue"))
    second = client.post(update_url(ticket), move)
    assert (second.status_code, second["Location"]) == (302, first["Location"])
    # Anyone else, or another edit, still gets the 404 an unknown ticket gets.
    client.force_login(desk["colleague"])
    assert client.post(update_url(ticket), move).status_code == 404
    client.force_login(desk["agent"])
    assert client.post(update_url(ticket), edit("priority", "high", seen)).status_code == 404


def test_an_edit_sent_again_after_a_colleagues_change_is_still_stale(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    client.force_login(desk["agent"])
    client.post(update_url(ticket), edit("priority", "high", seen))
    services.ticket_update_fields(fresh(ticket), changes={"priority": "urgent"}, actor=desk["supervisor"])
    assert client.post(update_url(ticket), edit("priority", "high", seen)).status_code == 409
    # The colleague's write is the ticket's one write since the page, to the value the agent sends.
    other = make_ticket(desk["customer"], team=desk["support"])
    other_seen = other.version
    services.ticket_update_fields(other, changes={"priority": "high"}, actor=desk["supervisor"])
    assert client.post(update_url(other), edit("priority", "high", other_seen)).status_code == 409


# --- Merge form ------------------------------------------------------------------------------------


def test_merge_plain_redirects_and_a_target_gone_meanwhile_is_a_clear_422(client, desk):
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    services.ticket_update_fields(target, changes={"team": desk["billing"]}, actor=desk["supervisor"])
    client.force_login(desk["supervisor"])
    response = client.post(
        merge_url(source),
        {"confirm": "merge", "into": target.reference, "version": source.version, "queue": ""},
    )
    assert response.status_code == 422
    assert is_full_page(response)
    text = page_text(response)
    assert f'value="{target.reference}"' in text
    assert "no ticket" in text.lower()
    other = make_ticket(desk["customer"], team=desk["support"], subject="Third")
    response = client.post(
        merge_url(source),
        {"confirm": "merge", "into": other.reference, "version": source.version, "queue": ""},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(ws(other))


def test_merge_into_a_ticket_closed_or_merged_meanwhile_is_refused_clearly(client, desk):
    source = desk["ticket"]
    target = make_ticket(desk["customer"], team=desk["support"], subject="Other")
    third = make_ticket(desk["customer"], team=desk["support"], subject="Third")
    services.ticket_merge(target, into=third, actor=desk["supervisor"])
    client.force_login(desk["supervisor"])
    response = client.post(
        merge_url(source), {"confirm": "merge", "into": target.reference, "version": source.version}
    )
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert 'id="merge-error"' in response.content.decode()


# --- Previous / Next within the queue view ---------------------------------------------------------


def nav(response) -> tuple[str | None, str | None]:
    text = response.content.decode()
    prev = re.search(r'href="/desk/tickets/(\d+)/\?queue=[^"]*">← Previous', text)
    nxt = re.search(r'href="/desk/tickets/(\d+)/\?queue=[^"]*">Next →', text)
    return (prev and prev.group(1), nxt and nxt.group(1))


def three_open(desk):
    tickets = [make_ticket(desk["customer"], team=desk["support"], subject=f"Row {n}") for n in range(3)]
    for ticket in tickets:
        services.ticket_transition(fresh(ticket), status=Status.OPEN, actor=desk["agent"])
    return [fresh(t) for t in tickets]


VIEW = "status=open&sort=-number"


def test_neighbours_in_the_view(client, desk):
    a, b, c = three_open(desk)
    client.force_login(desk["agent"])
    response = client.get(ws(b), {"queue": VIEW})
    assert nav(response) == (str(a.number), str(c.number))


def test_plain_edit_that_takes_the_ticket_out_of_the_view_keeps_previous_and_next(client, desk):
    a, b, c = three_open(desk)
    client.force_login(desk["agent"])
    page = client.get(ws(b), {"queue": VIEW})
    assert nav(page) == (str(a.number), str(c.number))
    response = client.post(
        update_url(b), edit("status", "pending", b.version, queue=VIEW, previous=a.number, next=c.number)
    )
    assert response.status_code == 302
    after = client.get(response["Location"])
    assert nav(after) == (str(a.number), str(c.number))


def test_htmx_edit_that_takes_the_ticket_out_keeps_the_position_in_the_next_forms(client, desk):
    a, b, c = three_open(desk)
    client.force_login(desk["agent"])
    response = client.post(
        update_url(b),
        edit("status", "pending", b.version, queue=VIEW, previous=a.number, next=c.number),
        **HTMX,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert f'name="previous" value="{a.number}"' in text
    assert f'name="next" value="{c.number}"' in text


def test_next_skips_a_neighbour_that_left_the_view(client, desk):
    a, b, c = three_open(desk)
    d = three_open(desk)[0]  # a fourth, after c
    client.force_login(desk["agent"])
    services.ticket_transition(fresh(c), status=Status.PENDING, actor=desk["colleague"])
    # the page was loaded before: it posts next=c
    response = client.post(
        update_url(b), edit("priority", "high", b.version, queue=VIEW, previous=a.number, next=c.number)
    )
    after = client.get(response["Location"])
    assert nav(after) == (str(a.number), str(d.number))


# --- Bulk actions without JavaScript ---------------------------------------------------------------


def tick(ticket, version=None) -> str:
    return f"{ticket.pk}:{ticket.version if version is None else version}"


def test_bulk_without_js_reports_each_refused_ticket_and_applies_the_rest(client, desk):
    ok = make_ticket(desk["customer"], team=desk["support"], subject="Fine")
    stale = make_ticket(desk["customer"], team=desk["support"], subject="Stale")
    closed = make_ticket(desk["customer"], team=desk["support"], subject="Closed")
    gone = make_ticket(desk["customer"], team=desk["support"], subject="Gone")
    services.ticket_transition(closed, status=Status.CLOSED, actor=desk["supervisor"])
    closed = fresh(closed)
    old = stale.version
    services.ticket_update_fields(stale, changes={"priority": "low"}, actor=desk["colleague"])
    services.ticket_update_fields(gone, changes={"team": desk["billing"]}, actor=desk["supervisor"])
    client.force_login(desk["agent"])
    response = client.post(
        BULK,
        {
            "tickets": [tick(ok), tick(stale, old), tick(closed), tick(gone, 1)],
            "action": "status:pending",
            "back": QUEUE + "?status=open",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == QUEUE + "?status=open"
    said = " | ".join(notes(response))
    assert ok.reference in said and "Updated 1 ticket" in said
    assert f"{stale.reference} was not changed" in said
    assert f"{closed.reference} was not changed" in said
    assert "1 selected ticket is no longer in your queues" in said
    assert gone.reference not in said  # its number is not revealed (ids are posted)
    assert fresh(ok).status == Status.PENDING
    assert fresh(stale).status != Status.PENDING
    assert fresh(gone).status != Status.PENDING
    # the page it redirects to shows them (messages survive the redirect)
    page = client.get(response["Location"])
    assert f"{stale.reference} was not changed" in page_text(page)


def test_bulk_close_without_js_asks_then_closes_only_after_confirmation(client, desk):
    one = make_ticket(desk["customer"], team=desk["support"], subject="One")
    two = make_ticket(desk["customer"], team=desk["support"], subject="Two")
    client.force_login(desk["supervisor"])
    data = {"tickets": [tick(one), tick(two)], "action": "status:closed", "back": QUEUE}
    ask = client.post(BULK, data)
    assert ask.status_code == 200
    assert is_full_page(ask)
    text = page_text(ask)
    assert one.reference in text and two.reference in text
    assert fresh(one).status != Status.CLOSED
    # the confirmation page's own form carries the same tickets with their versions
    form = text.split(f'action="{BULK}"')[1].split("</form>")[0]
    assert f'value="{tick(one)}"' in form and 'name="confirm" value="close"' in form
    done = client.post(BULK, {**data, "confirm": "close"})
    assert done.status_code == 302
    assert fresh(one).status == Status.CLOSED and fresh(two).status == Status.CLOSED


def test_bulk_with_an_invalid_tag_comes_back_422_with_the_ticks_and_the_value(client, desk):
    one = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(
        BULK,
        {
            "tickets": [tick(one)],
            "action": "add_tag",
            "value": "<bad tag>" * 10,
            "back": QUEUE + "?status=new",
        },
    )
    assert response.status_code == 422
    assert is_full_page(response)
    text = response.content.decode()
    assert re.search(rf'value="{tick(one)}"[^>]* checked', text)
    assert 'id="bulk-error"' in text


# --- The queue's 304 --------------------------------------------------------------------------------


def refresh(client, url, etag=None):
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "queue-table", "HTTP_HX_TRIGGER": "queue-table"}
    if etag:
        headers["HTTP_IF_NONE_MATCH"] = etag
    return client.get(url, **headers)


def test_the_queue_fragment_answers_304_only_when_unchanged(client, desk):
    client.force_login(desk["agent"])
    url = QUEUE + "?status=new"
    first = refresh(client, url)
    assert first.status_code == 200 and not is_full_page(first)
    assert refresh(client, url, first["ETag"]).status_code == 304
    services.ticket_update_fields(desk["ticket"], changes={"priority": "high"}, actor=desk["colleague"])
    assert refresh(client, url, first["ETag"]).status_code == 200


def test_refresh_is_not_304_after_the_viewer_is_granted_a_ticket_of_another_team(client, desk):
    other = make_ticket(desk["customer"], team=desk["billing"], subject="Billing thing")
    client.force_login(desk["agent"])
    url = QUEUE
    first = refresh(client, url)
    assert other.reference not in page_text(first)
    grant_ticket(desk["agent"], other)
    second = refresh(client, url, first["ETag"])
    assert second.status_code == 200
    assert other.reference in page_text(second)


def grant_ticket(user, ticket):
    from guardian.shortcuts import assign_perm

    assign_perm("tickets.view_ticket", user, ticket)


def test_refresh_is_not_304_after_the_viewers_saved_view_is_deleted_by_its_owner(client, desk):
    view = SavedView.objects.create(
        name="Team hot", owner=desk["colleague"], team=desk["support"], query="priority=high"
    )
    client.force_login(desk["agent"])
    first = refresh(client, QUEUE)
    assert "Team hot" in page_text(first)
    services.saved_view_delete(view, actor=desk["colleague"])
    second = refresh(client, QUEUE, first["ETag"])
    assert second.status_code == 200
    assert "Team hot" not in page_text(second)


def test_refresh_is_not_304_after_the_viewer_changes_their_time_zone(client, desk):
    client.force_login(desk["agent"])
    first = refresh(client, QUEUE)
    agent = desk["agent"]
    agent.timezone = "Pacific/Kiritimati" if agent.timezone != "Pacific/Kiritimati" else "UTC"
    agent.save(update_fields=["timezone"])
    second = refresh(client, QUEUE, first["ETag"])
    assert second.status_code == 200


# --- More forms: mark as read without JS, administrators on deleted tickets, merge races -------------


def test_mark_as_read_without_js_keeps_the_queue_position(client, desk):
    """The <noscript> "Mark as read" form of a workspace opened from a queue redirects to the bare
    workspace: the ?queue= (and so Previous/Next) the agent was working through is dropped, unlike
    every other form of the page (they carry the queue-position partial)."""
    a, b, c = three_open(desk)
    services.ticket_assign(fresh(b), assignee=desk["agent"], actor=desk["agent"])
    services.ticket_reply(fresh(b), body="Customer again", actor=desk["customer"])
    client.force_login(desk["agent"])
    page = client.get(ws(b), {"queue": VIEW})
    assert nav(page) == (str(a.number), str(c.number))
    text = page.content.decode()
    form = text.split('action="' + reverse("tickets:desk_seen", args=[b.number]) + '"')[1].split("</form>")[0]
    shown = re.search(r'name="shown" value="([^"]*)"', form).group(1)
    data = {"shown": shown}
    data.update(dict(re.findall(r'<input type="hidden" name="(queue|previous|next)" value="([^"]*)"', form)))
    response = client.post(reverse("tickets:desk_seen", args=[b.number]), data)
    assert response.status_code == 302
    after = client.get(response["Location"])
    assert nav(after) == (str(a.number), str(c.number)), response["Location"]


def test_an_administrators_reply_to_a_ticket_deleted_meanwhile_keeps_what_was_typed(client, desk):
    admin = make_admin()
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_delete(ticket, actor=admin)
    client.force_login(admin)
    response = client.post(reply_url(ticket), reply_data(ticket, version=seen))
    assert response.status_code == 422
    assert "deleted" in page_text(response).lower()
    assert "My carefully typed answer 7731" in page_text(response), "the typed reply is lost"


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_an_administrators_inline_edit_of_a_ticket_deleted_meanwhile_is_refused_clearly(
    client, desk, headers
):
    admin = make_admin()
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_delete(ticket, actor=admin)
    client.force_login(admin)
    response = client.post(update_url(ticket), edit("priority", "urgent", seen), **headers)
    assert response.status_code == 409
    assert is_full_page(response) is (not headers)
    assert fresh(ticket).priority != "urgent"


def test_merge_from_a_page_whose_ticket_was_merged_meanwhile_is_a_clear_refusal(client, desk):
    source = desk["ticket"]
    elsewhere = make_ticket(desk["customer"], team=desk["support"], subject="Elsewhere")
    target = make_ticket(desk["customer"], team=desk["support"], subject="Target")
    seen = source.version
    services.ticket_merge(source, into=elsewhere, actor=desk["supervisor"])
    client.force_login(desk["supervisor"])
    response = client.post(merge_url(source), {"confirm": "merge", "into": target.reference, "version": seen})
    assert response.status_code == 422
    assert fresh(source).merged_into_id == elsewhere.pk
    text = page_text(response)
    # the page is now read-only (no merge form): the reason must still be on it
    assert "changed" in text.lower() or "merged" in text.lower()
    assert 'role="alert"' in text or "message" in text


def test_take_from_a_stale_page_after_a_colleague_took_it_says_so(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_assign(ticket, assignee=desk["colleague"], actor=desk["colleague"])
    client.force_login(desk["agent"])
    plain = client.post(update_url(ticket), edit("take", "", seen))
    assert plain.status_code == 409
    assert "Someone changed this ticket" in page_text(plain)
    assert fresh(ticket).assignee_id == desk["colleague"].pk
    htmx = client.post(update_url(ticket), edit("take", "", seen), **HTMX)
    assert htmx.status_code == 409 and not is_full_page(htmx)
    assert "Casey Colleague" in page_text(htmx)


@pytest.mark.parametrize(
    ("field", "value", "label"), [("status", Status.RESOLVED, "Resolved"), ("priority", "high", "High")]
)
def test_a_choice_a_colleague_made_meanwhile_is_not_asked_for_again(client, desk, field, value, label):
    """Two agents have the ticket open; the first resolves it (or sets it High), the second does the very
    same from the older page. Refused as stale still (a reply may have come meanwhile, unseen), but not
    with "choose it again" for a choice the ticket holds (and the status menu no longer offers)."""
    ticket, colleague = desk["ticket"], Client()
    colleague.force_login(desk["colleague"])
    seen = fresh(ticket).version
    made = colleague.post(update_url(ticket), {"field": field, "value": value, "version": seen})
    assert made.status_code == 302
    client.force_login(desk["agent"])
    response = client.post(update_url(ticket), {"field": field, "value": value, "version": seen})
    assert response.status_code == 409
    assert desk_views.EDIT_STALE_HELD.format(chosen=label) in page_text(response)
    assert "choose it again" not in page_text(response)
    assert fresh(ticket).version == seen + 1  # nothing written again

    # A different choice from the older page is refused, naming it, to be chosen again.
    other = {"status": Status.PENDING, "priority": "low"}[field]
    refused = client.post(update_url(ticket), {"field": field, "value": other, "version": seen})
    assert refused.status_code == 409 and "choose it again" in page_text(refused)
