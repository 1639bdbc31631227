"""Ticket merges and follow-ups as a tenant-isolation attack surface.

Two organisations (Acme, Globex), each with a customer and a manager; two teams (Support, Billing);
a supervisor who works both teams (and so may merge across them), a supervisor and an agent of Support
only. What each customer, manager and staff member sees after a merge, a refused merge, a merge chain
and a follow-up of a merged ticket."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.tickets.conftest import merge_url, page_text
from tickets import services
from tickets.models import Attachment, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def text_file(name="notes.txt", content=b"hello there"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def make_world():
    acme = OrganizationFactory(name="Acme", slug="acme")
    globex = OrganizationFactory(name="Globex", slug="globex")
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    both = make_supervisor(support, billing, name="Bo Both")
    support_supervisor = make_supervisor(support, name="Sue Supportonly")
    support_agent = make_agent(support, name="Al Supportagent")
    ann = make_customer(acme, name="Ann Acme", email="ann@acme.example")
    max_ = make_customer(acme, manager=True, name="Max Acmemanager", email="max@acme.example")
    bob = make_customer(globex, name="Bob Globex", email="bob@globex.example")
    gina = make_customer(globex, manager=True, name="Gina Globexmanager", email="gina@globex.example")
    return {
        "acme": acme, "globex": globex, "support": support, "billing": billing, "both": both,
        "support_supervisor": support_supervisor, "support_agent": support_agent,
        "ann": ann, "max": max_, "bob": bob, "gina": gina,
    }  # fmt: skip


_world_rows, world = made_once_per_module(make_world, "world")


def portal(ticket) -> str:
    return reverse("tickets:portal_detail", args=[ticket.number])


def get_as(client, user, url):
    client.force_login(user)
    return client.get(url)


# Cross-organisation merges are refused


def test_cross_organisation_merge_is_refused_both_ways_and_nothing_moves(world):
    a = make_ticket(
        world["ann"], team=world["support"], subject="Acme invoice 7781", description="ACME-SECRET"
    )
    b = make_ticket(world["bob"], team=world["support"], subject="Globex outage", description="GLOBEX-SECRET")
    for source, into in ((a, b), (b, a)):
        with pytest.raises(services.TicketNotAllowed, match="same requester"):
            services.ticket_merge(source, into=into, actor=world["both"])
    for ticket, body in ((a, "ACME-SECRET"), (b, "GLOBEX-SECRET")):
        fresh = Ticket.objects.get(pk=ticket.pk)
        assert fresh.merged_into_id is None and fresh.status != "closed"
        assert list(fresh.messages.values_list("body", flat=True)) == [body]
    assert not AuditEvent.objects.filter(action="ticket.merge").exists()


def test_cross_organisation_merge_from_the_workspace_says_why_and_portals_are_unchanged(client, world):
    a = make_ticket(world["ann"], team=world["support"], subject="Acme invoice", description="ACME-SECRET")
    b = make_ticket(world["bob"], team=world["billing"], subject="Globex outage", description="GLOBEX-SECRET")
    client.force_login(world["both"])
    response = client.post(merge_url(a), {"confirm": "merge", "into": b.reference, "version": a.version})
    assert response.status_code == 422
    assert "same requester" in page_text(response)
    assert Ticket.objects.get(pk=a.pk).merged_into_id is None
    bob_page = page_text(get_as(client, world["bob"], portal(b)))
    gina_page = page_text(get_as(client, world["gina"], portal(b)))
    for page in (bob_page, gina_page):
        assert "ACME-SECRET" not in page and "Ann Acme" not in page and "Acme invoice" not in page
    assert get_as(client, world["bob"], portal(a)).status_code == 404
    assert get_as(client, world["gina"], portal(a)).status_code == 404


def test_a_requester_who_moved_organisation_cannot_have_old_and_new_tickets_merged(client, world):
    old = make_ticket(world["ann"], team=world["support"], subject="Acme laptop", description="ACME-OLD")
    User.objects.filter(pk=world["ann"].pk).update(organization=world["globex"])
    ann = User.objects.get(pk=world["ann"].pk)
    new = make_ticket(ann, team=world["support"], subject="Globex laptop", description="GLOBEX-NEW")
    assert (old.organization_id, new.organization_id) == (world["acme"].pk, world["globex"].pk)
    for source, into in ((old, new), (new, old)):
        with pytest.raises(services.TicketNotAllowed, match="different organisations"):
            services.ticket_merge(source, into=into, actor=world["both"])
    # Neither manager sees the other organisation's ticket.
    assert get_as(client, world["gina"], portal(old)).status_code == 404
    assert get_as(client, world["max"], portal(new)).status_code == 404


def test_a_follow_up_of_an_old_organisation_ticket_cannot_then_be_merged_into_the_new_one(client, world):
    """Ann moved to Globex and answered her closed Acme ticket: the follow-up stays with Acme (by design),
    and it cannot be merged into her Globex ticket, so Acme's manager never sees Globex's thread."""
    old = make_ticket(world["ann"], team=world["support"], description="ACME-OLD")
    services.ticket_transition(old, status="closed", actor=world["both"])
    User.objects.filter(pk=world["ann"].pk).update(organization=world["globex"])
    ann = User.objects.get(pk=world["ann"].pk)
    new = make_ticket(ann, team=world["support"], description="GLOBEX-NEW")
    message = services.ticket_reply(Ticket.objects.get(pk=old.pk), body="About the old one", actor=ann)
    follow_up = message.ticket
    assert follow_up.follow_up_of_id == old.pk and follow_up.organization_id == world["acme"].pk
    with pytest.raises(services.TicketNotAllowed, match="different organisations"):
        services.ticket_merge(new, into=follow_up, actor=world["both"])
    assert "GLOBEX-NEW" not in page_text(get_as(client, world["max"], portal(follow_up)))


# After a merge within one requester


@pytest.fixture
def merged(world):
    """Ann's ticket S (Support) with her file and an internal note with a file, merged into her ticket T
    (Billing) by the supervisor of both teams."""
    s = make_ticket(world["ann"], team=world["support"], subject="Support-side subject",
                    description="Public words of S", uploads=[text_file("public.txt")])  # fmt: skip
    note = services.ticket_add_note(
        s, body="NOTE-ONLY-FOR-STAFF", actor=world["both"], uploads=[text_file("internal.txt", b"x")]
    )
    t = make_ticket(world["ann"], team=world["billing"], subject="Billing-side confidential subject",
                    description="Public words of T")  # fmt: skip
    services.ticket_merge(Ticket.objects.get(pk=s.pk), into=t, actor=world["both"])
    public_file = Attachment.objects.get(filename="public.txt")
    note_file = Attachment.objects.get(owner_id=note.pk)
    return {**world, "s": Ticket.objects.get(pk=s.pk), "t": Ticket.objects.get(pk=t.pk),
            "public_file": public_file, "note_file": note_file}  # fmt: skip


def test_moved_files_download_for_the_requester_and_her_manager_never_for_the_other_organisation(
    client, merged
):
    public = reverse("tickets:attachment_download", args=[merged["public_file"].pk])
    note = reverse("tickets:attachment_download", args=[merged["note_file"].pk])
    assert get_as(client, merged["ann"], public).status_code == 200
    assert get_as(client, merged["max"], public).status_code == 200
    for outsider in ("bob", "gina"):
        assert get_as(client, merged[outsider], public).status_code == 404
    for customer in ("ann", "max", "bob", "gina"):
        assert get_as(client, merged[customer], note).status_code == 404
    # The supervisor who merged (works Billing, where the note went) still reads it.
    assert get_as(client, merged["both"], note).status_code == 200


def test_internal_notes_never_reach_the_portal_after_a_merge(client, merged):
    for who in ("ann", "max"):
        for ticket in ("s", "t"):
            page = page_text(get_as(client, merged[who], portal(merged[ticket])))
            assert "NOTE-ONLY-FOR-STAFF" not in page and "internal.txt" not in page
    t_page = page_text(get_as(client, merged["ann"], portal(merged["t"])))
    assert "Public words of S" in t_page and "public.txt" in t_page


def test_other_organisation_sees_nothing_of_either_ticket_in_list_search_or_detail(client, merged):
    s, t = merged["s"], merged["t"]
    for who in ("bob", "gina"):
        client.force_login(merged[who])
        for query in (s.reference, t.reference, "Billing-side", "Support-side"):
            params = {"status": "all", "q": query}
            if who == "gina":
                params["scope"] = "organization"
            page = page_text(client.get(reverse("tickets:portal_list"), params))
            assert "Nothing matches" in page  # the search box echoes the query; no row holds it
            assert portal(s) not in page and portal(t) not in page and "Ann Acme" not in page
            assert "confidential subject" not in page and "Support-side subject" not in page
        assert client.get(portal(s)).status_code == 404 and client.get(portal(t)).status_code == 404


def test_the_requester_and_her_manager_find_the_merged_ticket_and_follow_it(client, merged):
    s, t = merged["s"], merged["t"]
    client.force_login(merged["ann"])
    listing = page_text(client.get(reverse("tickets:portal_list"), {"status": "all", "q": s.reference}))
    assert "Support-side subject" in listing
    detail = page_text(client.get(portal(s)))
    assert f"merged into {t.reference}" in detail
    client.force_login(merged["max"])
    org = page_text(client.get(reverse("tickets:portal_list"), {"status": "all", "scope": "organization"}))
    assert s.reference in org and t.reference in org and "Ann Acme" in org


def test_manager_replying_on_the_merged_ticket_lands_on_the_target_as_herself(client, merged):
    client.force_login(merged["max"])
    response = client.post(
        reverse("tickets:portal_reply", args=[merged["s"].number]), {"body": "Manager chasing this"}
    )
    assert response.status_code == 302
    message = TicketMessage.objects.get(body="Manager chasing this")
    assert message.ticket_id == merged["t"].pk and message.author_id == merged["max"].pk
    assert not message.is_internal and not message.from_staff


def test_merge_chain_reply_and_follow_up_stay_with_the_requester_and_organisation(client, world):
    ann, both = world["ann"], world["both"]
    a = make_ticket(ann, team=world["support"], subject="Chain A")
    b = make_ticket(ann, team=world["support"], subject="Chain B")
    c = make_ticket(ann, team=world["billing"], subject="Chain C")
    services.ticket_merge(a, into=b, actor=both)
    services.ticket_merge(Ticket.objects.get(pk=b.pk), into=c, actor=both)
    client.force_login(ann)
    assert f"merged into {c.reference}" in page_text(client.get(portal(a)))
    services.ticket_transition(Ticket.objects.get(pk=c.pk), status="closed", actor=both)
    response = client.post(reverse("tickets:portal_reply", args=[a.number]), {"body": "Still broken"})
    assert response.status_code == 302
    follow_up = TicketMessage.objects.get(body="Still broken").ticket
    assert follow_up.follow_up_of_id == c.pk
    assert (follow_up.requester_id, follow_up.organization_id) == (ann.pk, world["acme"].pk)
    assert get_as(client, world["max"], portal(follow_up)).status_code == 200
    assert get_as(client, world["gina"], portal(follow_up)).status_code == 404
    assert get_as(client, world["bob"], portal(follow_up)).status_code == 404


# Staff who work only one side of the merge


def test_note_refusal_on_the_source_does_not_name_a_target_the_agent_cannot_work(merged):
    """The refusal says where the conversation went only to whoever may open it."""
    with pytest.raises(services.TicketNotAllowed) as refused:
        services.ticket_add_note(merged["s"], body="late note", actor=merged["support_agent"])
    assert merged["t"].reference not in str(refused.value) and "outside your queues" in str(refused.value)


def test_support_only_supervisor_reads_the_source_merge_event_but_not_the_targets(client, merged):
    s, t = merged["s"], merged["t"]
    visible = AuditEvent.objects.visible_to(merged["support_supervisor"])
    assert visible.filter(action="ticket.merge", object_id=str(s.pk)).exists()
    assert not visible.filter(object_id=str(t.pk), object_type__model="ticket").exists()
    client.force_login(merged["support_supervisor"])
    page = page_text(client.get(reverse("audit:event_list")))
    assert "Billing-side confidential subject" not in page
    assert "NOTE-ONLY-FOR-STAFF" not in page
