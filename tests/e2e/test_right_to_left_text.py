"""Browser: Hebrew or Arabic written on an English page reads right to left, each paragraph of a message
in its own direction (its final "!" at its end, its left edge ragged), beside English that stays left to
right; the subject and the reply box take the direction of their text too."""

import pytest
from django.urls import reverse

from accounts.models import User
from tests.e2e.conftest import signed_in
from tests.factories import make_ticket
from tickets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEBREW = "המדפסת לא מדפיסה!"
ENGLISH = "The printer does not print."
# Where each paragraph's text sits in its box: its left and right gaps, in pixels.
GAPS = """(text) => {
  const paragraph = [...document.querySelectorAll('.message-body p')].find(p => p.textContent === text);
  const range = document.createRange();
  range.selectNodeContents(paragraph);
  const words = range.getBoundingClientRect(), box = paragraph.getBoundingClientRect();
  return [words.left - box.left, box.right - words.right];
}"""


@pytest.mark.usefixtures("demo")
def test_a_hebrew_paragraph_reads_right_to_left_beside_an_english_one(page, live_server):
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject=HEBREW, description=f"{HEBREW}\n\n{ENGLISH}")
    services.ticket_reply(ticket, body=HEBREW, actor=customer)
    signed_in(page, live_server, customer.email)
    page.goto(live_server.url + reverse("tickets:portal_detail", args=[ticket.number]))
    hebrew_left, hebrew_right = page.evaluate(GAPS, HEBREW)
    english_left, english_right = page.evaluate(GAPS, ENGLISH)
    assert hebrew_right < 2 < hebrew_left, (hebrew_left, hebrew_right)  # against the right edge
    assert english_left < 2 < english_right, (english_left, english_right)
    assert page.locator("h1").get_attribute("dir") == "auto"
    reply = page.get_by_label("Your reply")
    reply.fill(HEBREW)
    assert reply.evaluate("box => getComputedStyle(box).direction") == "rtl"
