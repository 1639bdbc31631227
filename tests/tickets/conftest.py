"""Fixtures the ticket tests share: a team, a customer and an agent of that team; a desk of two teams
with a ticket; tickets inserted by the hundred; a portal submission and the files a page kept; the
workspace's addresses and a ticket read afresh."""

import re
import uuid
from html import unescape

import pytest
from django.db import connection
from django.urls import reverse

from tests.conftest import notes  # noqa: F401 (imported from here by the tickets tests)
from tests.factories import TeamFactory, make_agent, make_customer, make_supervisor, make_ticket
from tickets.models import Ticket


@pytest.fixture
def team():
    return TeamFactory(name="Support")


@pytest.fixture
def customer():
    return make_customer()


@pytest.fixture
def agent(team):
    return make_agent(team, name="Alex Agent")


def make_desk() -> dict:
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    agent = make_agent(support, name="Alex Agent")
    colleague = make_agent(support, name="Casey Colleague")
    biller = make_agent(billing, name="Bea Biller")
    supervisor = make_supervisor(support, name="Sam Supervisor")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=support, subject="Printer on fire")
    return {"agent": agent, "colleague": colleague, "biller": biller, "supervisor": supervisor,
            "customer": customer, "support": support, "billing": billing, "ticket": ticket}  # fmt: skip


@pytest.fixture
def desk():
    """Made for each test; a module whose tests only start from it makes it once with
    `_desk_rows, desk = made_once_per_module(make_desk, "desk")`."""
    return make_desk()


def insert_tickets(count: int, *, requester, team, status: str = "open") -> list[int]:
    """Rows straight into the table, newest first: volume in milliseconds."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_ticket (
                subject, description, requester_id, organization_id, team_id, priority, status,
                channel, custom_fields, escalation_level, is_deleted, created_at, updated_at, version)
            SELECT 'Bulk ticket ' || n, 'Body ' || n, %s, %s, %s, 'medium', %s,
                   'web', '{}'::jsonb, 0, false,
                   now() - (n || ' minutes')::interval, now() - (n || ' minutes')::interval, 1
            FROM generate_series(1, %s) AS n
            RETURNING id
            """,
            [requester.pk, requester.organization_id, team.pk, status, count],
        )
        return [row[0] for row in cursor.fetchall()]


HELD = re.compile(
    r'<input type="checkbox" name="held" value="([^"]+)"[^>]*?( checked)?>\s*([^<]+?)\s*</label>'
)


def submission(**extra) -> dict:
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def held_boxes(response) -> dict[str, tuple[str, bool]]:
    """The page's kept files: label -> (token, ticked)."""
    page = unescape(response.content.decode())
    return {label.replace("\xa0", " "): (token, bool(ticked)) for token, ticked, label in HELD.findall(page)}


def page_text(response) -> str:
    return unescape(response.content.decode())


def fresh(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def ws(ticket) -> str:
    return reverse("tickets:desk_ticket", args=[ticket.number])


def reply_data(ticket, body="My carefully typed answer 7731", kind="reply", version=None, **extra) -> dict:
    """What the workspace's composer posts for `ticket` as the page showed it (or at `version`)."""
    return {
        "kind": kind,
        "body": body,
        "status_after": "",
        "version": ticket.version if version is None else version,
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


def edit(field, value, version, **extra) -> dict:
    """What an inline edit of the workspace posts."""
    return {"field": field, "value": value, "version": version, **extra}


def update_url(ticket) -> str:
    return reverse("tickets:desk_update", args=[ticket.number])


def reply_url(ticket) -> str:
    return reverse("tickets:desk_reply", args=[ticket.number])


def merge_url(ticket) -> str:
    return reverse("tickets:desk_merge", args=[ticket.number])


def portal_detail_url(ticket) -> str:
    return reverse("tickets:portal_detail", args=[ticket.number])


def portal_reply_url(ticket) -> str:
    return reverse("tickets:portal_reply", args=[ticket.number])


def portal_status_url(ticket) -> str:
    return reverse("tickets:portal_status", args=[ticket.number])


def download_url(attachment) -> str:
    return reverse("tickets:attachment_download", args=[attachment.pk])


def seen_text(html: str) -> str:
    """What a sighted reader sees of `html`: words for screen readers only (the "to" of an arrow) and tags
    taken out, spaces squeezed."""
    html = re.sub(r'<span class="visually-hidden">.*?</span>', "", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
