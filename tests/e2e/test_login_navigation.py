"""Browser: demo users sign in and see the navigation of their role."""

import pytest

from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_agent_signs_in_and_sees_the_agent_navigation(page, live_server):
    sign_in(page, live_server, "agent@example.com")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Sign out").wait_for()
    assert nav.get_by_role("link", name="Agent desk").is_visible()
    assert nav.get_by_role("link", name="My tickets").count() == 0
    assert nav.get_by_role("link", name="Administration").count() == 0


@pytest.mark.usefixtures("demo")
def test_customer_signs_in_and_sees_the_customer_navigation(page, live_server):
    sign_in(page, live_server, "customer@example.com")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Sign out").wait_for()
    assert nav.get_by_role("link", name="My tickets").is_visible()
    assert nav.get_by_role("link", name="Agent desk").count() == 0


@pytest.mark.usefixtures("demo")
def test_wrong_password_keeps_the_user_on_the_form_with_a_message(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail address").fill("agent@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That e-mail address and password")
    assert page.get_by_label("E-mail address").input_value() == "agent@example.com"
