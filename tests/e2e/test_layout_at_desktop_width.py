"""Layout at 1280 px, the commonest desktop width, with the demo's data: every column of a list in view
(a subject or name without spaces wraps in its cell instead of pushing the others out), the chosen filter
drawn as chosen, a closed select showing its whole choice, the controls of a row one height, and counts
kept whole."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.e2e.conftest import signed_in
from tickets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
UNBROKEN = "X" * 200  # a pasted address or log line: no place to break

COLUMNS_OUT_OF_VIEW = """() => [...document.querySelectorAll('.table-wrap')].flatMap((wrap) => {
  const right = wrap.getBoundingClientRect().right + 1;
  return [...wrap.querySelectorAll('thead th')]
    .filter((th) => th.getBoundingClientRect().right > right).map((th) => th.innerText.trim());
})"""


def columns_out_of_view(page, live_server, path: str) -> list[str]:
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + path)
    return page.evaluate(COLUMNS_OUT_OF_VIEW)


def test_an_unbroken_subject_wraps_in_the_customers_list_and_the_queue(page, live_server, demo):
    customer = User.objects.get(email="customer@example.com")
    services.ticket_create(requester=customer, subject=UNBROKEN, description="d", actor=customer)
    signed_in(page, live_server, "customer@example.com")
    assert columns_out_of_view(page, live_server, "/portal/tickets/") == []
    page.context.clear_cookies()
    signed_in(page, live_server, "supervisor@example.com")
    # Ten columns beside the views card: all in view, with the demo's long statuses and names.
    assert columns_out_of_view(page, live_server, "/desk/") == []


def test_an_unbroken_name_wraps_in_the_audit_trail_and_the_queue(page, live_server, demo):
    supervisor = User.objects.get(email="supervisor@example.com")
    supervisor.name = "Y" * 150  # the longest name the profile takes; the demo's assignee of tickets
    supervisor.save()
    customer = User.objects.get(email="customer2@example.com")
    customer.name = "Z" * 150  # a requester in the queue
    customer.save()
    services.ticket_reply(
        services.ticket_create(requester=User.objects.get(email="customer@example.com"), subject="s",
                               description="d", actor=supervisor),
        body="b", actor=supervisor,
    )  # fmt: skip
    signed_in(page, live_server, "supervisor@example.com")
    assert columns_out_of_view(page, live_server, "/audit/") == []
    assert columns_out_of_view(page, live_server, "/desk/") == []


LOOK_OF_STATUS_FILTERS = """() => [...document.querySelectorAll('nav[aria-label="Article status"] a')]
  .map((a) => {
  const s = getComputedStyle(a);
  return [a.getAttribute('aria-current') === 'page', [s.backgroundColor, s.color, s.borderColor].join()];
})"""


@pytest.mark.parametrize("status", ["", "review"])
def test_the_chosen_article_status_is_drawn_as_chosen(page, live_server, demo, status):
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(live_server.url + "/kb/manage/" + (f"?status={status}" if status else ""))
    looks = page.evaluate(LOOK_OF_STATUS_FILTERS)
    chosen = [look for current, look in looks if current]
    assert len(chosen) == 1
    assert chosen[0] not in {look for current, look in looks if not current}


CUT_SELECTS = """() => { const context = document.createElement('canvas').getContext('2d');
  const selects = [...document.querySelectorAll('main select:not([multiple])')];
  return selects.filter((s) => s.offsetParent).map((s) => {
    const style = getComputedStyle(s);
    context.font = style.font;
    const room = s.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
    const text = s.options[s.selectedIndex].text;
    return context.measureText(text).width > room ? text : null;
  }).filter((text) => text); }"""

ROW_HEIGHTS = """() => {
  const rows = {};
  const controls = '.queue-filters :is(select, input[type=text], input[type=date])';
  for (const control of document.querySelectorAll(controls)) {
    const box = control.getBoundingClientRect();
    (rows[Math.round(box.bottom)] ??= new Set()).add(Math.round(box.height));
  }
  return Object.values(rows).map((heights) => [...heights]);
}"""


def test_the_queue_filters_show_whole_choices_on_rows_of_one_height(page, live_server, demo):
    page.set_viewport_size(DESKTOP)
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(live_server.url + "/desk/")
    assert page.evaluate(CUT_SELECTS) == []  # "Everything I can see" read "Everything I c"
    assert all(len(heights) == 1 for heights in page.evaluate(ROW_HEIGHTS))  # 39, 43 and 45 px


COUNTS_ON_MORE_THAN_ONE_LINE = """() => [...document.querySelectorAll('.view-list .count')]
  .filter((count) => {
  const range = document.createRange();
  range.selectNodeContents(count);
  return new Set([...range.getClientRects()].map((box) => Math.round(box.top))).size > 1;
}).map((count) => count.innerText)"""


def test_a_views_count_stays_whole_beside_a_label_on_two_lines(page, live_server, demo):
    call_command("demo_dates", stdout=StringIO())
    page.set_viewport_size(DESKTOP)
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + "/desk/")
    assert page.locator(".view-list .count").count() >= 5
    assert page.evaluate(COUNTS_ON_MORE_THAN_ONE_LINE) == []  # "18" read "1" over "8"


def test_every_queue_filter_shows_at_once_on_a_desktop(page, live_server, demo):
    """At desktop width the filters a phone folds under "More filters" are all on screen, in the same
    rows as the others, with no "More filters" to open, and Tab goes from one to the next."""
    page.set_viewport_size(DESKTOP)
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + "/desk/")
    assert not page.locator(".more-filters > summary").is_visible()
    for name in ("#queue-team", "#queue-tag", "#queue-solved-before", "#queue-sort", "#queue-organization"):
        assert page.locator(name).is_visible(), name
    page.locator("#queue-assignee").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "queue-team"
