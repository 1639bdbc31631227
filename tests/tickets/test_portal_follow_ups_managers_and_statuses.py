"""The customer portal as customers and organisation managers use it: follow-ups of
closed tickets, replies that reopen, stale pages, what managers may see, people leaving or moving
organisations, odd list parameters, downloads, suspension, invitations and escaping."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Invitation, User
from tests.conftest import made_once_per_module
from tests.factories import (
    InvitationFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.tickets.conftest import download_url as download
from tests.tickets.conftest import fresh
from tests.tickets.conftest import page_text as text
from tests.tickets.conftest import portal_detail_url as detail
from tests.tickets.conftest import portal_reply_url as reply_url
from tests.tickets.conftest import portal_status_url as status_url
from tickets import services
from tickets.models import Attachment, Ticket, TicketActivity
from tickets.workflow import Status

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:portal_list")


def notes(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def txt(name: str = "notes.txt", content: bytes = b"plain text notes\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


def make_org():
    """Acme with a team, an agent, a requester and a manager; the requester has one ticket."""
    acme = OrganizationFactory(name="Acme")
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    requester = make_customer(acme, name="Rita Requester")
    manager = make_customer(acme, manager=True, name="Mona Manager")
    ticket = make_ticket(requester, team=team, subject="Printer on fire")
    return {"acme": acme, "team": team, "agent": agent, "requester": requester, "manager": manager,
            "ticket": ticket}  # fmt: skip


_org_rows, org = made_once_per_module(make_org, "org")


def close(ticket: Ticket, agent: User) -> Ticket:
    services.ticket_transition(ticket, status=Status.CLOSED, actor=agent)
    return fresh(ticket)


# --- Follow-ups of a closed ticket -----------------------------------------------------------------


def test_a_reply_on_a_closed_ticket_opens_a_linked_follow_up_with_its_files_and_leaves_the_closed_one(
    client, org
):
    """A customer writing on a closed ticket opens a new ticket linked to it: their message and file
    are there, the closed ticket keeps its status, thread and "updated" date for the customer (its
    version moves: its timeline gained an entry), and both pages link each other for the requester and
    for the organisation's manager."""
    ticket = close(org["ticket"], org["agent"])
    before = (ticket.status, ticket.version + 1, ticket.messages.count(), ticket.public_updated_at)
    client.force_login(org["requester"])
    response = client.post(
        reply_url(ticket),
        {
            "body": "It is on fire again",
            "submission_key": str(uuid.uuid4()),
            "attachments": [txt("smoke.txt", b"smoke everywhere")],
        },
    )
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.status_code == 302 and response["Location"] == detail(follow_up)
    assert any(follow_up.reference in note for note in notes(response))
    after = fresh(ticket)
    assert (after.status, after.version, after.messages.count(), after.public_updated_at) == before
    message = follow_up.messages.get()
    assert message.body == "It is on fire again" and message.author == org["requester"]
    assert [a.filename for a in message.attachments.all()] == ["smoke.txt"]
    assert follow_up.organization == org["acme"] and follow_up.team == org["team"]
    assert ticket.activities.filter(action=TicketActivity.Action.FOLLOW_UP, new_value=follow_up.reference)
    for person in (org["requester"], org["manager"]):
        client.force_login(person)
        new_page, old_page = client.get(detail(follow_up)), client.get(detail(ticket))
        assert new_page.status_code == old_page.status_code == 200
        assert f'href="{detail(ticket)}"' in new_page.content.decode()
        assert f'href="{detail(follow_up)}"' in old_page.content.decode()
        # The file in the follow-up downloads for both.
        assert client.get(download(message.attachments.get())).status_code == 200


def test_a_closed_ticket_a_customer_wrote_on_is_listed_as_changed_on_the_desk(client, org, clock):
    """Closed three days ago, written on today: its timeline gained "Follow-up opened", a change the desk
    lists as today's ("Updated: Today"), with its new version, as any other entry would be."""
    ticket = close(org["ticket"], org["agent"])
    clock.shift(timedelta(days=3))
    services.ticket_reply(ticket, body="It broke again.", actor=org["requester"])
    after = fresh(ticket)
    assert after.version == ticket.version + 1 and after.updated_at > ticket.updated_at
    assert after.public_updated_at == ticket.public_updated_at  # the customer's own doing: not news to them
    client.force_login(org["agent"])
    listed = client.get(reverse("tickets:desk_queue"), {"status": "closed", "updated_within": "0"})
    assert [row.pk for row in listed.context["queue"].tickets] == [ticket.pk]


