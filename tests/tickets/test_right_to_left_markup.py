"""Hebrew or Arabic text takes its own direction wherever it is shown or typed in the desk and the portal
(the browser's layout of it: tests/e2e/test_right_to_left_text.py)."""

import re

import pytest
from django.urls import reverse

from tests.conftest import made_once_per_module
from tests.factories import make_ticket
from tests.tickets.conftest import make_desk
from tickets import services

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")

HEBREW = "המדפסת לא מדפיסה!"


def test_the_subject_and_the_text_boxes_take_the_direction_of_their_text(client, desk):
    ticket = make_ticket(desk["customer"], team=desk["support"], subject=HEBREW)
    client.force_login(desk["agent"])
    queue = client.get(reverse("tickets:desk_queue")).content.decode()
    assert f'<span dir="auto">{HEBREW}</span>' in queue
    workspace = client.get(reverse("tickets:desk_ticket", args=[ticket.number])).content.decode()
    assert f'<h1 dir="auto">{HEBREW}</h1>' in workspace
    boxes = re.findall(r"<textarea\b[^>]*>", workspace)
    assert boxes and all('dir="auto"' in box for box in boxes), boxes
    client.force_login(desk["customer"])
    portal = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert f'<h1 dir="auto">{HEBREW}</h1>' in portal
    assert (
        f'<td class="text-cell" dir="auto">{HEBREW}</td>'
        in client.get(reverse("tickets:portal_list")).content.decode()
    )
    submit = client.get(reverse("tickets:portal_submit")).content.decode()
    subject = re.search(r'<input type="text" name="subject"[^>]*>', submit).group(0)
    assert 'dir="auto"' in subject
    # Not an address or a password: those are written left to right whatever the page's language.
    client.logout()
    signed_out = client.get(reverse("accounts:login")).content.decode()
    assert 'type="password"' in signed_out
    assert not re.search(r'<input type="(email|password)"[^>]*dir="auto"', signed_out)


def test_a_subject_beside_english_on_the_confirmation_pages_and_the_timeline_is_isolated(client, desk):
    """ "T-1001 · {subject}" and "{before} → {after}": a Hebrew subject keeps its "!" at its end, and two
    Hebrew values do not merge with the arrow into one run that reads new → old."""
    source = make_ticket(desk["customer"], team=desk["support"], subject=HEBREW)
    target = make_ticket(desk["customer"], team=desk["support"], subject="Printer")
    services.ticket_update_fields(source, changes={"subject": HEBREW + " שוב"}, actor=desk["supervisor"])
    source.refresh_from_db()
    client.force_login(desk["supervisor"])
    merge = client.post(
        reverse("tickets:desk_merge", args=[source.number]),
        {"into": target.reference, "version": source.version},
    ).content.decode()
    assert f"<bdi>{HEBREW} שוב</bdi>" in merge
    bulk = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{source.pk}:{source.version}"], "action": "status:closed"},
    ).content.decode()
    assert f"<bdi>{HEBREW} שוב</bdi>" in bulk
    workspace = client.get(reverse("tickets:desk_ticket", args=[source.number])).content.decode()
    assert f'<bdi>{HEBREW}</bdi> <span aria-hidden="true">→</span>' in workspace
    queue = client.get(reverse("tickets:desk_queue")).content.decode()
    for box in ("queue-q", "queue-tag", "bulk-value", "view-name"):
        assert re.search(rf'<input id="{box}" dir="auto"', queue), box
