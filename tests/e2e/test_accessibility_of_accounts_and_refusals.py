"""Accessibility of pages and states the other tests/e2e/test_accessibility*.py files do not reach:
the profile's sessions, two-factor set-up and recovery codes, password reset with errors, signing up
with an invitation, the KB editor (preview, review queue, published versions), the desk's save-view
form and bulk results, workspace inline edits after an htmx swap, the audit viewer with filters, the
403/404 pages and the portal ticket with attachments.

Checked in a real browser: accessible names of every control, errors tied to their fields, Tab reaching
every action, a visible focus ring, text contrast, one <main>, headings starting at h1, live regions and
focus after htmx swaps."""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.oath import TOTP

from accounts import two_factor
from accounts.models import Team, User
from tests.e2e.conftest import DEMO_PASSWORD, sign_in, signed_in
from tests.e2e.test_accessibility import focus_stops, problems_here
from tests.factories import InvitationFactory, make_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACTIVE = "() => { const e = document.activeElement; return e ? e.outerHTML.slice(0, 140) : null; }"

# Every form control on the page that has no accessible name, by Chromium's own accessibility tree
# (Playwright's role locators use the same computation). Hidden inputs and controls inside closed
# <details> or [hidden] are left out.
UNNAMED_CONTROLS = """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
    .filter((e) => e.type !== 'hidden' && e.getClientRects().length > 0)
    .filter((e) => {
        const labelled = (e.labels && Array.from(e.labels).some((l) => l.textContent.trim()))
            || (e.getAttribute('aria-label') || '').trim()
            || (e.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
                 .some((id) => (document.getElementById(id)?.textContent || '').trim())
            || (['submit', 'button', 'reset'].includes(e.type) && (e.textContent.trim() || e.value))
            || (e.tagName === 'BUTTON' && e.textContent.trim());
        return !labelled;
    }).map((e) => e.outerHTML.slice(0, 140))"""

# Structure: exactly one main landmark, the first heading inside it is an h1, no heading level skipped
# on the way down, no duplicate ids.
STRUCTURE = """() => {
    const mains = document.querySelectorAll('main, [role=main]').length;
    const headings = Array.from(document.querySelectorAll(
            'main h1, main h2, main h3, main h4, main h5, main h6'))
        .filter((h) => h.getClientRects().length > 0 || h.closest('details'))
        .map((h) => Number(h.tagName[1]));
    const skips = [];
    headings.forEach((level, i) => {
        if (i > 0 && level > headings[i - 1] + 1) skips.push(`h${headings[i - 1]}->h${level}`);
    });
    const ids = {};
    document.querySelectorAll('[id]').forEach((e) => { ids[e.id] = (ids[e.id] || 0) + 1; });
    const duplicates = Object.keys(ids).filter((id) => ids[id] > 1);
    return {mains, first: headings[0] || null, skips, duplicates};
}"""

# Text contrast (WCAG 1.4.3): every visible text node's colour against the first opaque background
# found up its ancestors; large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1.
LOW_CONTRAST = """() => {
    const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
        const p = m[1].split(',').map((x) => parseFloat(x));
        return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
    const lum = ({r, g, b}) => { const ch = (v) => {
            v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b); };
    const background = (el) => { let layers = [];
        for (let e = el; e; e = e.parentElement) { const s = getComputedStyle(e);
            if (s.backgroundImage !== 'none') return null;  // cannot tell
            const c = parse(s.backgroundColor); if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
        let base = {r: 255, g: 255, b: 255};
        const mix = (top, under, a) => top * a + under * (1 - a);
        for (const c of layers.reverse()) {
            base = {r: mix(c.r, base.r, c.a), g: mix(c.g, base.g, c.a), b: mix(c.b, base.b, c.a)};
        }
        return base; };
    const out = []; const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement; if (!n.textContent.trim() || seen.has(el)) continue; seen.add(el);
        const unseen = '.visually-hidden, [hidden], script, style, noscript, dialog:not([open]), '
            + 'details:not([open]) > :not(summary)';
        if (el.closest(unseen)) continue;
        if (el.getClientRects().length === 0) continue;
        const s = getComputedStyle(el);
        if (s.visibility === 'hidden' || parseFloat(s.opacity) === 0) continue;
        let dim = false;
        for (let e = el; e; e = e.parentElement) {
            if (parseFloat(getComputedStyle(e).opacity) < 1 || e.disabled) { dim = true; break; }
        }
        if (dim) continue;  // disabled controls are exempt
        const fg = parse(s.color); const bg = background(el); if (!fg || !bg) continue;
        const blend = (top, under) => top * fg.a + under * (1 - fg.a);
        const blended = {r: blend(fg.r, bg.r), g: blend(fg.g, bg.g), b: blend(fg.b, bg.b)};
        const [l1, l2] = [lum(blended), lum(bg)].sort((a, b) => b - a);
        const ratio = (l1 + 0.05) / (l2 + 0.05);
        const size = parseFloat(s.fontSize); const bold = parseInt(s.fontWeight) >= 700;
        const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
        if (ratio < need) out.push(`${ratio.toFixed(2)} < ${need}: ${el.outerHTML.slice(0, 100)}`);
    }
    return out;
}"""


