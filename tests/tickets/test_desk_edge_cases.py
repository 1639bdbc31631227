"""Agent desk under odd input: crashes, lost input and misleading messages found in review."""

import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import (
    SavedViewFactory,
    TicketFormFactory,
    make_ticket,
)
from tests.tickets.conftest import make_desk, notes
from tickets import services
from tickets.forms import SavedViewForm, posted_version
from tickets.models import SavedView, Ticket, TicketMessage
from tickets.views.desk import EDITED_OUT_OF_REACH, REPLY_STALE
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

QUEUE = reverse("tickets:desk_queue")
HTMX = {"HX-Request": "true"}


# "²".isdigit() is true but int("²") raises: each of these answered 500.


@pytest.mark.parametrize("query", ["q=²", "q=T-²", "assignee=²", "q=١٢"])
def test_non_ascii_digits_in_queue_filters_do_not_crash(client, desk, query):
    client.force_login(desk["agent"])
    assert client.get(f"{QUEUE}?{query}").status_code == 200
    fragment = client.get(f"{QUEUE}?{query}", headers={**HTMX, "HX-Target": "queue-table"})
    assert fragment.status_code == 200
    workspace = reverse("tickets:desk_ticket", args=[desk["ticket"].number])
    assert client.get(workspace, {"queue": query}).status_code == 200


def test_non_ascii_digits_posted_to_bulk_and_merge_do_not_crash(client, desk):
    client.force_login(desk["agent"])
    bulk = client.post(reverse("tickets:desk_bulk"), {"tickets": ["²"], "action": "assign_me"})
    assert bulk.status_code == 302  # and said, not taken for no ticket chosen at all
    assert notes(bulk) == ["1 selected ticket is no longer in your queues and left unchanged."]
    merge = client.post(
        reverse("tickets:desk_merge", args=[desk["ticket"].number]), {"confirm": "merge", "into": "T-²"}
    )
    assert merge.status_code == 422 and "There is no ticket “T-²”" in unescape(merge.content.decode())
    assert posted_version({"version": "7"}) == 7 and posted_version({}) is None


@pytest.mark.parametrize("version", ["abc", "²", "99999999999999999999"])
def test_a_mangled_version_is_refused_as_stale_not_skipped(client, desk, version):
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[desk["ticket"].number])
    response = client.post(url, {"field": "priority", "value": "urgent", "version": version}, follow=True)
    assert "Someone changed this ticket" in unescape(response.content.decode())
    assert Ticket.objects.get(pk=desk["ticket"].pk).priority != "urgent"


# Saved views


def test_a_saved_view_whose_filters_grow_too_long_when_encoded_is_refused_with_a_message(client, desk):
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_view_create"), {"name": "Umlauts", "query": "q=" + "ü" * 400}
    )
    assert response.status_code == 422  # was a 500 (value too long for the column)
    assert not SavedView.objects.filter(name="Umlauts").exists()
    page = unescape(response.content.decode())
    assert SavedViewForm.QUERY_TOO_LONG in page and 'value="Umlauts"' in page
    too_long = client.post(reverse("tickets:desk_view_create"), {"name": "Long", "query": "q=" + "x" * 1200})
    assert too_long.status_code == 422 and SavedViewForm.QUERY_TOO_LONG in unescape(too_long.content.decode())


def test_a_refused_saved_view_comes_back_with_the_name_typed_and_the_queue_it_was_saved_from(client, desk):
    SavedViewFactory(owner=desk["agent"], name="Fires")
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_view_create"),
        {"name": "Fires", "query": "q=Printer", "team": desk["support"].pk},
    )
    page = unescape(response.content.decode())
    assert response.status_code == 422
    assert '<details class="save-view" open>' in page and 'value="Fires"' in page
    assert 'aria-invalid="true" aria-describedby="view-name-error"' in page
    assert services.SAVED_VIEW_EXISTS.format(name="Fires") in page
    assert f'<option value="{desk["support"].pk}" selected>' in page
    assert {ticket.subject for ticket in response.context["queue"].tickets} == {"Printer on fire"}


