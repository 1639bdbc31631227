"""Flash messages on every page: refusals in an alert, notices in a polite status region."""

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.base import Message
from django.template.loader import render_to_string
from django.test import RequestFactory

ALERT = '<div class="messages" id="refusals" role="alert" tabindex="-1">'
STATUS = '<div class="messages" role="status" aria-live="polite">'


def region(page: str, opening: str) -> str:
    assert page.count(opening) == 1
    return page.split(opening)[1].split("</div>")[0]


@pytest.mark.django_db
def test_refusals_are_an_alert_to_focus_and_notices_a_status():
    """A page that brings both a refusal and a notice shows the refusal in a focusable alert (app.js
    moves the focus there as the page loads) and the notice in the status region, each once."""
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    flashed = [
        Message(messages.SUCCESS, "Reply sent."),
        Message(messages.ERROR, "This ticket changed meanwhile."),
        Message(messages.WARNING, "Nothing was changed."),
    ]
    page = render_to_string("base.html", {"messages": flashed}, request=request)
    alert, status = region(page, ALERT), region(page, STATUS)
    assert "This ticket changed meanwhile." in alert and "Nothing was changed." in alert
    assert "Reply sent." not in alert
    assert "Reply sent." in status and "changed meanwhile" not in status