def page_problems(page, where: str) -> list[str]:
    """axe's WCAG A/AA findings plus unnamed controls, structure and text contrast, as the page is now."""
    found = problems_here(page, where)
    found += [f"{where}: unnamed control {html}" for html in page.evaluate(UNNAMED_CONTROLS)]
    shape = page.evaluate(STRUCTURE)
    if shape["mains"] != 1:
        found.append(f"{where}: {shape['mains']} main landmarks")
    if shape["first"] != 1:
        found.append(f"{where}: first heading in main is h{shape['first']}")
    if shape["skips"]:
        found.append(f"{where}: heading levels skipped {shape['skips']}")
    if shape["duplicates"]:
        found.append(f"{where}: duplicate ids {shape['duplicates']}")
    found += [f"{where}: contrast {text}" for text in page.evaluate(LOW_CONTRAST)]
    return found


def described_by_texts(page, selector: str) -> list[str]:
    """The texts an element's aria-describedby points at (what a screen reader says after its name)."""
    return page.evaluate(
        """(selector) => { const e = document.querySelector(selector);
            return (e.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)
                .map((id) => (document.getElementById(id) || {textContent: `<missing #${id}>`})
                    .textContent.trim()); }""",
        selector,
    )


def tab_stops(page, presses: int = 150) -> list[str]:
    """Tab from the top of the page as it is until the focus leaves it; the stops' outer HTML."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    stops = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        here = page.evaluate(ACTIVE)
        if here is None or here.startswith("<body"):
            return stops
        stops.append(here)
    raise AssertionError(f"the focus never left the page in {presses} Tab presses: {stops[-5:]}")


# --- Two-factor -------------------------------------------------------------------------------------


def _enable_two_factor(email: str) -> list[str]:
    """Two-factor on for `email` through the services; its recovery codes."""
    user = User.objects.get(email=email)
    device = two_factor.two_factor_start(user, actor=user)
    token = f"{TOTP(device.bin_key).token():06d}"
    _, codes = two_factor.two_factor_enable(
        user, device_id=device.pk, token=token, password=DEMO_PASSWORD, actor=user
    )
    return codes


def _sign_in_with_recovery_code(page, live_server, email: str, code: str) -> None:
    sign_in(page, live_server, email)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify and sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


@pytest.mark.usefixtures("demo")
def test_two_factor_set_up_page_and_its_refusal_are_accessible(page, live_server):
    """The set-up page (QR code, key, Code and Your password) has no axe findings and every control a
    name; a wrong code comes back with the Code box marked invalid, described by its error, focused."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("accounts:two_factor"))
    found = page_problems(page, "two-factor intro")
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    page.get_by_role("img", name="QR code for adding this helpdesk to an authenticator app").wait_for()
    found += page_problems(page, "two-factor set-up")
    page.get_by_label("Code").fill("000000")
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.locator(".form-errors").wait_for()
    found += page_problems(page, "two-factor set-up refused")
    code = page.get_by_label("Code")
    assert code.get_attribute("aria-invalid") == "true"
    assert any("not valid" in text for text in described_by_texts(page, "#id_code")), described_by_texts(
        page, "#id_code"
    )
    assert page.evaluate("document.activeElement.id") == "id_code", page.evaluate(ACTIVE)
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_recovery_codes_page_is_accessible(page, live_server):
    """With two-factor on, "Make new recovery codes" shows the new codes in a list under a heading; the
    page (the code box, the switch-off form) has no axe findings, unique ids and named controls."""
    codes = _enable_two_factor("agent@example.com")
    _sign_in_with_recovery_code(page, live_server, "agent@example.com", codes[0])
    page.goto(live_server.url + reverse("accounts:two_factor"))
    found = page_problems(page, "two-factor on")
    page.locator("#id_code").fill(codes[1])
    page.get_by_role("button", name="Make new recovery codes").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.get_by_test_id("recovery-codes").get_by_role("listitem").count() == 10
    found += page_problems(page, "new recovery codes")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_moving_two_factor_to_a_new_phone_gives_each_code_box_its_own_label(page, live_server):
    """ "Move to a new phone or app" shows the new set-up (Code, Your password) above the "Two-factor
    sign-in is on" box (Code). Both code boxes are rendered from forms without a prefix, so both get
    id="id_code" (and id_code_helptext): the second "Code" label points at the first box, the second box
    has no accessible name, and its help is the first one's. Each control needs its own id and label."""
    codes = _enable_two_factor("agent@example.com")
    _sign_in_with_recovery_code(page, live_server, "agent@example.com", codes[0])
    page.goto(live_server.url + reverse("accounts:two_factor"))
    page.locator("#id_code").fill(codes[1])
    page.get_by_role("button", name="Move to a new phone or app").click()
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    shape = page.evaluate(STRUCTURE)
    unnamed = page.evaluate(UNNAMED_CONTROLS)
    names = page.evaluate(
        """() => Array.from(document.querySelectorAll('input[name=code]'))
            .map((e) => Array.from(e.labels || []).map((l) => l.textContent.trim()).join('|'))"""
    )
    assert "id_code" not in shape["duplicates"] and all(names), (
        f"duplicate ids {shape['duplicates']}; code boxes' labels {names}; unnamed {unnamed}"
    )


