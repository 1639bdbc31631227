"""Bad input on the desk's and the knowledge base's smaller forms gets a clear error and loses nothing:
invalid input answers 422 with what was typed, plain HTML and htmx alike; a repeated POST is harmless."""

import re
from html import unescape

import pytest
from django.urls import reverse

from knowledge import services as knowledge_services
from knowledge.models import Article
from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_supervisor
from tests.helpdesk.conftest import make_desk
from tickets.models import Ticket, TicketMessage

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")


def test_bulk_tag_action_without_a_tag_answers_422_and_keeps_the_selection(client, desk):
    """A bulk "Add the tag below" sent with no tag is invalid input: the queue comes back at 422 with the
    reason beside the tag box and the tickets still ticked, rather than a redirect that drops both."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    chosen = f"{ticket.pk}:{ticket.version}"
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [chosen], "action": "add_tag", "value": "   ", "back": reverse("tickets:desk_queue")},
    )
    assert response.status_code == 422
    html = unescape(response.content.decode())
    assert "Type the tag to add or remove." in html
    assert f'value="{chosen}"' in html  # the selection is still there to act on


def test_internal_note_sent_twice_is_kept_once(client, desk):
    """The same composer POST sent twice (a double click, a retried request) adds the note once, as the
    portal's replies and submissions do with their submission key."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_reply", args=[ticket.number])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    data = {
        "kind": "note",
        "body": "Checked the printer logs.",
        "version": str(ticket.version),
        "submission_key": key,
    }
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == 302
    assert second.status_code in (302, 409, 422)
    assert TicketMessage.objects.filter(ticket=ticket, body="Checked the printer logs.").count() == 1


def test_inline_edit_refused_without_htmx_answers_422_like_with_htmx(client, desk):
    """An inline edit with a value that is not among the select's choices is invalid input whether or not
    htmx sent it: the plain form gets 422 with the error on the page, as the htmx one does, not a 302 as if
    it had worked."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    data = {"field": "priority", "value": "bogus", "version": str(ticket.version)}
    with_htmx = client.post(url, data, HTTP_HX_REQUEST="true")
    assert with_htmx.status_code == 422
    plain = client.post(url, data)
    assert plain.status_code == 422
    assert Ticket.objects.get(pk=ticket.pk).priority == ticket.priority


@pytest.mark.parametrize(
    ("field", "value"),
    [("team", "abc"), ("team", "99999999"), ("assignee", "abc"), ("status", "bogus")],
)
def test_inline_edit_with_a_value_not_among_the_choices_answers_422_not_409(client, desk, field, value):
    """A team, assignee or status that is not one of the choices (not a number, no such row, no such
    status) is invalid input (422), not a conflict with someone else's change (409 is the stale-page
    answer); nothing is saved."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": field, "value": value, "version": str(ticket.version)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_request_for_changes_refused_as_stale_keeps_the_typed_note(client):
    """An editor's "request changes" note, refused because the author changed the article meanwhile, comes
    back on the page (4xx) with the note as typed, instead of a redirect that throws the note away."""
    author = make_agent(TeamFactory())
    editor = make_supervisor(TeamFactory())
    article = knowledge_services.article_create(title="Reset the router", body="Hold it.", actor=author)
    article = knowledge_services.article_submit_for_review(article, actor=author)
    loaded_at = article.updated_at.isoformat()  # the editor opens the review page
    knowledge_services.article_update(
        Article.objects.get(pk=article.pk), title="Reset the router", body="Hold for 10 s.", actor=author
    )  # the author changes it meanwhile
    client.force_login(editor)
    note = "Please add a screenshot of the router's back panel and the LED colours."
    response = client.post(
        reverse("knowledge:manage_action", args=[article.slug, "draft"]),
        {"note": note, "loaded_at": loaded_at},
    )
    assert Article.objects.get(pk=article.pk).status == "review"  # refused, as it should be
    assert response.status_code in (409, 422)
    assert note in unescape(response.content.decode())


def test_a_reply_and_solve_sent_twice_is_kept_once_and_the_second_is_no_conflict(client, desk):
    """ "Reply and solve" changes the ticket's version; the same form sent again (a double click) finds
    its reply already made rather than a stale page, and nothing is sent twice."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    data = {
        "kind": "reply",
        "body": "Fixed: new fuser.",
        "status_after": "resolved",
        "version": ticket.version,
    }
    url = reverse("tickets:desk_reply", args=[ticket.number])
    assert client.post(url, {**data, "submission_key": key}).status_code == 302
    assert client.post(url, {**data, "submission_key": key}).status_code == 302
    assert TicketMessage.objects.filter(ticket=ticket, body="Fixed: new fuser.").count() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