def test_a_follow_up_keeps_the_form_and_its_answers_and_the_team_that_worked_it(client, org):
    """The order number the customer gave on the form comes with the follow-up, as stored, even after
    the form gained a required field and changed a type since; the follow-up goes to the team that
    worked the conversation, not the form's default; a second click lands on the same follow-up."""
    other_team = TeamFactory(name="Returns")
    form = TicketFormFactory(
        default_team=other_team, schema=[{"name": "order", "label": "Order", "type": "text"}]
    )
    ticket = services.ticket_create(
        requester=org["requester"], subject="Broken heater", description="It clicks", form=form,
        custom_fields={"order": "A-17"}, actor=org["requester"],
    )  # fmt: skip
    services.ticket_update_fields(ticket, changes={"team": org["team"]}, actor=None)
    form.schema = [
        {"name": "order", "label": "Order", "type": "number"},
        {"name": "serial", "label": "Serial", "type": "text", "required": True},
    ]
    form.save()
    ticket = close(fresh(ticket), org["agent"])
    client.force_login(org["requester"])
    sent = {"body": "It clicks again", "submission_key": str(uuid.uuid4())}
    first, second = client.post(reply_url(ticket), sent), client.post(reply_url(ticket), sent)
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert (follow_up.form, follow_up.custom_fields, follow_up.team) == (form, {"order": "A-17"}, org["team"])


def test_a_managers_follow_up_of_a_colleagues_closed_ticket_stays_the_colleagues_request(client, org):
    """The manager writing on a colleague's closed ticket opens a follow-up whose requester is still the
    colleague (who sees it in "My tickets"), written by the manager."""
    ticket = close(org["ticket"], org["agent"])
    client.force_login(org["manager"])
    client.post(reply_url(ticket), {"body": "Following up for Rita", "submission_key": str(uuid.uuid4())})
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert follow_up.requester == org["requester"]
    assert follow_up.messages.get().author == org["manager"]
    client.force_login(org["requester"])
    assert follow_up.reference in client.get(LIST).content.decode()