# --- Profile: sessions, password change ---------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_profile_sessions_sign_out_is_named_reachable_and_announced(page, live_server, browser):
    """With the account signed in on a second browser, the sessions table's "Sign out" button says
    which session, Tab reaches it and "Sign out all other sessions", and after signing out the result is
    said in a status region on the page that comes back; the page has no axe findings."""
    other = browser.new_context()
    try:
        signed_in(other.new_page(), live_server, "customer@example.com")
        signed_in(page, live_server, "customer@example.com")
        page.goto(live_server.url + reverse("accounts:profile"))
        found = page_problems(page, "profile with two sessions")
        stops = tab_stops(page)
        assert any("Sign out all other sessions" in stop for stop in stops), stops
        single = page.locator("#sessions tbody button")
        assert single.count() == 1
        name = single.evaluate("(e) => e.textContent.replace(/\\s+/g, ' ').trim()")
        assert name.startswith("Sign out ") and len(name) > len("Sign out "), name
        single.focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/profile/#sessions")
        status = page.locator(".messages[role=status]")
        assert "Signed out that session" in status.inner_text()
        found += page_problems(page, "profile after signing out a session")
        assert found == [], "\n".join(found)
    finally:
        other.close()


@pytest.mark.usefixtures("demo")
def test_refused_password_change_ties_errors_to_fields_and_focuses_the_first(page, live_server):
    """A wrong old password and mismatched new ones come back with every invalid field marked, described
    by its own error, the focus on the first invalid field, and no axe findings."""
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("accounts:profile"))
    page.locator("#id_old_password").fill("not-my-password")
    page.locator("#id_new_password1").fill("Another-long-pass-123")
    page.get_by_label("New password confirmation").fill("Different-long-pass-456")
    page.get_by_role("button", name="Change password").click()
    page.locator(".field-invalid").first.wait_for()
    found = page_problems(page, "password change refused")
    invalid = page.evaluate(
        """() => Array.from(document.querySelectorAll('.field-invalid input')).map((e) => [e.id,
             e.getAttribute('aria-invalid'), (e.getAttribute('aria-describedby') || '')])"""
    )
    assert invalid, "no field marked invalid"
    for ident, aria_invalid, described in invalid:
        assert aria_invalid == "true", (ident, aria_invalid)
        assert f"{ident}_error" in described.split(), (ident, described)
    assert page.evaluate("document.activeElement.id") == invalid[0][0]
    assert found == [], "\n".join(found)


