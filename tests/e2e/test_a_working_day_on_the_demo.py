"""Browser: a demo agent's working day (triage, bulk assign, reply and pend, reply and solve, Next), a
demo customer through every demo form, answering, solving and reopening, the same without JavaScript,
and a Globex customer kept out of everything of Acme's. Each also fails on console errors, CSP
violations and unexpected 4xx/5xx answers."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.e2e.conftest import signed_in
from tickets.models import Attachment, Ticket
from tickets.workflow import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Watch:
    """Console errors, CSP violations and 4xx/5xx answers a page met."""

    def __init__(self, page, allowed_status=()):
        self.problems: list[str] = []
        self.allowed = set(allowed_status)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message):
        if any(f"status of {status} " in message.text for status in self.allowed):
            return  # the browser's own note of an answer the test expects
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response):
        if response.status >= 400 and response.status not in self.allowed:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")


@pytest.fixture
def day(demo):
    """The demo as `make run` leaves it: its dates moved up to now."""
    call_command("demo_dates", stdout=StringIO())


def new_page(browser, email=None, *, javascript=True, allowed_status=()):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(8_000)
    page.watch = Watch(page, allowed_status)
    return page


def view_count(page, slug: str) -> int:
    return int(page.locator(f"#view-{slug} .count").inner_text())


# --------------------------------------------------------------------------------------------------
# (a) the agent's day


@pytest.mark.usefixtures("day")
def test_agent_triages_unassigned_and_bulk_assigns_three_tickets(browser, live_server):
    """Opening "Unassigned in my teams", ticking three rows and "Assign to me" assigns all three, says
    so, and moves the live counts (unassigned down 3, my open up 3)."""
    page = new_page(browser)
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/")
    page.get_by_role("link", name=re.compile("Unassigned in my teams")).click()
    page.get_by_role("heading", name="Unassigned in my teams").wait_for()
    unassigned, mine = view_count(page, "unassigned"), view_count(page, "mine")
    rows = page.locator("[data-ticket-row]")
    assert rows.count() == unassigned >= 3
    refs = [rows.nth(i).locator("[data-ticket-link]").inner_text() for i in range(3)]
    for ref in refs:
        page.get_by_role("checkbox", name=f"Select {ref}").check()
    page.get_by_label("With the selected tickets").select_option(label="Assign to me")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_text("Updated 3 tickets").wait_for()
    assert view_count(page, "unassigned") == unassigned - 3
    assert view_count(page, "mine") == mine + 3
    assert page.get_by_role("heading", name="Unassigned in my teams").is_visible(), "back in the same view"
    assert page.locator("[data-ticket-row]").count() == unassigned - 3
    agent = User.objects.get(email="agent@example.com")
    numbers = [int(ref.removeprefix("T-")) for ref in refs]
    assert Ticket.objects.filter(number__in=numbers, assignee=agent).count() == 3
    assert page.watch.problems == []


@pytest.mark.usefixtures("day")
def test_agent_replies_pends_then_solves_walking_my_queue_with_next(browser, live_server):
    """From "My open tickets": open the first ticket, reply and pend; Next goes on to the following
    ticket; reply and solve it; Previous goes back to the first. Each send says so and sets the status."""
    page = new_page(browser)
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/")
    page.get_by_role("link", name=re.compile("My open tickets")).click()
    page.get_by_role("heading", name="My open tickets").wait_for()
    open_rows = page.locator("[data-ticket-row]")
    assert open_rows.count() >= 3
    # Choose tickets that can be pended and solved: open ones.
    first_ref = open_rows.nth(0).locator("[data-ticket-link]").inner_text()
    second_ref = open_rows.nth(1).locator("[data-ticket-link]").inner_text()
    open_rows.nth(0).locator("[data-ticket-link]").click()
    page.locator("p.eyebrow", has_text=first_ref).wait_for()

    first = Ticket.objects.get(number=int(first_ref.removeprefix("T-")))
    page.get_by_label("Public reply").check()
    page.locator("#composer textarea").fill("Could you send us a screenshot of the error?")
    page.get_by_label("Then set status").select_option("pending")
    page.locator("#composer button[type=submit]").click()
    page.get_by_text(f"Reply sent on {first_ref}").wait_for()
    first.refresh_from_db()
    assert first.status == Status.PENDING
    assert page.locator("#properties").get_by_text("Pending").first.is_visible()

    page.get_by_role("link", name="Next →").click()
    page.locator("p.eyebrow", has_text=second_ref).wait_for()
    second = Ticket.objects.get(number=int(second_ref.removeprefix("T-")))
    page.locator("#composer textarea").fill("This is fixed now; please tell us if it comes back.")
    page.get_by_label("Then set status").select_option("resolved")
    page.locator("#composer button[type=submit]").click()
    page.get_by_text(f"Reply sent on {second_ref}").wait_for()
    second.refresh_from_db()
    assert second.status == Status.RESOLVED

    page.get_by_role("link", name="← Previous").click()
    page.locator("p.eyebrow", has_text=first_ref).wait_for()
    assert page.watch.problems == []


# --------------------------------------------------------------------------------------------------
# (b) the customer through every demo form

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.mark.usefixtures("day")
def test_customer_submits_the_billing_question_with_every_field_type(browser, live_server):
    """Billing question: text, number (2 decimals), multi-select, textarea and a PDF; each value is
    stored, shown back on the ticket page, and the ticket goes to Billing with priority High."""
    page = new_page(browser)
    signed_in(page, live_server, "customer@example.com")
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Billing question").first.click()
    page.get_by_label("Subject").fill("Charged twice for October")
    page.get_by_label("How can we help?").fill("The October invoice was charged twice.")
    page.get_by_label("Invoice number").fill("INV-2026-0042")
    page.get_by_label("Amount in question").fill("129.90")
    page.get_by_label("Refund").check()
    page.get_by_label("Wrong amount").check()
    page.get_by_label("Anything else we should know").fill("Card ending 4242.\nBoth on 3 October.")
    page.get_by_label("Attachments").set_input_files(
        files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}]
    )
    page.get_by_role("button", name="Submit request").click()
    page.get_by_role("heading", name="Charged twice for October").wait_for()
    ticket = Ticket.objects.get(subject="Charged twice for October")
    assert ticket.custom_fields["invoice_number"] == "INV-2026-0042"
    assert str(ticket.custom_fields["amount"]) in {"129.90", "129.9"}
    assert ticket.custom_fields["topics"] == ["Refund", "Wrong amount"]
    assert ticket.team.slug == "billing" and ticket.priority == "high"
    details = page.locator("aside dl.facts")
    for shown in ("INV-2026-0042", "129.90", "Refund", "Wrong amount", "Card ending 4242."):
        assert details.get_by_text(shown).count() >= 1, shown
    assert page.get_by_role("link", name=re.compile("invoice.pdf")).is_visible()
    page.get_by_text("Our billing team will answer within one working day").wait_for()
    assert page.watch.problems == []


@pytest.mark.usefixtures("day")
def test_access_request_sent_back_keeps_every_answer_and_the_file_then_goes_through(browser, live_server):
    """Access request with a bad approver address: 422, every answer (select, date, checkbox) and the
    file kept (ticked); corrected, it creates one ticket with the date and the checkbox stored."""
    page = new_page(browser, allowed_status={422})
    signed_in(page, live_server, "customer@example.com")
    page.goto(f"{live_server.url}/portal/tickets/new/access-request/")
    page.get_by_label("Subject").fill("CRM access for Dana")
    page.get_by_label("How can we help?").fill("Dana joins sales on Monday.")
    page.get_by_label("System").select_option("CRM")
    page.get_by_label("Needed by").fill("2030-01-15")
    page.get_by_label("Approver's e-mail").fill("not-an-address")
    page.get_by_label("Temporary access only").check()
    page.get_by_label("Attachments").set_input_files(
        files=[{"name": "approval.txt", "mimeType": "text/plain", "buffer": b"approved by Bob"}]
    )
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Submit request").click()
    assert sent.value.status == 422
    page.locator(".errors").first.wait_for()
    assert page.get_by_label("Subject").input_value() == "CRM access for Dana"
    assert page.get_by_label("System").input_value() == "CRM"
    assert page.get_by_label("Needed by").input_value() == "2030-01-15"
    assert page.get_by_label("Temporary access only").is_checked()
    assert page.get_by_label("Approver's e-mail").input_value() == "not-an-address"
    assert page.get_by_label(re.compile("approval.txt")).is_checked()
    page.get_by_label("Approver's e-mail").fill("bob@acme.example")
    page.get_by_role("button", name="Submit request").click()
    page.get_by_role("heading", name="CRM access for Dana").wait_for()
    ticket = Ticket.objects.get(subject="CRM access for Dana")
    assert ticket.custom_fields["system"] == "CRM"
    assert ticket.custom_fields["needed_by"] == "2030-01-15"
    assert ticket.custom_fields["temporary"] is True
    assert ticket.custom_fields["approver_email"] == "bob@acme.example"
    assert Attachment.objects.filter(filename="approval.txt").count() == 1
    assert page.get_by_role("link", name=re.compile("approval.txt")).is_visible()
    assert page.watch.problems == []


@pytest.mark.usefixtures("day")
def test_customer_answers_the_agent_marks_solved_and_reopens(browser, live_server):
    """On a pending demo ticket: the customer's reply appears without reload and reopens it (Open);
    "Mark as solved" solves it and offers "Reopen"; "Reopen" opens it again. Each step says so."""
    customer = User.objects.get(email="customer@example.com")
    ticket = Ticket.objects.filter(requester=customer, status=Status.PENDING).order_by("number").first()
    assert ticket is not None
    page = new_page(browser)
    signed_in(page, live_server, "customer@example.com")
    page.get_by_role("link", name="My tickets").first.click()
    page.get_by_role("link", name=ticket.reference).click()
    page.get_by_role("heading", name=ticket.subject).wait_for()
    page.get_by_label("Your reply").fill("Here is the screenshot you asked for.")
    page.locator("#id_attachments").set_input_files(
        files=[{"name": "shot.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Send").click()
    page.locator(".message-card", has_text="Here is the screenshot you asked for.").wait_for()
    page.locator("#ticket-status", has_text=re.compile("Open|Awaiting|progress", re.I)).wait_for()
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert (
        page.locator(".message-card", has_text="Here is the screenshot")
        .get_by_role("link", name=re.compile("shot.png"))
        .is_visible()
    )
    assert page.locator("#id_attachments").input_value() == "", "the file input is emptied after sending"

    page.get_by_role("button", name="Mark as solved").click()
    page.get_by_text(f"{ticket.reference} is marked as solved.").wait_for()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    page.get_by_role("button", name="Reopen").click()
    page.get_by_text(f"{ticket.reference} is reopened.").wait_for()
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert page.get_by_role("button", name="Mark as solved").is_visible()
    assert page.watch.problems == []


# --------------------------------------------------------------------------------------------------
# (c) Globex reaches nothing of Acme's


@pytest.mark.usefixtures("day")
def test_a_globex_customer_reaches_nothing_of_acme(browser, live_server):
    """other@example.com (Globex): every Acme ticket page, reply, status change and attachment answers
    404; the list, its organisation switch and the search by number show none of Acme's tickets; the
    desk and the admin are closed; and nothing of Acme's subjects appears anywhere."""
    every_acme = Ticket.objects.filter(organization__slug="acme").order_by("number")
    target = every_acme.first()
    # One of each status (the reply/status URLs answer differently per status), the list checks all.
    acme = [every_acme.filter(status=status).first() for status in Status.values]
    acme = [ticket for ticket in acme if ticket is not None]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tickets import services

    customer = User.objects.get(email="customer@example.com")
    services.ticket_reply(
        target,
        body="Our contract, attached.",
        actor=customer,
        uploads=[SimpleUploadedFile("acme-contract.txt", b"secret terms", content_type="text/plain")],
    )
    target.refresh_from_db()
    acme_files = list(Attachment.objects.filter(filename="acme-contract.txt"))
    assert acme_files
    page = new_page(browser, allowed_status={403, 404})
    signed_in(page, live_server, "other@example.com")
    page.goto(f"{live_server.url}/portal/tickets/new/")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    headers = {"X-CSRFToken": token, "Referer": f"{live_server.url}/portal/tickets/new/"}
    for ticket in acme:
        for path in (f"/portal/tickets/{ticket.number}/", f"/portal/tickets/T-{ticket.number}/"):
            assert page.request.get(live_server.url + path).status == 404, path
        assert (
            page.request.post(
                f"{live_server.url}/portal/tickets/{ticket.number}/reply/",
                form={"body": "hello", "submission_key": "x"},
                headers=headers,
            ).status
            == 404
        )
        assert (
            page.request.post(
                f"{live_server.url}/portal/tickets/{ticket.number}/status/",
                form={"status": "resolved"},
                headers=headers,
            ).status
            == 404
        )
        assert page.request.get(f"{live_server.url}/desk/tickets/{ticket.number}/").status in {403, 404}
    for attachment in acme_files:
        assert page.request.get(f"{live_server.url}/portal/attachments/{attachment.pk}/").status == 404
    for query in (
        "",
        "?scope=organization",
        "?status=all",
        "?status=solved",
        f"?q=T-{target.number}",
        f"?q={target.number}",
        f"?q={target.subject[:12]}",
        "?status=all&scope=organization&page=2",
    ):
        body = page.request.get(f"{live_server.url}/portal/tickets/{query}").text()
        for ticket in every_acme:
            assert f"/portal/tickets/{ticket.number}/" not in body, (query, ticket.reference)
            assert ticket.subject not in body, (query, ticket.reference)
    assert all(
        Ticket.objects.get(pk=t.pk).status == t.status
        and not Ticket.objects.get(pk=t.pk).messages.filter(body="hello").exists()
        for t in acme
        if t.pk != target.pk
    )
    assert (
        page.request.get(f"{live_server.url}/desk/").status in {403, 404}
        or "/login" in page.request.get(f"{live_server.url}/desk/").url
    )
    assert [p for p in page.watch.problems if not re.search(r"\b40[34]\b", p)] == []


