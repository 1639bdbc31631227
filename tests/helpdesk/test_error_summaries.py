"""The error summary above a refused form (components/_form_errors.html) names each field in error and
links to it: without JavaScript, which moves focus to the first, it is how a reader gets there."""

import re
import uuid
from html import unescape

import pytest
from django.urls import reverse

from tests.factories import (
    TeamFactory,
    TicketFormFactory,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)

pytestmark = pytest.mark.django_db

EVERY_KIND = [
    {"name": "t", "label": "Order reference", "type": "text", "required": True},
    {"name": "ta", "label": "What happened", "type": "textarea", "required": True},
    {"name": "sel", "label": "Plan", "type": "select", "choices": ["Basic", "Pro"], "required": True},
    {"name": "ms", "label": "Areas", "type": "multi_select", "choices": ["Mail", "Web"], "required": True},
    {"name": "cb", "label": "I accept the terms", "type": "checkbox", "required": True},
    {"name": "num", "label": "Amount", "type": "number", "required": True},
    {"name": "d", "label": "Since", "type": "date", "required": True},
    {"name": "em", "label": "Contact", "type": "email", "required": True},
]


def summary_links(response) -> list[tuple[str, str]]:
    """(target id, link text) of each link in the summary; every target is an input of the page, which
    takes the focus (a group's wrapper or a fieldset would not)."""
    assert response.status_code == 422
    page = response.content.decode()
    summary = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', page, re.S).group(1)
    links = re.findall(r'<a href="#([^"]+)">(.*?)</a>', summary)
    for target, label in links:
        focusable = rf'<(input|textarea|select)\b[^>]*\bid="{re.escape(target)}"'
        assert re.search(focusable, page), f"{label} links to #{target}, which is no input of the page"
    return [(target, unescape(label)) for target, label in links]


def test_a_refused_submission_links_every_custom_field_and_the_subject(client):
    form = TicketFormFactory(schema=EVERY_KIND, default_team=TeamFactory())
    client.force_login(make_customer())
    data = {"subject": "", "description": "", "submission_key": str(uuid.uuid4())}
    links = summary_links(client.post(reverse("tickets:portal_submit_form", args=[form.slug]), data))
    labels = [label for _, label in links]
    assert labels[:2] == ["Subject", "How can we help?"]
    assert set(labels[2:]) == {field["label"] for field in EVERY_KIND}


def test_a_refused_reply_links_its_text_in_the_portal_and_on_the_desk(client):
    team = TeamFactory()
    customer, agent = make_customer(), make_agent(team)
    ticket = make_ticket(customer, team=team)
    client.force_login(customer)
    portal = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]), {"body": "", "version": ticket.version}
    )
    assert [target for target, _ in summary_links(portal)] == ["id_body"]
    client.force_login(agent)
    desk = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {"kind": "reply", "body": "", "version": ticket.version},
    )
    assert summary_links(desk)
    # "Send as" left unticked: its radios are written out by the page (error_targets).
    no_kind = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]), {"body": "Hi", "version": ticket.version}
    )
    assert ("kind-reply", "Send as") in summary_links(no_kind)


def test_refused_sign_up_and_article_forms_link_their_fields(client):
    signup = summary_links(client.post(reverse("accounts:signup"), {"email": "", "name": ""}))
    assert "E-mail address" in [label for _, label in signup]
    client.force_login(make_supervisor(TeamFactory()))
    article = summary_links(client.post(reverse("knowledge:manage_new"), {"title": "", "body": ""}))
    assert [label for _, label in article][:1] == ["Title"]


def test_an_error_of_the_form_as_a_whole_is_said_beside_the_fields_links(client):
    """A sign-in refused for its password has no field to link: the sentence alone, no empty list."""
    make_customer(email="ana@example.com")
    response = client.post(reverse("accounts:login"), {"username": "ana@example.com", "password": "wrong"})
    page = response.content.decode()
    summary = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', page, re.S).group(1)
    assert "<ul>" not in summary and "<p>" in summary