def test_the_agent_working_a_follow_up_is_told_which_ticket_it_follows(client, org):
    """On the desk, a follow-up names the closed ticket it continues (as the portal does with "Follow-up
    of"), so the agent can read the earlier conversation - even for a requester with many tickets,
    where the closed one is not among the ten "Other tickets"."""
    ticket = close(org["ticket"], org["agent"])
    for n in range(11):
        make_ticket(org["requester"], team=org["team"], subject=f"Other matter {n}")
    services.ticket_reply(ticket, body="Again!", actor=org["requester"])
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    client.force_login(org["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[follow_up.number]))
    assert page.status_code == 200
    assert f'href="{reverse("tickets:desk_ticket", args=[ticket.number])}"' in page.content.decode()
    original = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert f'href="{reverse("tickets:desk_ticket", args=[follow_up.number])}"' in original


def test_an_htmx_follow_up_sends_the_browser_to_the_new_ticket(client, org):
    """Sent from the htmx composer, a reply on a closed ticket answers with a client redirect to the
    follow-up (not the follow-up's page swapped into the old conversation)."""
    ticket = close(org["ticket"], org["agent"])
    client.force_login(org["manager"])
    response = client.post(
        reply_url(ticket),
        {"body": "htmx follow-up", "submission_key": str(uuid.uuid4())},
        HTTP_HX_REQUEST="true",
    )
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response["HX-Redirect"] == detail(follow_up)


# --- Replies that reopen ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.PENDING])
def test_a_customer_reply_reopens_a_solved_or_pending_ticket_by_the_customer(client, org, status):
    """A reply on a solved or pending ticket puts it back to open; the timeline says the customer did it."""
    ticket = org["ticket"]
    services.ticket_transition(ticket, status=status, actor=org["agent"])
    client.force_login(org["requester"])
    response = client.post(reply_url(ticket), {"body": "Still broken", "submission_key": str(uuid.uuid4())})
    assert response.status_code == 302
    after = fresh(ticket)
    assert after.status == Status.OPEN
    if status == Status.RESOLVED:
        assert after.resolved_at is None
    change = ticket.activities.filter(action=TicketActivity.Action.STATUS).latest("pk")
    assert (change.old_value, change.new_value, change.actor) == (status, Status.OPEN, org["requester"])


def test_the_reopen_button_reopens_a_solved_ticket_as_the_customer(client, org):
    """ "Reopen" on a solved ticket makes it open again, recorded as the customer's change."""
    ticket = org["ticket"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=org["agent"])
    client.force_login(org["requester"])
    page = client.get(detail(ticket)).content.decode()
    seen = re.search(r'name="seen" value="(\d*)"', page).group(1)
    response = client.post(status_url(ticket), {"status": "open", "seen": seen})
    assert response.status_code == 302 and fresh(ticket).status == Status.OPEN
    change = ticket.activities.filter(action=TicketActivity.Action.STATUS).latest("pk")
    assert change.actor == org["requester"]


def test_a_reply_from_a_page_left_open_while_support_changed_the_ticket_is_kept(client, org):
    """The customer's reply form carries no version: support changing the ticket meanwhile (priority,
    a note) does not lose what the customer typed - the reply is added."""
    ticket = org["ticket"]
    client.force_login(org["requester"])
    client.get(detail(ticket))
    services.ticket_update_fields(ticket, changes={"priority": "high"}, actor=org["agent"])
    services.ticket_add_note(ticket, body="internal", actor=org["agent"])
    response = client.post(reply_url(ticket), {"body": "My typed words", "submission_key": str(uuid.uuid4())})
    assert response.status_code == 302
    assert ticket.messages.filter(body="My typed words").exists()


def test_a_reply_refused_keeps_the_typed_text_and_says_why(client, org):
    """A reply refused (a file type not allowed) comes back 422 with the typed text in the composer."""
    ticket = org["ticket"]
    client.force_login(org["requester"])
    response = client.post(
        reply_url(ticket),
        {
            "body": "Typed <b>words</b> kept",
            "submission_key": str(uuid.uuid4()),
            "attachments": [
                SimpleUploadedFile("run.exe", b"MZ\x90\x00binary", content_type="application/x-msdownload")
            ],
        },
    )
    assert response.status_code == 422
    assert "Typed &lt;b&gt;words&lt;/b&gt; kept" in response.content.decode()
    assert not ticket.messages.filter(body__startswith="Typed").exists()


# --- Stale status buttons: customer-facing words only ---------------------------------------------


def test_reopen_from_a_stale_page_does_not_reveal_on_hold_to_the_customer(client, org):
    """The customer's page showed the ticket solved with "Reopen"; meanwhile support reopened it and put
    it on hold (no message). The portal calls on hold "Open", so the click finds the ticket open already:
    it must not answer in the desk's words ("On hold"), which the portal never shows the customer."""
    ticket = org["ticket"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=org["agent"])
    client.force_login(org["requester"])
    page = client.get(detail(ticket))
    seen = re.search(r'name="seen" value="(\d*)"', page.content.decode()).group(1)
    assert "Reopen" in page.content.decode()
    services.ticket_transition(ticket, status=Status.OPEN, actor=org["agent"])
    services.ticket_transition(ticket, status=Status.ON_HOLD, actor=org["agent"])
    response = client.post(status_url(ticket), {"status": "open", "seen": seen}, follow=True)
    assert response.status_code == 200
    shown = text(response)
    assert "On hold" not in shown and "on_hold" not in shown


def test_reopen_from_a_stale_page_on_a_pending_ticket_speaks_the_portals_words(client, org):
    """Likewise for a ticket put back to pending without a message: the portal's word for pending is
    "Waiting for your reply"; a refusal must not say "Pending (waiting on customer)"."""
    ticket = org["ticket"]
    services.ticket_transition(ticket, status=Status.RESOLVED, actor=org["agent"])
    client.force_login(org["requester"])
    page = client.get(detail(ticket))
    seen = re.search(r'name="seen" value="(\d*)"', page.content.decode()).group(1)
    services.ticket_transition(ticket, status=Status.OPEN, actor=org["agent"])
    services.ticket_transition(ticket, status=Status.PENDING, actor=org["agent"])
    response = client.post(status_url(ticket), {"status": "open", "seen": seen}, follow=True)
    assert "waiting on customer" not in text(response)


def test_on_hold_is_shown_as_open_in_my_tickets_and_on_the_ticket(client, org):
    """ "My tickets" and the ticket page say Open for an on-hold ticket, in text and class."""
    ticket = org["ticket"]
    services.ticket_transition(ticket, status=Status.ON_HOLD, actor=org["agent"])
    client.force_login(org["requester"])
    for url in (LIST, detail(ticket)):
        page = client.get(url).content.decode()
        assert "on_hold" not in page and "On hold" not in page
        assert "badge-open" in page


# --- What an organisation manager sees -------------------------------------------------------------


def test_a_manager_sees_neither_internal_notes_nor_their_files_even_by_address(client, org):
    """An internal note and its file never reach the manager: not on the page, and its download address
    answers 404 (the public reply's file downloads)."""
    ticket = org["ticket"]
    note = services.ticket_add_note(
        ticket, body="Secret note about Rita", actor=org["agent"], uploads=[txt("secret.txt", b"s3cret")]
    )
    public = services.ticket_reply(
        ticket, body="Public answer", actor=org["agent"], uploads=[txt("answer.txt", b"answer")]
    )
    client.force_login(org["manager"])
    page = client.get(detail(ticket))
    assert page.status_code == 200
    assert "Secret note" not in text(page) and "secret.txt" not in text(page)
    assert client.get(download(note.attachments.get())).status_code == 404
    assert client.head(download(note.attachments.get())).status_code == 404
    assert client.get(download(public.attachments.get())).status_code == 200
    listing = client.get(LIST, {"scope": "organization", "status": "all", "q": "Secret"})
    assert ticket.reference not in text(listing)


def test_a_manager_does_not_see_the_tickets_tags_team_or_assignee(client, org):
    """Tags, team and assignee are the desk's business: none of them is on the portal page."""
    ticket = org["ticket"]
    services.ticket_set_tags(ticket, names=["vip-angry-customer"], actor=org["agent"])
    services.ticket_assign(ticket, assignee=org["agent"], actor=org["agent"])
    client.force_login(org["manager"])
    page = text(client.get(detail(ticket)))
    assert "vip-angry-customer" not in page and "Alex Agent" not in page


def test_a_customer_who_leaves_the_organisation_keeps_their_own_tickets_only(client, org):
    """Removed from the organisation, a former manager no longer sees colleagues' tickets (list, page,
    files) but still sees and answers their own."""
    manager, colleague_ticket = org["manager"], org["ticket"]
    own = make_ticket(manager, team=org["team"], subject="My own request")
    reply = services.ticket_reply(colleague_ticket, body="x", actor=org["agent"], uploads=[txt()])
    User.objects.filter(pk=manager.pk).update(organization=None, is_organization_manager=False)
    client.force_login(User.objects.get(pk=manager.pk))
    assert client.get(detail(colleague_ticket)).status_code == 404
    assert client.get(download(reply.attachments.get())).status_code == 404
    listing = text(client.get(LIST, {"status": "all", "scope": "organization"}))
    assert colleague_ticket.reference not in listing and own.reference in listing
    assert client.get(detail(own)).status_code == 200
    response = client.post(reply_url(own), {"body": "still mine", "submission_key": str(uuid.uuid4())})
    assert response.status_code == 302


def test_a_manager_moved_to_another_organisation_sees_the_new_ones_tickets_not_the_old(client, org):
    """Moved to Globex (still a manager), they see Globex's tickets and their own old Acme ticket, not
    Acme colleagues' tickets."""
    globex = OrganizationFactory(name="Globex")
    globex_ticket = make_ticket(make_customer(globex), team=org["team"], subject="Globex matter")
    own_old = make_ticket(org["manager"], team=org["team"], subject="Manager old Acme matter")
    User.objects.filter(pk=org["manager"].pk).update(organization=globex)
    client.force_login(User.objects.get(pk=org["manager"].pk))
    listing = text(client.get(LIST, {"status": "all", "scope": "organization"}))
    assert globex_ticket.reference in listing and org["ticket"].reference not in listing
    assert client.get(detail(org["ticket"])).status_code == 404
    assert client.get(detail(own_old)).status_code == 200


def test_a_demoted_manager_loses_colleagues_tickets_at_the_next_request(client, org):
    """Manager flag removed mid-session: the next request no longer shows colleagues' tickets."""
    client.force_login(org["manager"])
    assert client.get(detail(org["ticket"])).status_code == 200
    User.objects.filter(pk=org["manager"].pk).update(is_organization_manager=False)
    assert client.get(detail(org["ticket"])).status_code == 404
    response = client.post(reply_url(org["ticket"]), {"body": "x", "submission_key": str(uuid.uuid4())})
    assert response.status_code == 404


# --- The ticket list with odd parameters -----------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"sort": "-requester__password"},
        {"page": "-1"},
        {"page": "99999"},
        {"page": "abc"},
        {"page": "1e9"},
        {"page": "9" * 40},
        {"scope": "organization", "status": "on_hold"},
        {"scope": "everyone"},
        {"q": "x" * 500},
        {"q": "\x00"},
        {"q": "T-" + "9" * 30},
        {"status": ["open", "solved"]},
    ],
)
def test_odd_list_parameters_answer_200(client, org, params):
    """Junk filters, sorts and pages give a normal page, never a server error or another's ticket."""
    other = make_ticket(make_customer(), subject="Someone else")
    client.force_login(org["requester"])
    response = client.get(LIST, params)
    assert response.status_code == 200
    assert other.reference not in response.content.decode()