# --------------------------------------------------------------------------------------------------
# Without JavaScript


@pytest.mark.usefixtures("day")
def test_without_javascript_an_agent_filters_bulk_assigns_edits_and_replies(browser, live_server):
    """JavaScript off: Apply filters the queue, a bulk "Assign to me" works, the inline priority edit
    saves and comes back to the ticket, and "reply and pend" sends."""
    page = new_page(browser, javascript=False)
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/")
    page.get_by_label("Assignee", exact=True).select_option("none")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"assignee=none"))
    rows = page.locator("[data-ticket-row] [data-ticket-link]")
    refs = [rows.nth(i).inner_text() for i in range(2)]
    for ref in refs:
        page.get_by_role("checkbox", name=f"Select {ref}").check()
    page.get_by_label("With the selected tickets").select_option(label="Assign to me")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_text("Updated 2 tickets").wait_for()
    assert "assignee=none" in page.url, "back on the filtered queue"

    number = int(refs[0].removeprefix("T-"))
    page.goto(f"{live_server.url}/desk/tickets/{number}/")
    page.get_by_label("Priority", exact=True).select_option("low")
    page.locator("#save-priority").click()
    page.get_by_text("Saved.").first.wait_for()
    assert f"/desk/tickets/{number}/" in page.url
    assert Ticket.objects.get(number=number).priority == "low"
    page.locator("#composer textarea").fill("Which model is the printer?")
    page.get_by_label("Then set status").select_option("pending")
    page.locator("#composer button[type=submit]").click()
    page.get_by_text(f"Reply sent on {refs[0]}").wait_for()
    assert Ticket.objects.get(number=number).status == Status.PENDING
    assert page.watch.problems == []


