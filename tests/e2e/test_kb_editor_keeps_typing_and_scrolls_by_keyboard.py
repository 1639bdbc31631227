# ruff: noqa: E501  (page measurements are JavaScript)
"""The knowledge base's editor on a phone and by keyboard: code and long published versions scroll by
keyboard (or not at all), an action above the editor never drops typing not yet saved, and a save refused
as a whole puts the focus on the reason."""

import pytest
from django.urls import reverse

from accounts.models import User
from knowledge import services
from knowledge.models import Article
from tests.e2e.conftest import signed_in
from tests.e2e.test_phones import AXE_SCROLL, signed_in_on
from tests.e2e.test_phones import phone as phone  # the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CODE_BODY = (
    "# Install the driver\n\nOpen **Print Management**, then run:\n\n"
    "```\nC:\\Windows\\System32\\spool\\drivers\\x64\\3\\install_printer_driver_from_the_print_server.exe --all-users\n```\n\n"
    "Then restart the spooler.\n"
)
FOCUS = """() => { const e = document.activeElement; if (!e || e === document.body) return null;
  return {id: e.id, inSummary: !!e.closest('.form-errors')}; }"""


def scroll_findings(page, where: str) -> list[str]:
    """axe's scrollable-region-focusable on the page as it is now (the rule tests/e2e/test_phones.py uses)."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options=AXE_SCROLL).response["violations"]
    return [f"{where}: {rule['id']}: {node['html'][:100]}" for rule in found for node in rule["nodes"]]


def test_code_in_an_article_scrolls_sideways_by_keyboard_on_a_phone(phone, live_server, demo):
    """A command line in a fenced code block (a path, an installer's flags) is wider than a phone: its
    <pre> scrolls sideways (`pre { overflow-x: auto }`, static/css/app.css:46), in the editor's Preview and
    on the published article, yet holds nothing focusable and is not focusable itself. A keyboard user
    (an iPhone or iPad with a keyboard, switch access) cannot read the end of the command (WCAG 2.1.1;
    axe's scrollable-region-focusable, the rule test_phones.py holds the audit and sessions tables to).
    Expected: code blocks wrap (pre-wrap) inside .message-body, or their box is focusable and named."""
    editor = User.objects.get(email="supervisor@example.com")
    article = services.article_create(
        title="Install the printer driver", body=CODE_BODY, actor=editor, status="published"
    )
    signed_in_on(phone, live_server, editor.email)
    phone.goto(live_server.url + reverse("knowledge:manage_edit", args=[article.slug]))
    phone.get_by_role("button", name="Preview").tap()
    phone.locator("#preview pre").wait_for()
    found = scroll_findings(phone, "editor preview")
    phone.goto(live_server.url + reverse("knowledge:article", args=[article.slug]))
    found += scroll_findings(phone, "published article")
    assert found == [], "\n".join(found)


def test_a_long_published_version_scrolls_by_keyboard_on_a_phone(phone, live_server, demo):
    """An editor opens an earlier published version to read it before restoring it. A version longer
    than 16rem shows in `pre.revision-body` (max-height: 16rem; overflow: auto, app.css:304), a scroll
    box with nothing focusable in it: by keyboard the rest of that version cannot be read (2.1.1; axe's
    scrollable-region-focusable). Expected: the box focusable (tabindex=0) and named, as the audit
    trail's table-wrap is, or no inner scroll box at all."""
    editor = User.objects.get(email="supervisor@example.com")
    long_body = "Restart the spooler.\n\n" + "\n".join(f"Step {i}: check the queue again." for i in range(40))
    article = services.article_create(
        title="Printer queue stuck", body=long_body, actor=editor, status="published"
    )
    services.article_update(article, actor=editor, body=long_body + "\n\nStep 41: call us.")
    signed_in_on(phone, live_server, editor.email)
    phone.goto(live_server.url + reverse("knowledge:manage_edit", args=[article.slug]))
    for summary in phone.locator(".revisions summary").all():
        summary.tap()
    phone.locator(".revision-body").first.wait_for()
    found = scroll_findings(phone, "published versions")
    assert found == [], "\n".join(found)


def test_a_save_refused_as_stale_puts_the_focus_on_the_reason(page, live_server, demo):
    """A keyboard user saves an article a colleague changed since the page was opened: the editor comes
    back (422) with the reason ("Someone changed this article since you opened it. Copy your text…") at
    the top of the form, in the error summary, but the focus is on nothing (document.body): no field is
    marked invalid, so static/js/app.js:10-12 moves it nowhere, and a role=alert already on the page when
    it loads is not read out (the comment at app.js:3 says so of redirect refusals, which it focuses as
    #refusals). Expected: the summary takes the focus, as #refusals does."""
    author = User.objects.get(email="agent@example.com")
    draft = services.article_create(title="VPN drops every hour", body="Reconnect.", actor=author)
    signed_in(page, live_server, author.email)
    page.goto(live_server.url + reverse("knowledge:manage_edit", args=[draft.slug]))
    page.get_by_label("Body").fill("My change.")
    services.article_update(Article.objects.get(pk=draft.pk), actor=author, body="A colleague's change.")
    page.get_by_role("button", name="Save").focus()
    with page.expect_navigation() as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 422
    assert services.STALE_ARTICLE in page.locator(".form-errors").inner_text()
    assert page.get_by_label("Body").input_value() == "My change."  # kept, as promised
    focus = page.evaluate(FOCUS)
    assert (focus is not None and focus["inSummary"]) or (focus or {}).get("id") == "refusals", focus


def test_an_action_above_the_editor_never_drops_typing_not_yet_saved(page, live_server, demo):
    """An agent rewrites their draft's body and, by keyboard, goes back up to "Submit for review" (a form
    of its own, above the editor, posting only loaded_at): the draft as last saved went to review and the
    rewrite was gone without a word. Now nothing is sent: the page says to save first, the focus on it,
    and the typing stays."""
    author = User.objects.get(email="agent@example.com")
    draft = services.article_create(title="VPN drops every hour", body="Reconnect.", actor=author)
    signed_in(page, live_server, author.email)
    page.goto(live_server.url + reverse("knowledge:manage_edit", args=[draft.slug]))
    page.get_by_label("Body").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Reconnect, then restart the VPN client and sign in again.")
    page.get_by_role("button", name="Submit for review").focus()
    page.keyboard.press("Enter")
    note = page.locator("#unsaved-typing")
    note.wait_for()
    assert page.evaluate("document.activeElement.id") == "unsaved-typing"
    assert "restart the VPN client" in page.get_by_label("Body").input_value()
    assert Article.objects.get(pk=draft.pk).status == "draft"
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved “VPN drops every hour”").wait_for()
    with page.expect_navigation():
        page.get_by_role("button", name="Submit for review").click()
    stored = Article.objects.get(pk=draft.pk)
    assert (stored.status, "restart the VPN client" in stored.body) == ("review", True)