@pytest.mark.parametrize(
    "taken, typed",
    [("Café", "Cafe\u0301"), ("Urgent", "Urgent\u200b"), ("Fires", "  FIRES "), ("My  queue", "my queue")],
)
def test_a_view_name_that_reads_as_one_already_saved_is_refused(client, desk, taken, typed):
    """Two names that look the same in the sidebar are one name twice, however they were typed."""
    SavedViewFactory(owner=desk["agent"], name=taken)
    client.force_login(desk["agent"])
    response = client.post(reverse("tickets:desk_view_create"), {"name": typed, "query": "q=Printer"})
    assert response.status_code == 422 and SavedView.objects.filter(owner=desk["agent"]).count() == 1


@pytest.mark.parametrize(
    "taken, typed",
    [
        (
            "\U0001f468\u200d\U0001f469\u200d\U0001f467",
            "\U0001f468\U0001f469\U0001f467",
        ),  # a family, three people
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u062e\u0648\u0627\u0647\u0645",
        ),  # Persian, joined or not
    ],
    ids=["emoji joined", "persian non-joiner"],
)
def test_view_names_that_look_different_because_of_a_joiner_are_two_names(client, desk, taken, typed):
    SavedViewFactory(owner=desk["agent"], name=taken)
    client.force_login(desk["agent"])
    response = client.post(reverse("tickets:desk_view_create"), {"name": typed, "query": "q=Printer"})
    assert response.status_code == 302 and SavedView.objects.filter(owner=desk["agent"]).count() == 2


@pytest.mark.parametrize("typed", ["\u200b", "\u202e", " \u00ad "])
def test_a_view_name_that_shows_nothing_is_refused(client, desk, typed):
    client.force_login(desk["agent"])
    response = client.post(reverse("tickets:desk_view_create"), {"name": typed, "query": "q=Printer"})
    assert response.status_code == 422 and not SavedView.objects.filter(owner=desk["agent"]).exists()


def test_own_saved_views_can_be_deleted_from_the_queue_without_javascript(client, desk):
    own = SavedViewFactory(owner=desk["agent"], name="Mine")
    shared = SavedViewFactory(owner=desk["colleague"], name="Team's", team=desk["support"])
    client.force_login(desk["agent"])
    page = client.get(QUEUE).content.decode()
    delete_own = reverse("tickets:desk_view_delete", args=[own.pk])
    assert f'form="saved-view-delete-form" formaction="{delete_own}"' in page
    assert reverse("tickets:desk_view_delete", args=[shared.pk]) not in page, "only the owner may delete"
    [form] = re.findall(r'<form method="post" id="saved-view-delete-form"[^>]*>.*?</form>', page)
    assert "csrfmiddlewaretoken" in form

    # The refreshing fragment carries the buttons but no token, so an unchanged queue still answers 304.
    headers = {**HTMX, "HX-Target": "queue-table"}
    first = client.get(QUEUE, headers=headers)
    assert delete_own in first.content.decode() and "csrfmiddlewaretoken" not in first.content.decode()
    assert client.get(QUEUE, headers={**headers, "If-None-Match": first["ETag"]}).status_code == 304

    response = client.post(delete_own)
    assert response.status_code == 302 and not SavedView.objects.filter(pk=own.pk).exists()


def test_a_supervisor_deletes_a_view_shared_with_their_team_by_someone_who_has_left_it(client, desk):
    """A view shared with Support stays in Support's list after its owner leaves the team; Support's
    supervisor can delete it (the button is theirs too, and the deletion names its owner and team in the
    audit trail), while a colleague, or a supervisor of another team, can do neither."""
    from accounts.models import TeamMember
    from audit.models import AuditEvent
    from tests.factories import make_supervisor

    shared = SavedViewFactory(owner=desk["colleague"], name="Casey's fires", team=desk["support"])
    TeamMember.objects.filter(team=desk["support"], user=desk["colleague"]).delete()
    delete = reverse("tickets:desk_view_delete", args=[shared.pk])

    client.force_login(desk["agent"])
    assert delete not in client.get(QUEUE).content.decode()
    assert client.post(delete).status_code == 404
    client.force_login(make_supervisor(desk["billing"]))
    assert client.post(delete).status_code == 404
    assert SavedView.objects.filter(pk=shared.pk).exists()

    client.force_login(desk["supervisor"])
    assert f'formaction="{delete}"' in client.get(QUEUE).content.decode()
    response = client.post(delete, follow=True)
    assert not SavedView.objects.filter(pk=shared.pk).exists()
    assert "Deleted the view “Casey&#x27;s fires”." in response.content.decode()
    event = AuditEvent.objects.get(action="delete", object_id=str(shared.pk), actor=desk["supervisor"])
    assert event.changes["owner"][0] == str(desk["colleague"]) and event.changes["team"][0] == "Support"


