"""The desk at its edges: access lost mid-work, tags in any script, saved views after leaving a team,
bulk actions on tickets one may not see, merges (into itself, another team, along a chain), markup in
notes, assignments refused, neighbours, the composer's statuses, and the workspace's query budget."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import TeamMember, User
from tests.conftest import made_once_per_module
from tests.factories import (
    SavedViewFactory,
    make_administrator,
    make_ticket,
)
from tests.tickets.conftest import make_desk, notes, page_text
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")


QUEUE = reverse("tickets:desk_queue")
HTMX = {"HX-Request": "true"}


def update(client, ticket, field, value, **extra):
    data = {"field": field, "value": value, "version": ticket.version, **extra}
    return client.post(reverse("tickets:desk_update", args=[ticket.number]), data)


# Access lost while the workspace is open


def test_a_supervisor_removed_from_the_team_cannot_merge_or_mark_read_from_an_open_page(client, desk):
    """Every POST from a workspace opened before the supervisor left the team: 404, nothing changed."""
    supervisor, customer = desk["supervisor"], desk["customer"]
    source = desk["ticket"]
    target = make_ticket(customer, team=desk["support"], subject="Same fire again")
    client.force_login(supervisor)
    assert client.get(reverse("tickets:desk_ticket", args=[source.number])).status_code == 200
    TeamMember.objects.filter(user=supervisor).delete()
    merge = client.post(
        reverse("tickets:desk_merge", args=[source.number]),
        {"confirm": "merge", "into": target.reference, "version": source.version},
    )
    seen = client.post(reverse("tickets:desk_seen", args=[source.number]))
    tags = update(client, source, "tags", "hot")
    assert (merge.status_code, seen.status_code, tags.status_code) == (404, 404, 404)
    source.refresh_from_db()
    assert source.merged_into_id is None and source.version == 1
    assert not source.tags.exists()


# Tags


@pytest.mark.parametrize("typed", ["İzmir", "Île-de-France", "Ile\u0301-de-France"])
def test_a_tag_of_letters_only_is_accepted_whatever_its_case(client, desk, typed):
    """A tag of letters (a capital dotted I, an accent typed either way) is saved in lower case."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = update(client, ticket, "tags", typed)
    assert response.status_code == 302, response.context["edit_error"]
    assert ticket.tags.count() == 1


def test_duplicate_tags_in_other_case_and_spacing_are_stored_once(client, desk):
    """ "VIP, vip ,  Big   Customer, big customer" is stored as two tags, lower case, single spaces."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = update(client, ticket, "tags", "VIP, vip ,  Big   Customer, big customer")
    assert response.status_code == 302
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["big customer", "vip"]


# Saved views


def test_a_shared_view_disappears_for_a_member_who_left_the_team(client, desk):
    """A view shared with Support is listed for a colleague, and no longer once they leave the team."""
    view = SavedViewFactory(owner=desk["agent"], team=desk["support"], name="Fires", query="q=fire")
    colleague = desk["colleague"]
    client.force_login(colleague)
    assert "Fires" in [v.name for v in client.get(QUEUE).context["saved_views"]]
    TeamMember.objects.filter(user=colleague, team=desk["support"]).delete()
    colleague = User.objects.get(pk=colleague.pk)
    client.force_login(colleague)
    assert "Fires" not in [v.name for v in client.get(QUEUE).context["saved_views"]]
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 404


def test_a_saved_view_filtering_on_a_team_the_agent_left_says_so_and_lists_none_of_its_tickets(client, desk):
    """A view filtered on a team the agent left names the problem and lists none of its tickets."""
    billing_ticket = make_ticket(desk["customer"], team=desk["billing"], subject="Billing only")
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"team": desk["billing"].pk})
    subjects = {t.subject for t in response.context["queue"].tickets}
    assert billing_ticket.subject not in subjects
    assert response.context["queue"].filterset.problems


# Bulk


def test_bulk_on_missing_deleted_and_invisible_tickets_says_the_same_for_each(client, desk):
    """A missing, a soft-deleted and another team's ticket get the same words: nothing leaks."""
    admin = make_administrator()
    deleted = make_ticket(desk["customer"], team=desk["support"], subject="Deleted")
    services.ticket_delete(deleted, actor=admin)
    other = make_ticket(desk["customer"], team=desk["billing"], subject="Other team")
    client.force_login(desk["agent"])
    said = []
    for pk in (10**9, deleted.pk, other.pk):
        response = client.post(reverse("tickets:desk_bulk"), {"tickets": [f"{pk}:1"], "action": "assign_me"})
        assert response.status_code == 302
        said.append(notes(response))
    assert said[0] == said[1] == said[2]
    assert Ticket.objects.get(pk=other.pk).assignee_id is None
    assert Ticket.objects.get(pk=deleted.pk).assignee_id is None


