"""Browser: forms outside the part of the page htmx swapped still send what is on screen: the queue's
filter (saving a view, a bulk action) and the ticket's version (the merge form, the portal's status
buttons), so nothing is saved from the page as first loaded or refused as stale."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Team, User
from tests.e2e.conftest import signed_in
from tests.e2e.test_accessibility import problems_here
from tests.factories import make_ticket
from tickets import selectors
from tickets.models import Attachment, SavedView, Ticket
from tickets.workflow import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_saving_a_view_and_a_bulk_action_after_filtering_keep_the_filter(page, live_server):
    support = Team.objects.get(slug="support")
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Scanner makes a grinding noise", team=support)
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/")

    page.get_by_label("Search").fill("grinding")
    page.get_by_label("Search").press("Enter")  # htmx swaps the table and pushes the URL
    page.wait_for_url("**/desk/?*q=grinding*")
    page.locator("[data-ticket-row]").nth(1).wait_for(state="detached")

    page.get_by_text("Save this view").click()
    page.get_by_label("View name").fill("Grinding noises")
    page.get_by_role("button", name="Save view").click()
    page.get_by_text("Saved the view “Grinding noises”.").wait_for()
    assert "q=grinding" in SavedView.objects.get(name="Grinding noises").query

    page.get_by_label(f"Select {ticket.reference}").check()
    page.get_by_label("With the selected tickets").select_option(label="Priority: High")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_text(f"Updated 1 ticket: {ticket.reference}.").wait_for()
    assert "q=grinding" in page.url  # back to the filtered queue, not the whole one
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"


@pytest.mark.usefixtures("demo")
def test_merging_after_an_inline_edit_is_not_refused_as_stale(page, live_server):
    support = Team.objects.get(slug="support")
    customer = User.objects.get(email="customer@example.com")
    source = make_ticket(customer, subject="Printer jams again", team=support)
    target = make_ticket(customer, subject="Printer jams", team=support)
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(f"{live_server.url}/desk/tickets/{source.number}/")

    page.get_by_label("Priority").select_option("high")
    page.locator("form", has=page.get_by_label("Priority")).get_by_role("button", name="Save").click()
    page.locator("#properties dd", has_text=str(source.version + 1)).wait_for()

    page.get_by_label("Merge into ticket").fill(target.reference)
    page.get_by_role("button", name="Merge", exact=True).click()
    # Asked once more, naming both tickets, the confirming button focused: Enter merges.
    page.get_by_role("heading", name=f"Merge {source.reference} into {target.reference}?").wait_for()
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
    confirm = page.get_by_role("button", name=f"Merge {source.reference} into {target.reference}")
    assert confirm.evaluate("button => button === document.activeElement")
    assert problems_here(page, "merge confirmation") == []
    page.keyboard.press("Enter")
    page.get_by_text(f"Merged {source.reference} into {target.reference}.").wait_for()
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk


@pytest.mark.usefixtures("demo")
def test_a_customer_marks_the_ticket_solved_right_after_replying(page, live_server):
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Monitor flickers", team=Team.objects.get(slug="support"))
    signed_in(page, live_server, "customer@example.com")
    page.goto(f"{live_server.url}/portal/tickets/{ticket.number}/")

    page.get_by_label("Your reply").fill("It stopped after I changed the cable.")
    page.get_by_role("button", name="Send").click()
    page.locator(".message-card", has_text="It stopped after I changed the cable.").wait_for()
    page.get_by_role("button", name="Mark as solved").click()
    page.get_by_text(f"{ticket.reference} is marked as solved.").wait_for()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


@pytest.mark.usefixtures("demo")
def test_the_views_list_follows_a_filter_applied_in_place(page, live_server):
    mine = next(view for view in selectors.built_in_views() if view.slug == "mine")
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/?{mine.query}")
    link = page.locator('[data-view="mine"]')
    expect(link).to_have_attribute("aria-current", "page")
    page.get_by_text("Save this view").click()
    page.get_by_label("View name").fill("Half typed")

    page.get_by_label("Search").fill("grinding")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url("**/desk/?*q=grinding*")
    expect(link).not_to_have_attribute("aria-current", "page")
    assert page.get_by_label("View name").input_value() == "Half typed"  # the form is not swapped


@pytest.mark.usefixtures("demo")
def test_the_refresh_waits_while_tickets_are_ticked_for_a_bulk_action(page, live_server):
    support = Team.objects.get(slug="support")
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Scanner makes a grinding noise", team=support)
    page.clock.install()
    signed_in(page, live_server, "agent@example.com").goto(f"{live_server.url}/desk/?q=grinding")
    box = page.get_by_label(f"Select {ticket.reference}")
    box.check()
    page.get_by_label("Search").focus()  # focus outside the table: only the ticked box holds the refresh
    Ticket.objects.filter(pk=ticket.pk).update(subject="Scanner makes a grinding noise again")

    page.clock.run_for(31_000)
    page.wait_for_timeout(500)  # time for a request the refresh would have made
    expect(box).to_be_checked()
    expect(page.get_by_text("grinding noise again")).to_have_count(0)

    box.uncheck()
    page.get_by_label("Search").focus()
    page.clock.run_for(31_000)
    expect(page.get_by_text("Scanner makes a grinding noise again")).to_be_visible()


def open_as_its_customer(page, live_server) -> Ticket:
    """A demo customer's new ticket, open in the portal."""
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Printer jams", team=Team.objects.get(slug="support"))
    signed_in(page, live_server, "customer@example.com").goto(
        f"{live_server.url}/portal/tickets/{ticket.number}/"
    )
    return ticket