def test_a_page_past_the_end_shows_the_last_page(client, org):
    """page=99999 shows the last page of the customer's tickets, not an empty list."""
    client.force_login(org["requester"])
    page = client.get(LIST, {"page": "99999"}).content.decode()
    assert org["ticket"].reference in page


# --- Downloads -------------------------------------------------------------------------------------


def test_downloads_are_counted_on_get_only(client, org):
    """A GET that serves the file counts; a HEAD does not, nor a refused request."""
    reply = services.ticket_reply(org["ticket"], body="file", actor=org["agent"], uploads=[txt()])
    attachment = reply.attachments.get()
    client.force_login(org["requester"])
    client.head(download(attachment))
    assert Attachment.objects.get(pk=attachment.pk).download_count == 0
    response = client.get(download(attachment))
    b"".join(response.streaming_content)
    assert Attachment.objects.get(pk=attachment.pk).download_count == 1
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    client.force_login(make_customer())
    assert client.get(download(attachment)).status_code == 404
    assert Attachment.objects.get(pk=attachment.pk).download_count == 1


# --- Suspension mid-session ------------------------------------------------------------------------


def test_a_customer_suspended_mid_session_is_signed_out_at_the_next_request(client, org):
    """Suspended while signed in: the next page, reply or download no longer works."""
    reply = services.ticket_reply(org["ticket"], body="file", actor=org["agent"], uploads=[txt()])
    client.force_login(org["requester"])
    assert client.get(LIST).status_code == 200
    account_services.user_suspend(org["requester"], until=None, reason="abuse", actor=None)
    assert client.get(LIST).status_code == 302
    assert client.get(download(reply.attachments.get())).status_code == 302
    before = org["ticket"].messages.count()
    client.post(reply_url(org["ticket"]), {"body": "sneaky", "submission_key": str(uuid.uuid4())})
    assert org["ticket"].messages.count() == before