# Merge


def test_merging_a_ticket_into_itself_by_its_own_number_is_refused_with_422(client, desk):
    """Typing the ticket's own number in the merge box is refused with a reason and changes nothing."""
    ticket = desk["ticket"]
    client.force_login(desk["supervisor"])
    response = client.post(
        reverse("tickets:desk_merge", args=[ticket.number]),
        {"confirm": "merge", "into": str(ticket.number), "version": ticket.version},
    )
    assert response.status_code == 422
    assert "itself" in page_text(response)
    ticket.refresh_from_db()
    assert ticket.merged_into_id is None and ticket.status != "closed"


def test_merging_into_a_ticket_of_another_team_reads_as_no_such_ticket(client, desk):
    """A target the supervisor cannot see answers exactly as a number that does not exist."""
    ticket = desk["ticket"]
    hidden = make_ticket(desk["customer"], team=desk["billing"], subject="Hidden")
    client.force_login(desk["supervisor"])
    seen = client.post(
        reverse("tickets:desk_merge", args=[ticket.number]), {"confirm": "merge", "into": hidden.reference}
    )
    missing = client.post(
        reverse("tickets:desk_merge", args=[ticket.number]), {"confirm": "merge", "into": "T-999999999"}
    )
    assert seen.status_code == missing.status_code == 422
    assert seen.context["merge_error"].replace(hidden.reference, "X") == missing.context[
        "merge_error"
    ].replace("T-999999999", "X")
    assert "Hidden" not in page_text(seen)


# Workspace


def test_a_note_with_html_and_a_javascript_link_is_shown_as_text(client, desk):
    """Script tags and javascript: links typed in a note are never rendered as live HTML in the workspace."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    body = "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3))"
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {"kind": "note", "body": body, "version": ticket.version},
    )
    assert response.status_code == 302
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
    assert 'href="javascript:' not in page


def test_assigning_to_a_suspended_agent_is_refused_and_changes_nothing(client, desk):
    """An agent suspended after the page was opened cannot be made the assignee."""
    colleague = desk["colleague"]
    ticket = desk["ticket"]
    User.objects.filter(pk=colleague.pk).update(status=User.Status.SUSPENDED)
    client.force_login(desk["agent"])
    response = update(client, ticket, "assignee", str(colleague.pk))
    assert response.status_code in (409, 422)
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_assigning_to_an_agent_who_just_left_the_team_is_refused(client, desk):
    """An agent whose team membership ended since the picker was drawn cannot be made the assignee."""
    colleague = desk["colleague"]
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    TeamMember.objects.filter(user=colleague).delete()
    response = client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "assignee", "value": colleague.pk, "version": ticket.version},
        headers=HTMX,
    )
    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_workspace_posts_need_a_csrf_token(desk):
    """Inline edits, replies, merges and bulk actions without a CSRF token are refused with 403."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk["supervisor"])
    ticket = desk["ticket"]
    for url, data in [
        (reverse("tickets:desk_update", args=[ticket.number]), {"field": "priority", "value": "urgent"}),
        (reverse("tickets:desk_reply", args=[ticket.number]), {"kind": "note", "body": "x"}),
        (reverse("tickets:desk_merge", args=[ticket.number]), {"confirm": "merge", "into": "1"}),
        (reverse("tickets:desk_bulk"), {"tickets": [ticket.pk], "action": "assign_me"}),
    ]:
        assert client.post(url, data).status_code == 403
    ticket.refresh_from_db()
    assert ticket.version == 1