@pytest.mark.usefixtures("day")
def test_without_javascript_a_customer_submits_the_billing_form_and_replies(browser, live_server):
    """JavaScript off: the billing form (multi-select as check boxes, a file) submits, and a reply on
    the ticket page is sent and shown."""
    page = new_page(browser, javascript=False)
    signed_in(page, live_server, "customer2@example.com")
    page.goto(f"{live_server.url}/portal/tickets/new/billing-question/")
    page.get_by_label("Subject").fill("VAT missing on invoice")
    page.get_by_label("How can we help?").fill("The invoice has no VAT line.")
    page.get_by_label("Invoice number").fill("INV-2026-0100")
    page.get_by_label("VAT").check()
    page.get_by_label("Attachments").set_input_files(
        files=[{"name": "inv.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Submit request").click()
    page.get_by_role("heading", name="VAT missing on invoice").wait_for()
    ticket = Ticket.objects.get(subject="VAT missing on invoice")
    assert ticket.custom_fields["topics"] == ["VAT"]
    page.get_by_label("Your reply").fill("Also the address is wrong.")
    page.get_by_role("button", name="Send").click()
    page.locator(".message-card", has_text="Also the address is wrong.").wait_for()
    page.get_by_text("Your reply was sent.").wait_for()
    assert page.watch.problems == []


# --------------------------------------------------------------------------------------------------
# More of the day
