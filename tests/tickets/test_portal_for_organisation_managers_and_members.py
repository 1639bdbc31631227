"""The customer portal as organisation managers and ordinary organisation members see it
(lists, paging, counts, replies, statuses, internal notes and their files, merges, deletions, people
leaving or moving, deactivated organisations, refusals as 404)."""

import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Organization, User
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import download_url as download
from tests.tickets.conftest import fresh
from tests.tickets.conftest import page_text as text
from tests.tickets.conftest import portal_detail_url as detail
from tests.tickets.conftest import portal_reply_url as reply_url
from tests.tickets.conftest import portal_status_url as status_url
from tickets import services
from tickets.models import Attachment, TicketActivity, TicketMessage
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")
HX = {"HX-Request": "true"}


def txt(name: str = "notes.txt", content: bytes = b"plain text\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


def key() -> str:
    return str(uuid.uuid4())


def listed_numbers(response) -> list[str]:
    return re.findall(r'href="/portal/tickets/(\d+)/"', response.content.decode())


def assert_plain_404(response, *secrets: str) -> None:
    assert response.status_code == 404
    body = text(response)
    for secret in secrets:
        assert secret not in body


def make_org():
    acme = OrganizationFactory(name="Acme")
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    rita = make_customer(acme, name="Rita Requester")
    colin = make_customer(acme, name="Colin Colleague")
    mona = make_customer(acme, manager=True, name="Mona Manager")
    ticket = make_ticket(rita, team=team, subject="Printer on fire")
    return {"acme": acme, "team": team, "agent": agent, "rita": rita, "colin": colin, "mona": mona,
            "ticket": ticket}  # fmt: skip


_org_rows, org = made_once_per_module(make_org, "org")


# --- The organisation list -----------------------------------------------------------------------


def test_manager_org_list_pages_keep_scope_and_count_everyone(client, org):
    """25 colleague tickets: page 1 and 2 of the organisation list, 'in all' counts 26, scope kept in
    the Next link, no ticket twice, none missing."""
    tickets = [org["ticket"]] + [
        make_ticket(org["colin"] if n % 2 else org["rita"], team=org["team"], subject=f"Issue {n}")
        for n in range(25)
    ]
    client.force_login(org["mona"])
    first = client.get(LIST, {"scope": "organization", "status": "all"})
    assert first.status_code == 200
    assert "26 in all" in text(first)
    next_link = re.search(r'href="([^"]+)" rel="next"', first.content.decode())
    assert next_link and "scope=organization" in unescape(next_link.group(1))
    href = unescape(next_link.group(1))
    second = client.get(LIST + href if href.startswith("?") else href)
    seen = listed_numbers(first) + listed_numbers(second)
    assert sorted(seen) == sorted(str(t.number) for t in tickets)


def test_manager_org_list_status_filters_split_the_tickets(client, org):
    solved = make_ticket(org["colin"], team=org["team"], subject="Old solved thing")
    services.ticket_transition(solved, status=Status.RESOLVED, actor=org["agent"])
    client.force_login(org["mona"])
    open_ = listed_numbers(client.get(LIST, {"scope": "organization", "status": "open"}))
    done = listed_numbers(client.get(LIST, {"scope": "organization", "status": "solved"}))
    assert str(org["ticket"].number) in open_ and str(solved.number) not in open_
    assert str(solved.number) in done and str(org["ticket"].number) not in done


def test_manager_org_list_never_lists_other_organisations_or_deleted_tickets(client, org):
    other = make_ticket(make_customer(OrganizationFactory(name="Globex")), subject="Globex secret")
    gone = make_ticket(org["colin"], team=org["team"], subject="Spam deleted")
    services.ticket_delete(gone, actor=make_administrator())
    client.force_login(org["mona"])
    page = client.get(LIST, {"scope": "organization", "status": "all"})
    assert str(other.number) not in listed_numbers(page)
    assert str(gone.number) not in listed_numbers(page)
    assert "Globex secret" not in text(page)
    # by number too
    page = client.get(LIST, {"scope": "organization", "status": "all", "q": other.reference})
    assert "Globex secret" not in text(page)


def test_manager_org_list_shows_the_requester_column(client, org):
    client.force_login(org["mona"])
    page = text(client.get(LIST, {"scope": "organization"}))
    assert "Rita Requester" in page


def test_manager_mine_scope_search_by_colleagues_number_finds_nothing(client, org):
    """'My tickets' (scope mine) searched for a colleague's number does not show it."""
    client.force_login(org["mona"])
    page = client.get(LIST, {"q": org["ticket"].reference, "status": "all"})
    assert str(org["ticket"].number) not in listed_numbers(page)


def test_manager_org_search_by_number_finds_a_colleagues_solved_ticket(client, org):
    services.ticket_transition(org["ticket"], status=Status.RESOLVED, actor=org["agent"])
    client.force_login(org["mona"])
    page = client.get(LIST, {"q": org["ticket"].reference, "scope": "organization", "status": "open"})
    assert str(org["ticket"].number) in listed_numbers(page)


def test_manager_org_search_by_subject_word(client, org):
    make_ticket(org["colin"], team=org["team"], subject="Keyboard missing keys")
    client.force_login(org["mona"])
    page = text(client.get(LIST, {"q": "keyboard", "scope": "organization", "status": "all"}))
    assert "Keyboard missing keys" in page and "Printer on fire" not in page


@pytest.mark.parametrize(
    "params",
    [
        {"scope": ["organization", "mine"]},
        {"scope": "ORGANIZATION"},
        {"scope": "organization", "page": "0"},
        {"scope": "organization", "page": "1.5"},
        {"scope": "organization", "page": ""},
        {"scope": "organization", "status": "zzz", "page": "99999"},
        {"scope": "organization", "q": "%_%"},
        {"scope": "organization", "q": "#"},
        {"scope": "organization", "q": "T-"},
        {"scope": "organization", "q": "T-0"},
        {"scope": "organization", "q": "-5"},
    ],
)
def test_manager_org_list_odd_inputs_answer_200(client, org, params):
    client.force_login(org["mona"])
    assert client.get(LIST, params).status_code == 200


def test_manager_page_past_end_of_org_list_shows_last_page(client, org):
    client.force_login(org["mona"])
    page = client.get(LIST, {"scope": "organization", "page": "99999"})
    assert str(org["ticket"].number) in listed_numbers(page)


# --- Ordinary members ---------------------------------------------------------------------------------


def test_ordinary_member_sees_only_own_tickets_everywhere(client, org):
    colin_ticket = make_ticket(org["colin"], team=org["team"], subject="Colin's own")
    reply = services.ticket_reply(org["ticket"], body="hi", actor=org["agent"], uploads=[txt("r.txt")])
    status = fresh(org["ticket"]).status
    client.force_login(org["colin"])
    searches = [
        {"status": "all"},
        {"status": "all", "scope": "organization"},
        {"status": "all", "q": org["ticket"].reference},
        {"q": "Printer", "scope": "organization"},
    ]
    for params in searches:
        numbers = listed_numbers(client.get(LIST, params))
        assert str(org["ticket"].number) not in numbers, params
    assert str(colin_ticket.number) in listed_numbers(client.get(LIST, {"status": "all"}))
    assert_plain_404(client.get(detail(org["ticket"])), "Printer on fire")
    assert_plain_404(client.get(detail(org["ticket"]), headers=HX), "Printer on fire")
    assert_plain_404(client.get(download(reply.attachments.get())), "r.txt")
    assert_plain_404(client.post(reply_url(org["ticket"]), {"body": "x", "submission_key": key()}))
    assert_plain_404(client.post(status_url(org["ticket"]), {"status": "resolved"}))
    assert fresh(org["ticket"]).status == status
    assert TicketMessage.objects.filter(ticket=org["ticket"], author=org["colin"]).count() == 0


def test_ordinary_member_does_not_get_the_scope_selector(client, org):
    client.force_login(org["colin"])
    page = client.get(LIST).content.decode()
    assert 'name="scope"' not in page


def test_customer_without_organisation_lists_own_and_no_scope(client, org):
    loner = make_user_without_org()
    own = make_ticket(loner, team=org["team"], subject="Loner request")
    assert own.organization_id is None
    client.force_login(loner)
    page = client.get(LIST, {"scope": "organization", "status": "all"})
    assert page.status_code == 200
    assert listed_numbers(page) == [str(own.number)]
    # Another org-less customer's ticket is not "the same organisation" (NULL == NULL).
    other_loner = make_user_without_org()
    theirs = make_ticket(other_loner, team=org["team"], subject="Other loner")
    assert client.get(detail(theirs)).status_code == 404


def make_user_without_org() -> User:
    user = make_customer(OrganizationFactory())
    User.objects.filter(pk=user.pk).update(organization=None)
    return User.objects.get(pk=user.pk)


# --- Opening, replying, statuses as a manager --------------------------------------------------------


def test_manager_reply_on_colleagues_ticket_is_theirs_and_ticket_stays_the_requesters(client, org):
    ticket = org["ticket"]
    client.force_login(org["mona"])
    response = client.post(reply_url(ticket), {"body": "Manager chiming in", "submission_key": key()})
    assert response.status_code == 302
    message = TicketMessage.objects.filter(ticket=ticket).order_by("-pk").first()
    assert message.author == org["mona"] and not message.from_staff and not message.is_internal
    assert fresh(ticket).requester == org["rita"]
    # The requester still has it in their list and sees the manager's words, named
    client.force_login(org["rita"])
    assert str(ticket.number) in listed_numbers(client.get(LIST))
    page = text(client.get(detail(ticket)))
    assert "Manager chiming in" in page and "Mona Manager" in page


def test_manager_reply_with_a_file_is_downloadable_by_the_requester(client, org):
    client.force_login(org["mona"])
    client.post(reply_url(org["ticket"]), {"body": "see file", "submission_key": key(),
                                           "attachments": txt("m.txt", b"from mona")})  # fmt: skip
    attachment = Attachment.objects.get(filename="m.txt")
    client.force_login(org["rita"])
    response = client.get(download(attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"from mona"
    client.force_login(org["colin"])
    assert client.get(download(attachment)).status_code == 404


def test_manager_cannot_post_an_internal_note_or_internal_fields_through_the_portal(client, org):
    ticket = org["ticket"]
    before = (ticket.priority, ticket.team_id, ticket.assignee_id, ticket.subject)
    client.force_login(org["mona"])
    client.post(reply_url(ticket), {"body": "sneaky", "submission_key": key(), "kind": "note",
                                    "is_internal": "1", "priority": "urgent", "team": "",
                                    "subject": "Renamed", "status_after": "closed"})  # fmt: skip
    t = fresh(ticket)
    assert (t.priority, t.team_id, t.assignee_id, t.subject) == before
    assert t.status != Status.CLOSED
    assert not TicketMessage.objects.filter(ticket=ticket, is_internal=True).exists()


@pytest.mark.parametrize("target", [Status.CLOSED, Status.PENDING, Status.ON_HOLD, Status.NEW, "bogus"])
def test_manager_cannot_move_a_colleagues_ticket_to_staff_statuses(client, org, target):
    ticket = org["ticket"]
    client.force_login(org["mona"])
    response = client.post(status_url(ticket), {"status": target})
    assert response.status_code == 302
    assert fresh(ticket).status == ticket.status


def test_manager_can_mark_a_colleagues_ticket_solved_and_it_is_attributed(client, org):
    ticket = org["ticket"]
    client.force_login(org["mona"])
    client.post(status_url(ticket), {"status": "resolved"})
    assert fresh(ticket).status == Status.RESOLVED
    activity = TicketActivity.objects.filter(ticket=ticket, action=TicketActivity.Action.STATUS).last()
    assert activity.actor == org["mona"]


@pytest.mark.parametrize(
    "name", ["tickets:desk_ticket", "tickets:desk_update", "tickets:desk_reply", "tickets:desk_merge"]
)
def test_manager_reaching_the_desk_gets_404(client, org, name):
    client.force_login(org["mona"])
    url = reverse(name, args=[org["ticket"].number])
    response = (
        client.get(url)
        if name == "tickets:desk_ticket"
        else client.post(url, {"priority": "urgent", "kind": "note", "body": "x", "submission_key": key()})
    )
    assert_plain_404(response, "Printer on fire")
    assert fresh(org["ticket"]).priority == org["ticket"].priority


def test_manager_gets_405_not_a_change_on_get_of_reply_and_status(client, org):
    client.force_login(org["mona"])
    assert client.get(reply_url(org["ticket"]), {"body": "x"}).status_code == 405
    assert client.get(status_url(org["ticket"]), {"status": "resolved"}).status_code == 405
    assert fresh(org["ticket"]).status == org["ticket"].status


def test_manager_reply_without_csrf_is_refused(org):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(org["mona"])
    response = csrf_client.post(reply_url(org["ticket"]), {"body": "x", "submission_key": key()})
    assert response.status_code == 403
    assert not TicketMessage.objects.filter(author=org["mona"]).exists()


# --- Internal notes: never through any door -----------------------------------------------------------


def test_internal_note_not_in_manager_htmx_reply_fragment(client, org):
    ticket = org["ticket"]
    services.ticket_add_note(ticket, body="Secret NOTE body", actor=org["agent"], uploads=[txt("sec.txt")])
    client.force_login(org["mona"])
    response = client.post(reply_url(ticket), {"body": "hello", "submission_key": key()}, headers=HX)
    assert response.status_code == 200
    assert "Secret NOTE" not in text(response) and "sec.txt" not in text(response)
    invalid = client.post(reply_url(ticket), {"body": "", "submission_key": key()}, headers=HX)
    assert invalid.status_code == 422
    assert "Secret NOTE" not in text(invalid)


def test_internal_note_and_file_stay_hidden_after_a_merge(client, org):
    """A colleague's duplicate with an internal note (and file) merged into the main ticket: the manager
    sees neither on the source, the target, nor by download address."""
    source = make_ticket(org["rita"], team=org["team"], subject="Printer duplicate")
    note = services.ticket_add_note(source, body="Note on DUP", actor=org["agent"], uploads=[txt("dup.txt")])
    public = services.ticket_reply(source, body="Public on dup", actor=org["agent"], uploads=[txt("pub.txt")])
    services.ticket_merge(source, into=org["ticket"], actor=make_supervisor(org["team"]))
    client.force_login(org["mona"])
    for t in (source, org["ticket"]):
        page = client.get(detail(t))
        assert page.status_code == 200
        assert "Note on DUP" not in text(page) and "dup.txt" not in text(page)
    assert client.get(download(note.attachments.get())).status_code == 404
    assert client.get(download(public.attachments.get())).status_code == 200


def test_manager_reply_on_merged_source_lands_on_target(client, org):
    source = make_ticket(org["rita"], team=org["team"], subject="Printer duplicate")
    services.ticket_merge(source, into=org["ticket"], actor=make_supervisor(org["team"]))
    client.force_login(org["mona"])
    response = client.post(reply_url(source), {"body": "on the dup", "submission_key": key()})
    assert response.status_code == 302
    assert TicketMessage.objects.get(body="on the dup").ticket_id == org["ticket"].pk


def test_deleted_colleague_ticket_and_its_files_are_404_for_the_manager(client, org):
    reply = services.ticket_reply(org["ticket"], body="pub", actor=org["agent"], uploads=[txt("p.txt")])
    services.ticket_delete(org["ticket"], actor=make_administrator())
    client.force_login(org["mona"])
    assert_plain_404(client.get(detail(org["ticket"])), "Printer on fire")
    assert_plain_404(client.get(download(reply.attachments.get())))
    assert_plain_404(client.post(reply_url(org["ticket"]), {"body": "x", "submission_key": key()}))


def test_refusals_to_an_outsider_manager_are_plain_404s(client, org):
    outsider = make_customer(OrganizationFactory(name="Globex"), manager=True)
    reply = services.ticket_reply(org["ticket"], body="pub", actor=org["agent"], uploads=[txt("p.txt")])
    client.force_login(outsider)
    assert_plain_404(client.get(detail(org["ticket"])), "Printer on fire", "Rita")
    assert_plain_404(client.head(detail(org["ticket"])))
    assert_plain_404(client.get(download(reply.attachments.get())), "p.txt")
    assert_plain_404(
        client.post(reply_url(org["ticket"]), {"body": "x", "submission_key": key()}, headers=HX)
    )
    assert_plain_404(client.post(status_url(org["ticket"]), {"status": "resolved"}))


# --- Membership changes -----------------------------------------------------------------------------


def test_deactivated_organisation_manager_keeps_own_tickets_and_nothing_breaks(client, org):
    Organization.objects.filter(pk=org["acme"].pk).update(is_active=False)
    own = make_ticket(org["mona"], team=org["team"], subject="Mona's own")
    client.force_login(org["mona"])
    assert client.get(LIST, {"scope": "organization", "status": "all"}).status_code == 200
    assert client.get(detail(own)).status_code == 200
    assert client.post(reply_url(own), {"body": "still here", "submission_key": key()}).status_code == 302


def test_tickets_of_a_member_who_left_stay_with_the_manager_and_the_leaver(client, org):
    """Rita leaves Acme (no organisation): her Acme ticket stays the organisation's (manager still sees
    it) and hers (she still sees and answers it); her new ticket is not Acme's."""
    User.objects.filter(pk=org["rita"].pk).update(organization=None)
    rita = User.objects.get(pk=org["rita"].pk)
    new = make_ticket(rita, team=org["team"], subject="After leaving")
    client.force_login(org["mona"])
    assert client.get(detail(org["ticket"])).status_code == 200
    assert client.get(detail(new)).status_code == 404
    client.force_login(rita)
    assert client.get(detail(org["ticket"])).status_code == 200


def test_member_promoted_to_manager_sees_colleagues_at_once(client, org):
    client.force_login(org["colin"])
    assert client.get(detail(org["ticket"])).status_code == 404
    User.objects.filter(pk=org["colin"].pk).update(is_organization_manager=True)
    assert client.get(detail(org["ticket"])).status_code == 200
    page = client.get(LIST, {"scope": "organization"})
    assert str(org["ticket"].number) in listed_numbers(page)


# --- Where a manager goes back to -------------------------------------------------------------------


def test_manager_on_a_colleagues_ticket_is_led_back_to_the_organisation_list(client, org):
    """A manager opening a colleague's ticket from 'My organisation's tickets' is led back to that list
    by the breadcrumb, not to 'My tickets' (scope mine), where this ticket is not."""
    client.force_login(org["mona"])
    page = client.get(detail(org["ticket"])).content.decode()
    crumb = re.search(r'<p class="muted eyebrow"><a href="([^"]+)">([^<]+)</a>', page)
    href = unescape(crumb.group(1))
    listing = client.get(LIST + href if href.startswith("?") else href)
    assert str(org["ticket"].number) in listed_numbers(listing), (crumb.group(2), href)