# --- Password reset, sign-up with an invitation ----------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_password_reset_confirm_with_errors_is_accessible(page, live_server):
    """The "Choose a new password" page from a mailed link, sent with two different passwords: the
    errors are tied to the fields, the focus lands on the first invalid one, axe finds nothing."""
    user = User.objects.get(email="customer2@example.com")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    page.goto(live_server.url + reverse("accounts:password_reset_confirm", args=[uid, token]))
    page.get_by_role("heading", name="Choose a new password").wait_for()
    found = page_problems(page, "reset confirm")
    page.locator("#id_new_password1").fill("Another-long-pass-123")
    page.get_by_label("New password confirmation").fill("Different-long-pass-456")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Set password").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    found += page_problems(page, "reset confirm refused")
    box = page.get_by_label("New password confirmation")
    assert box.get_attribute("aria-invalid") == "true"
    assert any("match" in text for text in described_by_texts(page, "#id_new_password2"))
    assert page.evaluate("document.activeElement.id") == "id_new_password2", page.evaluate(ACTIVE)
    # A used or expired link: the page says so, with a link to ask again.
    page.goto(live_server.url + reverse("accounts:password_reset_confirm", args=[uid, "bad-token"]))
    found += page_problems(page, "reset link invalid")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_signup_with_an_invitation_code_refused_points_at_the_code(page, live_server):
    """Signing up from an invitation link (?code=…) prefills the code; an unknown code is refused at the
    invitation code box (marked invalid, described by the error and its help), with no axe findings."""
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"open_signup": False}, actor=None)
    invitation = InvitationFactory(organization=User.objects.get(email="customer@example.com").organization)
    page.goto(live_server.url + reverse("accounts:signup") + f"?code={invitation.code}")
    found = page_problems(page, "signup with invitation")
    assert page.get_by_label("Invitation code").input_value() == invitation.code
    page.get_by_label("Name").fill("New Person")
    page.get_by_label("E-mail address").fill("new.person@example.com")
    page.get_by_label("Password").fill("A-long-enough-pass-987")
    page.get_by_label("Invitation code").fill("NO-SUCH-CODE")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Create account").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    found += page_problems(page, "signup refused")
    errors_at = page.evaluate(
        "() => Array.from(document.querySelectorAll('[aria-invalid=true]')).map((e) => e.id)"
    )
    summary = page.locator(".form-errors").inner_text()
    texts = described_by_texts(page, "#id_invitation_code")
    tied = any("code" in text.lower() and "invitation e-mail" not in text for text in texts)
    assert tied or "code" in summary.lower(), (errors_at, summary, texts)
    assert found == [], "\n".join(found)


# --- Knowledge base editor: preview, review queue, published versions ------------------------------


