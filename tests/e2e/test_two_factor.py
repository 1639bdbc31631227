"""Browser: an agent sets up two-factor sign-in from the profile, then signs in with an app code and,
having lost the phone, with a recovery code."""

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from accounts.services import PASSWORD_INCORRECT
from tests.e2e.conftest import DEMO_PASSWORD, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for `secret`; codes work once, so later sign-ins use a later window.

    Never in the last seconds of a 30-second window: a code the server checks in the next window is
    still taken, but django-otp then records the app's clock as one window behind (drift), and a later
    code from "ahead" falls outside what it accepts."""
    if (wait := time.time() % 30 - 26) > 0:
        time.sleep(4 - wait + 0.1)
    generator = TOTP(b32decode(secret))
    generator.time = time.time() + steps_ahead * 30
    return f"{generator.token():06d}"


def sign_out(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in").first.wait_for()


@pytest.mark.usefixtures("demo")
def test_agent_enrols_and_signs_in_with_a_code_then_a_recovery_code(page, live_server):
    sign_in(page, live_server, "agent@example.com")
    page.goto(f"{live_server.url}/accounts/profile/")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    assert page.get_by_role(
        "img", name="QR code for adding this helpdesk to an authenticator app"
    ).is_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    code = app_code(secret)
    page.get_by_label("Code").fill(code)
    page.get_by_label("Your password").fill("wrong-password")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    # A wrong password is said beside the field; the code stays, and only the password is typed again.
    page.get_by_text(PASSWORD_INCORRECT, exact=True).wait_for()  # beside the field
    assert page.get_by_label("Code").input_value() == code
    page.get_by_label("Code").fill(app_code(secret))  # the one typed may be a window old by now
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    assert page.get_by_role("heading", name="Two-factor sign-in is on").is_visible()

    sign_out(page)
    sign_in(page, live_server, "agent@example.com")
    page.get_by_role("heading", name="Two-factor sign-in").wait_for()
    page.get_by_label("Code").fill(app_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify and sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agent desk").wait_for()

    sign_out(page)
    sign_in(page, live_server, "agent@example.com")
    page.get_by_label("Code").fill("000000")  # a wrong app code throttles the app, not the recovery codes
    page.get_by_role("button", name="Verify and sign in").click()
    # Said at the input: it is marked invalid and its description carries the reason.
    expect(page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Code")).to_have_accessible_description(re.compile("That code is not valid"))
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify and sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agent desk").wait_for()
