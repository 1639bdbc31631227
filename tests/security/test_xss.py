"""Stored XSS: a hostile payload typed into every field that some page renders comes back inert on the
pages customers, agents and visitors see (escaped, or stripped by the markdown sanitiser)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import (
    CategoryFactory,
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)><svg/onload=alert(3)>\"'><b id=pwn>"
LIVE_MARKUP = ("<script>alert", "<img src=x", "<svg/onload", "<b id=pwn>")


def assert_inert(body: str, where: str) -> None:
    found = [marker for marker in LIVE_MARKUP if marker in body]
    assert not found, f"{where}: live markup {found}"
    # The page did show the hostile text (as text), so the check above was not vacuous.
    assert "&lt;script&gt;alert(1)" in body or "alert(1)" in body, f"{where}: the payload is not on the page"


def make_hostile():
    """Every user-typed field that a page renders, filled with the payload."""
    team = TeamFactory(name=f"Team {PAYLOAD}")
    form = TicketFormFactory(
        title=f"Form {PAYLOAD}",
        intro=f"Intro {PAYLOAD}",
        schema=[{"name": "order", "label": f"Order {PAYLOAD}", "type": "text", "help": PAYLOAD}],
    )
    customer = make_customer(OrganizationFactory(name=f"Org {PAYLOAD}"), name=f"Cus {PAYLOAD}")
    agent = make_agent(team, name=f"Agent {PAYLOAD}")
    ticket = make_ticket(
        customer,
        team=team,
        subject=f"Subject {PAYLOAD}",
        description=f"Description {PAYLOAD} [link](javascript:alert(4))",
        form=form,
        custom_fields={"order": PAYLOAD},
        uploads=[SimpleUploadedFile(f"{PAYLOAD}.txt", b"plain text")],
    )
    services.ticket_reply(ticket, body=f"Reply {PAYLOAD}", actor=agent)
    services.ticket_add_note(ticket, body=f"Note {PAYLOAD}", actor=agent)
    ticket.refresh_from_db()
    with pytest.raises(ValidationError):  # tag names allow letters, digits, spaces, - and _ only
        services.ticket_set_tags(ticket, names=[f"tag{PAYLOAD}"[:50]], actor=agent)
    services.ticket_assign(ticket, assignee=agent, actor=agent)
    SavedViewFactory(owner=agent, name=PAYLOAD[:80], query="status=open")
    category = CategoryFactory(name=f"Cat {PAYLOAD}", slug="hostile")
    article = make_article(
        title=f"Password {PAYLOAD}", body=f"Password body {PAYLOAD}", excerpt=f"Excerpt {PAYLOAD}",
        tags=f"password, {PAYLOAD}", category=category,
    )  # fmt: skip
    return {"ticket": ticket, "customer": customer, "agent": agent, "form": form, "article": article}


_hostile_rows, hostile = made_once_per_module(make_hostile, "hostile")


def test_customer_pages_render_the_payload_inert(client, hostile):
    client.force_login(hostile["customer"])
    number = hostile["ticket"].number
    for url in (
        reverse("home"),
        reverse("tickets:portal_list"),
        reverse("tickets:portal_detail", args=[number]),
        reverse("tickets:portal_submit_form", args=[hostile["form"].slug]),
        reverse("accounts:profile"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)
    detail = client.get(reverse("tickets:portal_detail", args=[number])).content.decode()
    assert "javascript:" not in detail
    assert "&lt;script&gt;" in detail  # the text is shown, as text


def test_agent_pages_render_the_payload_inert(client, hostile):
    client.force_login(hostile["agent"])
    number = hostile["ticket"].number
    for url in (
        reverse("tickets:desk_queue"),
        reverse("tickets:desk_queue") + "?q=Subject",
        reverse("tickets:desk_ticket", args=[number]),
        reverse("knowledge:manage_list"),
        reverse("knowledge:manage_edit", args=[hostile["article"].slug]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)


def test_knowledge_base_pages_and_search_snippets_render_the_payload_inert(client, hostile):
    slug = hostile["article"].slug
    for url in (
        reverse("knowledge:home"),
        reverse("knowledge:category", args=["hostile"]),
        reverse("knowledge:article", args=[slug]),
        reverse("knowledge:search") + "?q=password+script+alert",
        reverse("knowledge:suggest") + "?subject=password+alert",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)
