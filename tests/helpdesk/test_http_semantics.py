"""HTTP as browsers and tools use it: 405 and 400 answer with the site's pages, htmx requests that must
leave the page are sent away whole, HEAD changes nothing, a page number or a next= that makes no sense is
no server error, and a visitor's receipt is kept by no cache."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk import counting
from helpdesk.services import site_configuration_update
from tests.factories import TeamFactory, make_agent, make_article, make_customer, make_ticket
from tickets.models import Attachment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "name", "who"),
    [
        ("get", "tickets:desk_bulk", "agent"),  # a reload or bookmark of a POST-only address
        ("get", "accounts:logout", "customer"),  # typing /accounts/logout/ into the address bar
        ("put", "knowledge:home", "visitor"),
    ],
)
def test_method_not_allowed_answers_with_the_friendly_error_page(client, method, name, who):
    """A method a route does not take answers 405 with its Allow header *and* the site's friendly error
    page (full HTML, a way back to the help centre), like 400/403/404/429/500 do."""
    if who == "agent":
        client.force_login(make_agent(TeamFactory()))
    elif who == "customer":
        client.force_login(make_customer())
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 405 and response["Allow"]
    body = response.content.decode()
    assert "<html" in body and 'href="/"' in body, body
    assert "Content-Security-Policy" in response  # rendered inside the CSP middleware, with its nonce


@pytest.mark.parametrize("request_kind", ["queue refresh", "inline edit"])
def test_htmx_request_of_staff_who_must_set_up_two_factor_gets_hx_redirect(client, request_kind):
    """Once the site requires two-factor sign-in, an agent's open desk keeps sending htmx requests (the
    30-second queue refresh, an inline edit). The answer sends the browser to the set-up page
    (HX-Redirect), as SignInRedirectMiddleware does for an ended session."""
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team)
    client.force_login(agent)
    site_configuration_update(changes={"require_two_factor": True}, actor=None)
    if request_kind == "queue refresh":
        response = client.get(
            reverse("tickets:desk_queue"), headers={"HX-Request": "true", "HX-Target": "queue-table"}
        )
    else:
        response = client.post(
            reverse("tickets:desk_update", args=[ticket.number]),
            {"field": "priority", "value": "high", "version": ticket.version},
            headers={"HX-Request": "true"},
        )
    assert response.status_code != 302, response.get("Location")
    assert response.get("HX-Redirect") == reverse("accounts:two_factor")


def test_head_on_a_download_counts_no_download(client):
    """HEAD changes nothing: a link checker, a mail scanner or a browser probing the file with HEAD gets
    the headers only, and no file is served, so it counts no download."""
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile("a.txt", b"hello")])
    attachment = Attachment.objects.get()
    client.force_login(customer)
    response = client.head(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    attachment.refresh_from_db()
    assert attachment.download_count == 0


def test_a_huge_page_number_on_a_large_queue_is_no_server_error(client, monkeypatch):
    """A huge ?page= on the desk queue answers its last page, never a 500: with the total capped
    ("10,000+", COUNT_CAP lowered here to stand for it) a page number is read as asked, and one past
    bigint would be an OFFSET PostgreSQL refuses."""
    monkeypatch.setattr(counting, "COUNT_CAP", 3)  # as 10,000 of a million tickets
    team = TeamFactory()
    agent, customer = make_agent(team), make_customer()
    for number in range(6):
        make_ticket(customer, team=team, subject=f"Ticket {number}")
    client.force_login(agent)
    client.raise_request_exception = False
    response = client.get(reverse("tickets:desk_queue"), {"page": "99999999999999999999"})
    assert response.status_code == 200


def test_signed_in_visit_to_sign_in_with_next_naming_it_is_no_server_error(client):
    """A signed-in person opening /accounts/login/?next=/accounts/login/ (an old sign-in link, a crafted
    one) is sent on to the home page, where Django's LoginView would refuse the loop with a 500."""
    client.force_login(make_customer())
    client.raise_request_exception = False
    response = client.get(reverse("accounts:login"), {"next": reverse("accounts:login")})
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_the_anonymous_submission_receipt_is_not_kept_by_caches(client):
    """The receipt page after an anonymous submission shows that visitor's ticket reference (kept in the
    session, never in the URL) at one fixed address: like every signed-in page it says Cache-Control
    private, no-store, so neither a shared cache nor the browser's disk keeps it."""
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    data = {"name": "Vi", "email": "vi@example.net", "subject": "Help", "description": "x",
            "submission_key": str(uuid.uuid4())}  # fmt: skip
    assert client.post(reverse("tickets:portal_submit"), data).status_code == 302
    response = client.get(reverse("tickets:portal_submitted"))
    assert response.status_code == 200 and "Your reference" in response.content.decode()
    control = response.get("Cache-Control", "")
    assert "no-store" in control or "private" in control, control


def test_a_vote_without_a_choice_gets_the_friendly_400_page(client):
    """A vote whose helpful= is missing or not yes/no is refused with 400 and the site's 400 page, not a
    bare line of text."""
    article = make_article(status="published")
    response = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "maybe"})
    assert response.status_code == 400
    assert "<html" in response.content.decode(), response.content