# The workspace composer


def test_an_internal_note_with_a_status_on_send_sets_the_status(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {
            "kind": "note",
            "body": "Waiting for the part.",
            "status_after": "on_hold",
            "version": ticket.version,
        },
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.ON_HOLD, "the status chosen with the note was ignored"
    assert TicketMessage.objects.get(body="Waiting for the part.").is_internal


def test_a_note_with_a_status_from_a_stale_page_keeps_the_note_and_changes_nothing(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_reply", args=[ticket.number])
    body = {"kind": "note", "body": "Parked.", "status_after": "on_hold", "version": seen}
    response = client.post(url, body)
    assert response.status_code == 422 and "Parked.</textarea>" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW
    # A note alone does not conflict with a colleague's change.
    assert client.post(url, {**body, "status_after": ""}).status_code == 302


SHOWS_NOTHING = {
    "an empty heading": "#",
    "an empty list item": "-",
    "an empty quote": ">",
    "a rule": "---",
    "a non-breaking space": "&nbsp;",
    "a zero-width space as an entity": "&#8203;",
    "a link with nothing to click": "[]()",
    "an empty code block": "```\n```",
    "the Braille blank": "\u2800",
    "the Hangul filler": "\u3164",
}


@pytest.mark.parametrize("kind", ["reply", "note"])
@pytest.mark.parametrize("body", SHOWS_NOTHING.values(), ids=SHOWS_NOTHING.keys())
def test_a_message_that_renders_to_nothing_is_refused_as_an_empty_one(client, desk, kind, body):
    """Spaces and zero-width characters were refused, but "#" went out as an empty heading: what is
    checked is what the customer would read."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_reply", args=[ticket.number])
    response = client.post(url, {"kind": kind, "body": body, "version": ticket.version})
    assert response.status_code == 422 and services.EMPTY_BODY in unescape(response.content.decode())
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1


def test_a_message_of_an_image_or_a_code_line_alone_is_not_empty(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_reply", args=[ticket.number])
    for body in ("![](https://files.example/screen.png)", "```\nsudo reboot\n```", "0"):
        version = Ticket.objects.get(pk=ticket.pk).version
        assert client.post(url, {"kind": "note", "body": body, "version": version}).status_code == 302, body


def test_a_stale_reply_comes_back_as_typed_with_a_message_that_does_not_say_reload(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=desk["colleague"])
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {"kind": "reply", "body": "Long careful answer", "status_after": "pending", "version": seen},
    )
    page = unescape(response.content.decode())
    assert response.status_code == 422
    assert REPLY_STALE in page and "Long careful answer</textarea>" in page
    assert f'id="composer-version" value="{seen + 1}"' in page, "sending again works"
    assert '<option value="pending" selected>' in page
    assert not TicketMessage.objects.filter(body="Long careful answer").exists()


def test_a_refused_reply_keeps_its_files_ticked(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {"kind": "reply", "body": "", "attachments": upload, "version": ticket.version},
    )
    page = unescape(response.content.decode())
    assert response.status_code == 422
    assert re.search(r'<input type="checkbox" name="held" value="[^"]+"[^>]* checked>\s*notes.txt', page)


# Inline edits


def test_invalid_tags_come_back_as_typed(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    edit = {"field": "tags", "value": "billing, a/b", "version": ticket.version}
    fragment = client.post(url, edit, headers=HTMX)
    assert fragment.status_code == 422
    assert services.TAG_INVALID in fragment.content.decode()
    edit_tags = (
        'id="edit-tags" name="value" type="text" aria-invalid="true" aria-describedby="edit-error" autofocus'
    )
    assert f'{edit_tags} value="billing, a/b"' in fragment.content.decode()
    page = client.post(url, edit)  # without JavaScript: the page again, not a redirect that drops it
    assert page.status_code == 422
    assert f'{edit_tags} value="billing, a/b"' in page.content.decode()
    assert services.TAG_INVALID in page.content.decode()


def test_invalid_custom_fields_come_back_as_typed(client, desk):
    ticket = make_ticket(desk["customer"], team=desk["support"], form=TicketFormFactory(),
                         custom_fields={"order_number": "A-1"})  # fmt: skip
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    edit = {
        "field": "custom_fields",
        "version": ticket.version,
        "cf-order_number": "Z-99",
        "cf-product": "Gold",
    }
    for response in (client.post(url, edit, headers=HTMX), client.post(url, edit)):
        assert response.status_code == 422
        assert 'value="Z-99"' in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).custom_fields["order_number"] == "A-1"


def test_a_money_field_reads_with_its_decimal_places_in_the_edit_form_and_the_portal(client, desk):
    money = TicketFormFactory(
        schema=[{"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2}]
    )
    ticket = make_ticket(desk["customer"], team=desk["support"], form=money, custom_fields={"amount": 49.9})
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert 'name="cf-amount" value="49.90" step="0.01"' in page
    client.force_login(desk["customer"])
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "<dt>Amount</dt><dd>49.90</dd>" in page
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {"amount": 49.9}


def test_assigning_on_a_ticket_seen_only_as_its_assignee_goes_back_to_the_queue(client, desk):
    """A Support agent still assigned a ticket that moved to Billing passes it to a Billing agent:
    saved, and the answer is the queue, not a 404 for the ticket they just handed on."""
    client.force_login(desk["agent"])
    for headers in ({}, HTMX):
        ticket = make_ticket(desk["customer"], team=desk["support"], subject="Invoice twice")
        services.ticket_assign(ticket, assignee=desk["agent"], actor=None)
        Ticket.objects.filter(pk=ticket.pk).update(team=desk["billing"])
        version = Ticket.objects.get(pk=ticket.pk).version
        edit = {"field": "assignee", "value": desk["biller"].pk, "version": version, "queue": "status=new"}
        response = client.post(reverse("tickets:desk_update", args=[ticket.number]), edit, headers=headers)
        assert Ticket.objects.get(pk=ticket.pk).assignee == desk["biller"]
        if headers:
            assert response.status_code == 200 and response["HX-Redirect"] == f"{QUEUE}?status=new"
        else:
            assert response.status_code == 302 and response["Location"] == f"{QUEUE}?status=new"
            moved_on = EDITED_OUT_OF_REACH.format(
                ticket=ticket.reference,
                whereabouts=f"with team {desk['billing']}, assigned to {desk['biller']}",
            )
            assert moved_on in notes(response)


# Bulk actions


def test_bulk_status_on_tickets_already_in_it_is_not_reported_as_refused(client, desk):
    pending = make_ticket(desk["customer"], team=desk["support"], subject="Waiting")
    services.ticket_transition(pending, status=Status.PENDING, actor=desk["agent"])
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_bulk"), {"tickets": [desk["ticket"].pk, pending.pk], "action": "status:pending"}
    )
    assert not [note for note in notes(response) if "was not changed" in note]
    assert set(
        Ticket.objects.filter(pk__in=[desk["ticket"].pk, pending.pk]).values_list("status", flat=True)
    ) == {Status.PENDING}


def test_bulk_tag_actions_need_a_tag_and_remove_it_however_it_is_typed(client, desk):
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["key account"], actor=desk["agent"])
    client.force_login(desk["agent"])
    bulk = reverse("tickets:desk_bulk")
    empty = client.post(bulk, {"tickets": [ticket.pk], "action": "add_tag", "value": "  "})
    assert empty.status_code == 422, "not “Updated 1 ticket(s)” for nothing"
    assert services.BULK_TAG_MISSING in empty.content.decode() and not notes(empty)
    client.post(bulk, {"tickets": [ticket.pk], "action": "remove_tag", "value": " Key   Account "})
    assert list(ticket.tags.values_list("name", flat=True)) == []