@pytest.mark.usefixtures("demo")
def test_a_refused_htmx_reply_says_why_and_keeps_what_was_typed(page, live_server):
    ticket = open_as_its_customer(page, live_server)
    page.locator("#conversation textarea").fill("It jams on every third page.")
    page.evaluate("document.querySelectorAll('input[name=csrfmiddlewaretoken]').forEach(i => i.value = 'x')")
    page.context.clear_cookies(name="csrftoken")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("security check has expired")
    assert page.locator("#conversation textarea").input_value() == "It jams on every third page."
    assert not ticket.messages.filter(body__startswith="It jams").exists()


@pytest.mark.usefixtures("demo")
def test_a_refused_htmx_reply_puts_the_focus_on_the_message_to_correct_and_keeps_its_file(page, live_server):
    """htmx hands the focus back to the Send button (its id survives the swap); after a refusal the
    message box, marked invalid, is where the customer needs to be. The file chosen is kept, ticked,
    and goes with the corrected reply."""
    ticket = open_as_its_customer(page, live_server)
    page.locator("#conversation input[type=file]").set_input_files(
        {"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"hello there\n"}
    )
    page.get_by_role("button", name="Send").click()  # no message
    kept = page.get_by_role("checkbox", name=re.compile(r"receipt\.txt"))
    # Waits by selector: wait_for_function polls with eval, which the pages' CSP forbids.
    page.locator("textarea:focus").wait_for()
    assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true"
    expect(kept).to_be_checked()
    page.locator("#conversation textarea").fill("Receipt attached.")
    page.get_by_role("button", name="Send").click()
    page.locator("#conversation").get_by_text("Receipt attached.").wait_for()
    message = ticket.messages.get(body="Receipt attached.")
    assert [attachment.filename for attachment in Attachment.objects.filter(owner_id=message.pk)] == [
        "receipt.txt"
    ]


@pytest.mark.usefixtures("demo")
def test_after_an_htmx_reply_the_keyboard_focus_stays_in_the_conversation(page, live_server):
    open_as_its_customer(page, live_server)
    page.locator("#conversation textarea").fill("Now it jams on every page.")
    page.get_by_role("button", name="Send").focus()
    page.keyboard.press("Enter")
    page.locator("#conversation").get_by_text("Now it jams on every page.").wait_for()
    page.locator(":focus").wait_for()  # anything but <body>
    assert page.evaluate("document.getElementById('conversation').contains(document.activeElement)")


@pytest.mark.usefixtures("demo")
def test_an_inline_edit_keeps_the_focus_on_its_save_button_and_says_it_saved(page, live_server):
    ticket = make_ticket(
        User.objects.get(email="customer@example.com"),
        subject="Keyboard saver",
        team=Team.objects.get(slug="support"),
    )
    signed_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Save the priority").focus()
    page.keyboard.press("Enter")
    page.locator("#properties-status", has_text="Saved.").wait_for(state="attached")
    assert page.evaluate("() => document.activeElement.id") == "save-priority"
    assert page.locator("#properties-status").get_attribute("role") == "status"
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"


@pytest.mark.usefixtures("demo")
def test_a_reply_the_server_cannot_read_says_so_not_that_it_failed_on_our_side(page, live_server):
    """More fields than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS) come back as 400: the reader is told
    what was sent could not be accepted, the text stays in the box, and no reply is stored."""
    ticket = open_as_its_customer(page, live_server)
    page.locator("#conversation textarea").fill("It jams on every third page.")
    page.evaluate("""() => {
        const form = document.querySelector("#conversation form");
        for (let n = 0; n < 1100; n++) {
            form.append(Object.assign(document.createElement("input"), {type: "hidden", name: "x" + n}));
        }
    }""")
    with page.expect_response(lambda response: response.status == 400):
        page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("could not accept what was sent")
    expect(page.locator("#conversation textarea")).to_have_value("It jams on every third page.")
    assert not ticket.messages.filter(body__contains="third page").exists()