# --- Invitations ---------------------------------------------------------------------------------


def signup(code: str, email: str) -> User:
    return account_services.user_signup(
        email=email,
        name="New Person",
        password="a-long-passphrase-42",
        invitation_code=code,
        open_signup=False,
        actor=None,
    )


def test_an_invitation_is_refused_at_its_exact_expiry_time(clock):
    """At the very instant it expires, an invitation no longer works; a moment before it does."""
    now = timezone.now()
    early = InvitationFactory(expires_at=now + timedelta(microseconds=1), max_uses=5)
    exact = InvitationFactory(expires_at=now, max_uses=5)
    signup(early.code, "early@example.org")
    with pytest.raises(ValidationError, match="expired"):
        signup(exact.code, "exact@example.org")


def test_an_invitation_of_a_deactivated_organisation_or_switched_off_is_refused():
    """An invitation switched off, or of an organisation switched off, lets nobody join."""
    inactive = InvitationFactory(is_active=False)
    org_off = InvitationFactory(organization=OrganizationFactory(is_active=False))
    for invitation, email in ((inactive, "a@example.org"), (org_off, "b@example.org")):
        with pytest.raises(ValidationError, match="no longer active"):
            signup(invitation.code, email)
        assert Invitation.objects.get(pk=invitation.pk).uses == 0
        assert not User.objects.filter(email=email).exists()


def test_the_signup_page_with_an_inactive_invitation_keeps_what_was_typed(client):
    """The sign-up page refuses a switched-off code at 422 with the name and address kept."""
    invitation = InvitationFactory(is_active=False)
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "kept@example.org",
            "name": "Kept Name",
            "password": "a-long-passphrase-42",
            "invitation_code": invitation.code,
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "kept@example.org" in page and "Kept Name" in page and "no longer active" in page


# --- Escaping ------------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_text_is_escaped_on_the_portal_pages(client, org):
    """Subject, message body, custom field values and file names with markup are shown as text on the
    ticket page and in "My tickets"."""
    form = TicketFormFactory(
        schema=[{"name": "order_number", "label": "Order <b>number</b>", "type": "text", "required": True}]
    )
    ticket = services.ticket_create(
        requester=org["requester"],
        subject=f"Subj {HOSTILE}",
        description=f"Body {HOSTILE}",
        actor=org["requester"],
        form=form,
        custom_fields={"order_number": f"Order {HOSTILE}"},
        uploads=[txt(f"a{HOSTILE}.txt")],
    )
    client.force_login(org["requester"])
    for url in (detail(ticket), LIST):
        page = client.get(url).content.decode()
        assert "<script>" not in page and "<img src=x" not in page and "<b>number</b>" not in page
    assert "Subj &lt;script&gt;" in client.get(LIST).content.decode()