@pytest.mark.usefixtures("demo")
def test_kb_preview_is_announced_and_keeps_the_focus_on_preview(page, live_server):
    """Preview renders the markdown into the Preview box, a polite live region that was on the page
    before (filled in, not swapped in whole); the focus stays on the Preview button."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("knowledge:manage_new"))
    page.evaluate("() => { document.getElementById('preview').dataset.kept = 'yes'; }")
    page.get_by_label("Body").fill("# Heading\n\nSome **bold** text.")
    page.get_by_role("button", name="Preview").focus()
    with page.expect_response(lambda r: "/manage/preview/" in r.url):
        page.keyboard.press("Enter")
    page.locator("#preview strong").wait_for()
    preview = page.locator("#preview")
    assert preview.get_attribute("data-kept") == "yes" and preview.get_attribute("aria-live") == "polite"
    assert page.evaluate("document.activeElement.textContent.trim()") == "Preview", page.evaluate(ACTIVE)
    found = page_problems(page, "kb editor with preview")
    assert found == [], "\n".join(found)


def _article_with_versions():
    """A published article edited twice by an editor: two published versions kept, one in review."""
    from knowledge import services as knowledge_services
    from tests.factories import make_article

    editor = User.objects.get(email="admin@example.com")
    article = make_article("Printer queue stuck", "Restart the **spooler**.")
    for body in ("Restart the print spooler.", "Restart the spooler, then the printer."):
        article = knowledge_services.article_update(article, actor=editor, body=body)
    author = User.objects.get(email="agent@example.com")
    draft = knowledge_services.article_create(title="VPN drops", body="Reconnect.", actor=author)
    knowledge_services.article_submit_for_review(draft, actor=author)
    return article


@pytest.mark.usefixtures("demo")
def test_kb_review_queue_and_article_pages_are_accessible(page, live_server):
    """The review queue (?status=review), an article with published versions (the versions expanded)
    and the page after restoring a version: no axe findings, named controls, one main, h1 first, text
    contrast, and every Restore button says which version it restores or sits inside its version."""
    article = _article_with_versions()
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(live_server.url + reverse("knowledge:manage_list") + "?status=review")
    found = page_problems(page, "review queue")
    page.goto(live_server.url + reverse("knowledge:manage_edit", args=[article.slug]))
    page.locator(".revisions summary").first.click()
    found += page_problems(page, "article with versions")
    stops = tab_stops(page, 250)
    assert any("Restore this version" in stop for stop in stops), stops[-10:]
    page.get_by_role("button", name="Restore this version").first.click()
    page.locator(".messages[role=status]").wait_for()
    found += page_problems(page, "after restoring a version")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_an_author_deletes_a_draft_with_the_keyboard_after_being_asked_once_more(page, live_server):
    """An author's draft page offers "Delete…": opened from the keyboard it asks once more, naming the
    draft, with no axe findings; confirming lands on the article list, which says so, and the draft is
    gone."""
    from knowledge import services as knowledge_services
    from knowledge.models import Article

    author = User.objects.get(email="agent@example.com")
    draft = knowledge_services.article_create(title="Printer on fire", body="Unplug it.", actor=author)
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("knowledge:manage_edit", args=[draft.slug]))
    page.get_by_text("Delete…").focus()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("button", name="Delete this draft")
    confirm.wait_for()
    assert "Delete “Printer on fire” for good?" in page.locator("main").inner_text()
    found = page_problems(page, "draft with its delete question open")
    assert found == [], "\n".join(found)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Delete this draft"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(reverse("knowledge:manage_list"))
    assert "Deleted “Printer on fire”." in page.locator(".messages").inner_text()
    assert not Article.objects.filter(pk=draft.pk).exists()


# --- Desk: save-view form, bulk results -------------------------------------------------------------


def _open_save_view(page, live_server, email: str = "supervisor@example.com") -> None:
    signed_in(page, live_server, email)
    page.goto(live_server.url + reverse("tickets:desk_queue") + "?status=open")
    page.locator(".save-view summary").click()


@pytest.mark.usefixtures("demo")
def test_save_view_with_a_taken_name_points_at_the_name(page, live_server):
    """Saving a view under a name already used comes back with the form open, the View name box marked
    invalid, described by the error, focused; the page has no axe findings."""
    from tests.factories import SavedViewFactory

    SavedViewFactory(
        owner=User.objects.get(email="supervisor@example.com"), name="Printers", query="q=printer"
    )
    _open_save_view(page, live_server)
    page.get_by_label("View name").fill("printers")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Save view").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    name = page.locator("#view-name")
    assert name.get_attribute("aria-invalid") == "true"
    assert any("Printers" in text or "already" in text for text in described_by_texts(page, "#view-name"))
    assert page.evaluate("document.activeElement.id") == "view-name", page.evaluate(ACTIVE)
    found = page_problems(page, "save view refused")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_save_view_refused_for_its_team_points_at_share_with(page, live_server):
    """Sharing a view with a team that was closed down while the queue was open is refused (422). The
    error is printed in a list at the top of the form, but "Share with" is neither marked invalid nor
    described by it, and nothing takes the focus (only a refused name gets autofocus and app.js looks
    for .field-invalid): a keyboard or screen-reader user is left at the top of the page, and the error
    ("Select a valid choice…") does not say which field it is about. The refused control must be marked
    invalid, point at its error and take the focus, as View name does."""
    _open_save_view(page, live_server)
    page.get_by_label("View name").fill("Support open")
    page.get_by_label("Share with").select_option(label="Support")
    Team.objects.filter(name="Support").update(is_active=False)
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Save view").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    page.locator("#save-view-form .errors").wait_for()
    team = page.locator("#view-team")
    state = {
        "aria-invalid": team.get_attribute("aria-invalid"),
        "described": described_by_texts(page, "#view-team"),
        "focused": page.evaluate(ACTIVE),
        "errors": page.locator("#save-view-form .errors").inner_text(),
    }
    assert state["aria-invalid"] == "true" and state["described"], state
    assert page.evaluate("document.activeElement.id") == "view-team", state


@pytest.mark.usefixtures("demo")
def test_bulk_tag_refused_points_at_the_tag_and_results_are_announced(page, live_server):
    """ "Add the tag below" with no tag comes back with the Tag box focused, marked invalid and described
    by the error; then a valid bulk change lands on a page whose status region names the tickets changed.
    Both pages have no axe findings."""
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_queue"))
    boxes = page.locator("input[name=tickets]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#bulk-action").select_option("add_tag")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Apply to selected").click()
    page.wait_for_load_state()
    assert sent.value.status == 422, sent.value.status
    found = page_problems(page, "bulk tag refused")
    value = page.locator("#bulk-value")
    assert value.get_attribute("aria-invalid") == "true"
    assert described_by_texts(page, "#bulk-value") and described_by_texts(page, "#bulk-value")[0]
    assert page.evaluate("document.activeElement.id") == "bulk-value", page.evaluate(ACTIVE)
    assert page.locator("input[name=tickets]:checked").count() == 2  # the choice is kept
    value.fill("vip")
    page.get_by_role("button", name="Apply to selected").click()
    page.wait_for_load_state()
    status = page.locator(".messages[role=status]")
    assert "Updated 2 tickets" in status.inner_text(), status.inner_text()
    found += page_problems(page, "bulk tag done")
    assert found == [], "\n".join(found)


# --- Workspace inline edits after an htmx swap -------------------------------------------------------


def _access_request_ticket() -> Ticket:
    from tickets.models import TicketForm

    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Need VPN", team=Team.objects.get(slug="support"))
    Ticket.objects.filter(pk=ticket.pk).update(
        form=TicketForm.objects.get(slug="access-request"),
        custom_fields={"system": "VPN", "approver_email": "boss@example.com", "temporary": False},
    )
    return ticket


@pytest.mark.usefixtures("demo")
def test_refused_custom_field_edit_focuses_the_field_and_ties_the_error(page, live_server):
    """Clearing a required custom field (Approver's e-mail) and saving the details answers 422; after
    the swap the focus is on that field (not <body>), which is marked invalid and described by its
    error; the panel has no axe findings."""
    ticket = _access_request_ticket()
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    page.evaluate("document.querySelector('form.custom-fields').noValidate = true")
    email = page.locator("#properties input[name$=approver_email]")
    ident = email.get_attribute("id")
    email.fill("")
    page.locator("#save-custom-fields").focus()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 422
    page.locator("#edit-error").wait_for()
    page.wait_for_timeout(200)
    assert page.evaluate("document.activeElement.id") == ident, page.evaluate(ACTIVE)
    email = page.locator(f"#{ident}")
    assert email.get_attribute("aria-invalid") == "true"
    assert any("required" in text.lower() for text in described_by_texts(page, f"#{ident}")), (
        described_by_texts(page, f"#{ident}")
    )
    found = page_problems(page, "custom fields refused")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_stale_custom_field_edit_points_at_its_error_like_the_other_inline_edits(page, live_server):
    """Every other inline edit refused as stale (409) marks its control with aria-describedby="edit-error"
    (workspace.html: "The refused edit's field points at its error"). The custom-field details are the
    exception: after a stale "Save details" the focus is back on that button and the message "This
    ticket changed…" is only in a freshly inserted paragraph that no field or button points at, so a
    screen-reader user on the button hears nothing about why the save did not happen."""
    ticket = _access_request_ticket()
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    Ticket.objects.filter(pk=ticket.pk).update(version=ticket.version + 5)
    page.locator("#properties input[name$=approver_email]").fill("other.boss@example.com")
    page.locator("#save-custom-fields").focus()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 409
    page.locator("#edit-error").wait_for()
    page.wait_for_timeout(200)
    focused = page.evaluate(ACTIVE)
    pointing = page.evaluate(
        """() => Array.from(document.querySelectorAll('#properties form.custom-fields [aria-describedby]'))
            .filter((e) => e.getAttribute('aria-describedby').split(/\\s+/).includes('edit-error'))
            .map((e) => e.outerHTML.slice(0, 80))"""
    )
    on_focus = (
        described_by_texts(page, ":focus") if page.evaluate("!!document.querySelector(':focus')") else []
    )
    assert pointing and any("changed" in text.lower() for text in on_focus), (
        f"focus on {focused}; described as {on_focus}; controls pointing at the error: {pointing}"
    )


@pytest.mark.usefixtures("demo")
def test_take_it_keeps_the_focus_in_the_ticket_panel_and_says_so(page, live_server):
    """ "Take it (assign to me)" disappears once the ticket is the agent's: the focus goes to the ticket
    panel (not <body>), and the kept status region says "Assigned to you."."""
    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Unassigned printer", team=Team.objects.get(slug="support"))
    signed_in(page, live_server, "agent@example.com")
    page.goto(live_server.url + reverse("tickets:desk_ticket", args=[ticket.number]))
    page.get_by_role("button", name="Take it (assign to me)").focus()
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.keyboard.press("Enter")
    page.get_by_text("Assigned to you.").wait_for(state="attached")
    page.wait_for_timeout(200)
    inside = page.evaluate("document.getElementById('properties').contains(document.activeElement)")
    assert inside, page.evaluate(ACTIVE)
    page.keyboard.press("Tab")  # and the next Tab goes on inside the panel, to the assignee
    assert page.evaluate("document.activeElement.id") == "edit-assignee", page.evaluate(ACTIVE)


# --- Audit viewer, error pages, portal attachments ---------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_audit_viewer_filtered_in_place_is_accessible_and_announced(page, live_server):
    """Choosing a category and Apply filter the audit trail in place: the focus stays on Apply, the kept
    status region says how many events match, and the page (with filters set) has no axe findings,
    named controls, one main, h1 first, readable contrast; Tab reaches the export button."""
    signed_in(page, live_server, "supervisor@example.com")
    page.goto(live_server.url + reverse("audit:event_list"))
    page.evaluate("() => { document.getElementById('events-status').dataset.kept = 'yes'; }")
    page.get_by_label("Category").select_option("security")
    apply = page.locator("#audit-filters").get_by_role("button", name="Apply")
    apply.focus()
    with page.expect_response(lambda r: "category=" in r.url):
        page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    status = page.locator("#events-status")
    assert status.get_attribute("data-kept") == "yes" and "event" in status.text_content(), (
        status.text_content()
    )
    assert page.evaluate("document.activeElement.textContent.trim()") == "Apply", page.evaluate(ACTIVE)
    found = page_problems(page, "audit filtered")
    page.goto(live_server.url + reverse("audit:event_list") + "?actor=agent&object=T-")
    found += page_problems(page, "audit loaded with filters")
    stops = tab_stops(page, 200)
    assert any("Export these events" in stop for stop in stops), stops[-5:]
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_403_and_404_pages_are_accessible_in_the_browser(page, live_server):
    """The 404 page (a signed-in agent, header and footer full) and the 403 page as Django's handler
    renders it: no axe findings, one main, an h1, contrast; the help-centre link shows a focus ring."""
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory
    from django.views.defaults import permission_denied

    signed_in(page, live_server, "agent@example.com")
    response = page.goto(live_server.url + "/desk/tickets/T-999999999/")
    assert response.status == 404
    found = page_problems(page, "404 signed in")
    found += focus_stops(page, live_server.url + "/desk/tickets/T-999999999/", 30)
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    body = permission_denied(request, PermissionDenied()).content.decode()
    url = live_server.url + "/forbidden-page/"
    page.route(url, lambda route: route.fulfill(status=403, body=body, content_type="text/html"))
    page.goto(url)
    found += page_problems(page, "403")
    assert found == [], "\n".join(found)


def _ticket_with_attachment():
    from tickets import services as ticket_services

    customer = User.objects.get(email="customer@example.com")
    ticket = make_ticket(customer, subject="Scanner error", team=Team.objects.get(slug="support"))
    ticket_services.ticket_reply(
        ticket,
        body="Here is the error screen.",
        actor=customer,
        uploads=[SimpleUploadedFile("error-log.txt", b"E42 paper jam\n" * 4, content_type="text/plain")],
    )
    return ticket


@pytest.mark.usefixtures("demo")
def test_portal_ticket_with_attachments_and_a_refused_reply_with_a_kept_file(page, live_server):
    """The portal ticket with an attachment: the file link names the file and its size, and the page has
    no axe findings. A reply sent with a file but no message comes back (htmx, 422) with the message box
    focused and described by its error, the kept file a named, ticked check box in a group with a
    legend, and still no axe findings."""
    ticket = _ticket_with_attachment()
    signed_in(page, live_server, "customer@example.com")
    page.goto(live_server.url + reverse("tickets:portal_detail", args=[ticket.number]))
    link = page.get_by_role("list", name="Attachments").get_by_role("link")
    assert "error-log.txt" in link.inner_text()
    found = page_problems(page, "portal ticket with attachment")
    page.locator("#conversation input[type=file]").set_input_files(
        {"name": "photo.txt", "mimeType": "text/plain", "buffer": b"the printer\n"}
    )
    page.locator("#reply-send").focus()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 422
    page.locator("textarea:focus").wait_for()
    ident = page.evaluate("document.activeElement.id")
    assert any(text for text in described_by_texts(page, f"#{ident}") if "required" in text.lower()), (
        described_by_texts(page, f"#{ident}")
    )
    kept = page.get_by_role("checkbox", name="photo.txt", exact=False)
    assert kept.is_checked()
    assert page.get_by_role("group").filter(has=kept).count() == 1
    found += page_problems(page, "portal reply refused with a kept file")
    assert found == [], "\n".join(found)


@pytest.mark.usefixtures("demo")
def test_focus_ring_on_every_stop_of_the_less_visited_pages(page, live_server):
    """Tabbing through the profile (two sessions), the two-factor page, the article list's review queue,
    an article with versions, the audit trail and a portal ticket with an attachment: every stop shows a
    focus ring of at least 3:1 on white (outline or box-shadow)."""
    article = _article_with_versions()
    ticket = _ticket_with_attachment()
    url = live_server.url
    signed_in(page, live_server, "customer@example.com")
    weak = focus_stops(page, url + reverse("accounts:profile"), 60)
    weak += focus_stops(page, url + reverse("tickets:portal_detail", args=[ticket.number]), 60)
    page.context.clear_cookies()
    signed_in(page, live_server, "supervisor@example.com")
    for path in (
        reverse("accounts:two_factor"),
        reverse("knowledge:manage_list") + "?status=review",
        reverse("knowledge:manage_edit", args=[article.slug]),
        reverse("audit:event_list"),
    ):
        weak += focus_stops(page, url + path, 80)
    assert weak == [], "\n".join(weak)
