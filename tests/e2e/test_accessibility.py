"""Browser: every page a person uses passes axe-core's WCAG 2.1 A/AA rules (labels, names, contrast,
landmarks, headings, ARIA) for the people who reach it: visitors, customers, agents, supervisors."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse

from accounts.models import User
from knowledge.models import Article
from tests.e2e.conftest import signed_in
from tickets.models import Ticket, TicketForm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
AXE = Axe()


def problems_here(page, where: str) -> list[str]:
    """axe's WCAG A/AA violations on the page as it is now."""
    results = AXE.run(page, options=WCAG_AA).response["violations"]
    return [
        f"{where}: {rule['id']} ({rule['impact']}) {rule['help']}: "
        + "; ".join(node["html"][:160] for node in rule["nodes"][:3])
        for rule in results
    ]


def violations(page, url: str) -> list[str]:
    page.goto(url)
    return problems_here(page, url)


def refused(page, url: str, button: str) -> list[str]:
    """Send the page's form empty past the browser's own checks, and check the page of errors that
    comes back (error messages tied to their fields, invalid fields marked)."""
    page.goto(url)
    page.evaluate("document.querySelectorAll('form').forEach((form) => { form.noValidate = true; })")
    with page.expect_response(lambda response: response.request.method == "POST") as sent:
        page.get_by_role("button", name=button, exact=True).click()
    assert sent.value.status == 422, f"{url}: {button} answered {sent.value.status}"
    page.wait_for_load_state()
    return problems_here(page, f"{url} after {button}")


def pages_clean(page, live_server, paths: list[str]) -> None:
    found = [problem for path in paths for problem in violations(page, live_server.url + path)]
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_visitor_pages(page, live_server):
    article = Article.objects.filter(visibility="public", status="published").first()
    pages_clean(page, live_server, [
        reverse("home"), reverse("accounts:login"), reverse("accounts:signup"),
        reverse("accounts:password_reset"), reverse("knowledge:home"),
        reverse("knowledge:search") + "?q=password", reverse("knowledge:article", args=[article.slug]),
        "/no-such-page/",
    ])  # fmt: skip


@pytest.mark.usefixtures("demo")
def test_customer_pages(page, live_server):
    customer = User.objects.get(email="customer@example.com")
    ticket = Ticket.objects.filter(requester=customer).first()
    form = TicketForm.objects.filter(is_active=True).first()
    signed_in(page, live_server, customer.email)
    pages_clean(page, live_server, [
        reverse("tickets:portal_list"), reverse("tickets:portal_submit"),
        reverse("tickets:portal_submit_form", args=[form.slug]),
        reverse("tickets:portal_detail", args=[ticket.number]), reverse("accounts:profile"),
    ])  # fmt: skip


@pytest.mark.usefixtures("demo")
def test_agent_pages(page, live_server):
    agent = User.objects.get(email="agent@example.com")
    ticket = Ticket.objects.visible_to(agent).first()
    signed_in(page, live_server, agent.email)
    pages_clean(page, live_server, [
        reverse("tickets:desk_queue"), reverse("tickets:desk_queue") + "?q=printer&sort=-updated",
        reverse("tickets:desk_ticket", args=[ticket.number]), reverse("knowledge:manage_list"),
        reverse("knowledge:manage_new"), reverse("accounts:two_factor"),
    ])  # fmt: skip


@pytest.mark.usefixtures("demo")
def test_supervisor_pages(page, live_server):
    signed_in(page, live_server, "supervisor@example.com")
    pages_clean(page, live_server, [reverse("audit:event_list")])


FOCUS_RING = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const outline = style.outlineStyle === "none" ? "" : style.outlineColor;
  return {html: element.outerHTML.slice(0, 120), outline: outline, shadow: style.boxShadow};
}"""
RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)")


def luminance(red: int, green: int, blue: int) -> float:
    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast_on_white(css: str) -> float:
    """The best contrast against white of the opaque colours in a computed outline or box-shadow."""
    ratios = [
        1.05 / (luminance(int(r), int(g), int(b)) + 0.05)
        for r, g, b, alpha in RGB.findall(css)
        if alpha in ("", "1")
    ]
    return max(ratios, default=1.0)


def focus_stops(page, url: str, presses: int = 40, *, whole_page: bool = False) -> list[str]:
    """Tab through the page's first `presses` stops; each stop whose focus indicator has less than WCAG's
    3:1 on white. With `whole_page`, the focus must leave the page within them (else a keyboard trap)."""
    page.goto(url)
    weak = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring["html"].startswith("<body"):
            return weak
        if not ring["outline"] or contrast_on_white(ring["outline"] + " " + ring["shadow"]) < 3:
            weak.append(f"{url}: {ring}")
    if whole_page:
        raise AssertionError(f"{url}: the focus never left the page in {presses} Tab presses")
    return weak


@pytest.mark.usefixtures("demo")
def test_every_keyboard_stop_shows_a_focus_ring_that_contrasts(page, live_server):
    agent = User.objects.get(email="agent@example.com")
    ticket = Ticket.objects.visible_to(agent).first()
    weak = focus_stops(page, live_server.url + reverse("accounts:login"))
    signed_in(page, live_server, agent.email)
    for path in (reverse("tickets:desk_queue"), reverse("tickets:desk_ticket", args=[ticket.number])):
        weak += focus_stops(page, live_server.url + path)
    assert weak == [], "\n".join(weak)


@pytest.mark.usefixtures("demo")
def test_pages_of_errors(page, live_server):
    url = live_server.url
    found = refused(page, url + reverse("accounts:signup"), "Create account")
    found += refused(page, url + reverse("accounts:password_reset"), "Send the link")
    signed_in(page, live_server, "customer@example.com")
    found += refused(page, url + reverse("tickets:portal_submit"), "Submit request")
    form = TicketForm.objects.filter(is_active=True).exclude(schema=[]).first()
    found += refused(page, url + reverse("tickets:portal_submit_form", args=[form.slug]), "Submit request")
    found += refused(page, url + reverse("accounts:profile"), "Change password")
    agent = User.objects.get(email="agent@example.com")
    page.context.clear_cookies()  # signed out
    signed_in(page, live_server, agent.email)
    ticket = Ticket.objects.visible_to(agent).exclude(status="closed").first()
    found += refused(page, url + reverse("tickets:desk_ticket", args=[ticket.number]), "Send reply")
    found += refused(page, url + reverse("knowledge:manage_new"), "Save")
    assert found == [], "\n".join(found)