def test_next_and_previous_when_the_ticket_no_longer_matches_the_view(client, desk):
    """Opened with a queue it no longer matches, the workspace still opens (no Next/Previous invented)."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]), {"queue": "status=pending"})
    assert response.status_code == 200
    assert (response.context["previous_number"], response.context["next_number"]) == (None, None)


def test_a_note_on_a_ticket_merged_along_a_chain_points_where_the_conversation_is_now(client, desk):
    """A merged into B, then B into C: a note refused on A sends the agent to C, not to read-only B."""
    customer, supervisor = desk["customer"], desk["supervisor"]
    a = desk["ticket"]
    b = make_ticket(customer, team=desk["support"], subject="Second")
    c = make_ticket(customer, team=desk["support"], subject="Third")
    services.ticket_merge(a, into=b, actor=supervisor)
    services.ticket_merge(Ticket.objects.get(pk=b.pk), into=c, actor=supervisor)
    a.refresh_from_db()
    client.force_login(desk["agent"])
    response = client.post(
        reverse("tickets:desk_reply", args=[a.number]),
        {"kind": "note", "body": "Checked", "version": a.version},
    )
    assert response.status_code == 422
    assert "make the change there" in page_text(response)
    assert c.reference in page_text(response).split("make the change there")[0]


def test_the_composer_offers_only_statuses_the_ticket_can_be_set_to(client, desk):
    """On a resolved ticket "Then set status" offers no status the workflow refuses (Pending, On hold)."""
    ticket = desk["ticket"]
    services.ticket_transition(ticket, status="resolved", actor=desk["agent"])
    client.force_login(desk["agent"])
    page = page_text(client.get(reverse("tickets:desk_ticket", args=[ticket.number])))
    composer = page.split('id="id_status_after"')[1].split("</select>")[0]
    assert 'value="pending"' not in composer and 'value="on_hold"' not in composer


@pytest.mark.parametrize("rich", [False, True])
def test_workspace_query_count_does_not_grow_with_tags_activity_and_other_tickets(
    client, desk, django_assert_max_num_queries, rich
):
    """Many tags, timeline entries, files and other tickets of the requester cost no more queries."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket, agent, customer = desk["ticket"], desk["agent"], desk["customer"]
    if rich:
        for n in range(12):
            make_ticket(customer, team=desk["support"], subject=f"Other {n}")
        services.ticket_set_tags(ticket, names=[f"tag{n}" for n in range(20)], actor=agent)
        for priority in ["high", "low", "urgent", "medium"] * 3:
            services.ticket_update_fields(ticket, changes={"priority": priority}, actor=agent)
        services.ticket_assign(ticket, assignee=desk["colleague"], actor=agent)
        services.ticket_update_fields(ticket, changes={"team": desk["billing"]}, actor=None)
        services.ticket_update_fields(ticket, changes={"team": desk["support"]}, actor=None)
        for n in range(3):
            services.ticket_add_note(
                ticket,
                body=f"note {n}",
                actor=agent,
                uploads=[SimpleUploadedFile(f"f{n}.txt", b"hello", content_type="text/plain")],
            )
    client.force_login(agent)
    client.get(reverse("tickets:desk_ticket", args=[ticket.number]))  # warm the per-viewer caches
    with django_assert_max_num_queries(15):
        response = client.get(reverse("tickets:desk_ticket", args=[ticket.number]), {"queue": "status=new"})
    assert response.status_code == 200
