"""Accessibility of every form, checked in the HTML the test client receives (no browser): labels, unique
ids, references that point somewhere, errors tied to their fields, groups in fieldsets, named buttons,
one <main> and one <h1>, a skip link that lands, and htmx fragments that keep ids unique."""

import uuid
from collections import Counter

import pytest
from django.urls import reverse

from tests.factories import (
    TEST_PASSWORD,
    SavedViewFactory,
    TeamFactory,
    TicketFormFactory,
    article_form_data,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.html_tree import Tree
from tests.tickets.conftest import edit, reply_data, update_url, ws
from tickets.schema import schema_errors

pytestmark = pytest.mark.django_db

FIELDS = {"input", "select", "textarea"}
NOT_FIELDS = {"hidden", "submit", "button", "reset", "image"}


def in_template(node) -> bool:
    return any(a.tag in ("template", "noscript") for a in node.ancestors())


def problems(html: str, *, fragment: bool = False) -> list[str]:
    """Everything this module checks that is wrong with one page (or fragment)."""
    tree = Tree(html)
    nodes = [n for n in tree.nodes() if not in_template(n)]
    found: list[str] = []
    ids = Counter(n.attrs["id"] for n in nodes if n.attrs.get("id"))
    found += [f"duplicate id {i!r} x{c}" for i, c in ids.items() if c > 1]
    labelled = {n.attrs.get("for") for n in nodes if n.tag == "label"}
    for n in nodes:
        for attr in ("aria-describedby", "aria-labelledby", "aria-controls"):
            for ref in (n.attrs.get(attr) or "").split():
                if ref not in ids:
                    found.append(
                        f"<{n.tag} {n.attrs.get('id') or n.attrs.get('name')}> {attr}={ref!r}: no such id"
                    )
        if n.tag == "label" and n.attrs.get("for") in ids:
            target = next(m for m in nodes if m.attrs.get("id") == n.attrs["for"])
            if target.tag not in ("input", "select", "textarea", "button", "meter", "output", "progress"):
                found.append(f"<label for={n.attrs['for']!r}> points at a <{target.tag}>")
            if not n.all_text().strip():
                found.append(f"<label for={n.attrs['for']!r}> is empty")
        if n.tag == "label" and n.attrs.get("for") and n.attrs["for"] not in ids:
            found.append(f"<label for={n.attrs['for']!r}>: no such id")
        if n.tag in FIELDS and (n.attrs.get("type") or "text") not in NOT_FIELDS:
            name = n.attrs.get("id") or n.attrs.get("name")
            if not (
                (n.attrs.get("id") and n.attrs["id"] in labelled)
                or any(a.tag == "label" for a in n.ancestors())
                or (n.attrs.get("aria-label") or "").strip()
                or n.attrs.get("aria-labelledby")
            ):
                found.append(f"<{n.tag} {name}> has no label")
            if n.attrs.get("aria-invalid") == "true" and n.attrs.get("aria-describedby"):
                targets = [m for m in nodes if m.attrs.get("id") in n.attrs["aria-describedby"].split()]
                if not any(
                    "errors" in (m.attrs.get("class") or "")
                    or m.attrs.get("role") == "alert"
                    or "error" in (m.attrs.get("class") or "")
                    for m in targets
                ):
                    found.append(
                        f"<{n.tag} {name}> aria-invalid, described by no error: {n.attrs['aria-describedby']}"
                    )
            if n.attrs.get("aria-invalid") == "true" and not n.attrs.get("aria-describedby"):
                grouped = any(a.tag == "fieldset" and a.attrs.get("aria-describedby") for a in n.ancestors())
                if not grouped:
                    found.append(f"<{n.tag} {name}> aria-invalid without aria-describedby")
        if n.tag == "button" or (n.tag == "input" and n.attrs.get("type") in ("submit", "button", "reset")):
            name = (
                n.all_text().strip()
                or n.attrs.get("aria-label")
                or n.attrs.get("value")
                or n.attrs.get("aria-labelledby")
            )
            if not (name or "").strip():
                found.append(f"<button {n.attrs}> has no accessible name")
        href = n.attrs.get("href") or ""
        if n.tag == "a" and href.startswith("#") and len(href) > 1 and href[1:] not in ids:
            found.append(f"<a href={n.attrs['href']!r}>: no such id")
    described = {ref for n in nodes for ref in (n.attrs.get("aria-describedby") or "").split()}
    for n in nodes:
        is_error_list = "errors" in (n.attrs.get("class") or "").split() and n.attrs.get("role") != "alert"
        if is_error_list and (not n.attrs.get("id") or n.attrs["id"] not in described):
            found.append(f"error message {n.attrs.get('id')!r} ({n.all_text()[:60]!r}) tied to no field")
        if n.tag == "label" and any("required" in (c.attrs.get("class") or "") for c in n.walk()):
            target = next((m for m in nodes if m.attrs.get("id") == n.attrs.get("for")), None)
            if (
                target is not None
                and "required" not in target.attrs
                and target.attrs.get("aria-required") != "true"
            ):
                found.append(f"<{target.tag} {target.attrs.get('id')}> marked required in its label only")
    # radio / checkbox groups: more than one box of a name, inside a fieldset with a legend
    groups: dict = {}
    for n in nodes:
        # (a table's row boxes, each named for its row by aria-label, are no group of options)
        if (
            n.tag == "input"
            and n.attrs.get("type") in ("radio", "checkbox")
            and n.attrs.get("name")
            and not n.attrs.get("aria-label")
        ):
            form = next((a for a in n.ancestors() if a.tag == "form"), None)
            groups.setdefault((id(form), n.attrs.get("form"), n.attrs["name"]), []).append(n)
    for (_, _, name), boxes in groups.items():
        if len(boxes) > 1:
            for box in boxes:
                fieldset = next((a for a in box.ancestors() if a.tag == "fieldset"), None)
                if fieldset is None or not any(c.tag == "legend" for c in fieldset.children):
                    found.append(f"group {name!r} not in a fieldset with a legend")
                    break
    focused = [n for n in nodes if "autofocus" in n.attrs]
    if len(focused) > 1:
        found.append(
            f"{len(focused)} autofocus: {[n.attrs.get('id') or n.attrs.get('name') for n in focused]}"
        )
    if not fragment:
        mains = [n for n in nodes if n.tag == "main"]
        h1s = [n for n in nodes if n.tag == "h1"]
        if len(mains) != 1:
            found.append(f"{len(mains)} <main>")
        if len(h1s) != 1:
            found.append(f"{len(h1s)} <h1>: {[h.all_text() for h in h1s]}")
        skips = [n for n in nodes if n.tag == "a" and "skip-link" in (n.attrs.get("class") or "")]
        if not skips:
            found.append("no skip link")
    return found


def assert_clean(response, *, fragment: bool = False):
    html = response.content.decode()
    found = problems(html, fragment=fragment)
    assert not found, "\n".join(found)


def assert_errors_tied(response):
    """After a refused form: a field marked invalid or an error summary (role=alert); the fields marked
    invalid, returned (problems() checks that each points at its message)."""
    tree = Tree(response.content.decode())
    nodes = tree.nodes()
    invalid = [n for n in nodes if n.attrs.get("aria-invalid") == "true"]
    alerts = [n for n in nodes if n.attrs.get("role") == "alert"]
    assert invalid or alerts, "no field marked invalid and no error summary"
    return invalid


def ids_of(html: str) -> Counter:
    return Counter(n.attrs["id"] for n in Tree(html).nodes() if n.attrs.get("id") and not in_template(n))


HX = {"HTTP_HX_REQUEST": "true"}


def _find(root, element_id):
    return next((n for n in root.walk() if n.attrs.get("id") == element_id), None)


def _ids_under(node, *, itself=True) -> Counter:
    nodes = node.walk() if itself else (d for c in node.children for d in c.walk())
    return Counter(n.attrs["id"] for n in nodes if n.attrs.get("id") and not in_template(n))


def after_swap(
    page_html: str, fragment_html: str, *, target: str, swap: str = "outerHTML", select: str = ""
) -> Counter:
    """The ids on the page once htmx has swapped `fragment_html` into `#target` (with hx-select, only the
    selected element goes in), out-of-band elements replacing their namesakes."""
    page = Tree(page_html).root
    fragment = Tree(fragment_html).root
    ids = _ids_under(page)
    oob = [n for n in fragment.walk() if n.attrs.get("hx-swap-oob") is not None and n.attrs.get("id")]
    for n in oob:
        old = _find(page, n.attrs["id"])
        mode = (n.attrs.get("hx-swap-oob") or "true").split(":")[0]
        if old is not None:
            ids -= _ids_under(old, itself=mode in ("true", "outerHTML"))
        ids += _ids_under(n, itself=mode in ("true", "outerHTML"))
    old = _find(page, target)
    assert old is not None, f"no #{target} on the page"
    ids -= _ids_under(old, itself=swap == "outerHTML")
    main = fragment
    if select:
        main = _find(fragment, select)
        assert main is not None, f"no #{select} in the fragment"
    for n in main.walk():
        if n.attrs.get("hx-swap-oob") is not None:
            continue
        if (
            n.attrs.get("id")
            and not in_template(n)
            and not any(a.attrs.get("hx-swap-oob") is not None for a in n.ancestors())
        ):
            if swap == "innerHTML" and n is main:
                continue
            ids[n.attrs["id"]] += 1
    return +ids


def dangling_after_swap(page_html: str, fragment_html: str, **kw) -> list[str]:
    """References (label for, aria-*) in the fragment that point at no id once it has landed."""
    ids = after_swap(page_html, fragment_html, **kw)
    found = []
    for n in Tree(fragment_html).nodes():
        refs = [n.attrs.get("for")] if n.tag == "label" else []
        for attr in ("aria-describedby", "aria-labelledby", "aria-controls"):
            refs += (n.attrs.get(attr) or "").split()
        if n.tag == "a" and (n.attrs.get("href") or "").startswith("#"):
            refs.append(n.attrs["href"][1:])
        found += [
            f"<{n.tag} {n.attrs.get('id') or n.attrs.get('name')}> -> {r!r}"
            for r in refs
            if r and r not in ids
        ]
    return found


def duplicates(ids: Counter) -> dict:
    return {i: c for i, c in ids.items() if c > 1}


ALL_TYPES = [
    {"name": "t", "label": "Text", "type": "text", "required": True, "help_text": "Something"},
    {"name": "ta", "label": "Long", "type": "textarea"},
    {"name": "s", "label": "Pick", "type": "select", "choices": ["a", "b"], "required": True},
    {"name": "ms", "label": "Many", "type": "multi_select", "choices": ["a", "b"], "required": True},
    {"name": "cb", "label": "Agree", "type": "checkbox", "required": True},
    {"name": "n", "label": "Qty", "type": "number"},
    {"name": "d", "label": "When", "type": "date", "required": True},
    {"name": "e", "label": "Mail", "type": "email"},
]


def assert_lands_cleanly(page, fragment, **swap):
    page_html, fragment_html = page.content.decode(), fragment.content.decode()
    dups = duplicates(after_swap(page_html, fragment_html, **swap))
    assert not dups, f"ids repeated once the fragment landed: {dups}"
    dangling = dangling_after_swap(page_html, fragment_html, **swap)
    assert not dangling, f"references to nothing once the fragment landed: {dangling}"
    found = [p for p in problems(fragment_html, fragment=True) if "no such id" not in p]
    assert not found, "\n".join(found)


def sent(**extra):
    return {
        "subject": "Printer jam",
        "description": "Paper stuck",
        "submission_key": str(uuid.uuid4()),
        **extra,
    }


# ------------------------------------------------------------------- a stale set-up, custom field names


def test_two_factor_confirm_after_the_set_up_went_elsewhere_links_its_summary_to_fields_on_the_page(client):
    """Expected: when "Turn on two-factor sign-in" is sent (here with the boxes left empty) after the
    set-up was cancelled or finished in another tab, the page says the set-up is gone and its error
    summary links only to things on the page. Actual: the summary still lists "Code: This field is
    required" and "Your password: ..." as links to #id_code and #id_password, boxes the page no longer
    has (the set-up section is gone): a keyboard or screen-reader user follows a link that goes nowhere,
    and is told to fix fields they cannot find."""
    agent = make_agent(TeamFactory(name="Support"))
    client.force_login(agent)
    settings_url = reverse("accounts:two_factor")
    client.post(settings_url, {"action": "start"})
    client.post(settings_url, {"action": "cancel"})  # the other tab
    response = client.post(settings_url, {"action": "confirm", "code": "", "password": ""})
    assert response.status_code == 422
    assert "no longer under way" in response.content.decode()
    dangling = [p for p in problems(response.content.decode()) if p.startswith("<a href")]
    assert not dangling, dangling


CLASHING = [
    {"name": "device", "label": "Devices", "type": "multi_select", "choices": ["Phone", "Laptop"]},
    {"name": "device_1", "label": "Serial number", "type": "text"},
    {"name": "order", "label": "Order", "type": "text", "help_text": "On your invoice"},
    {"name": "order_helptext", "label": "Order note", "type": "text"},
]


def test_a_schema_naming_a_field_after_another_fields_page_ids_is_refused():
    """A multi-select "device" beside a text field "device_1" (and "order" with help text beside
    "order_helptext"): Django ids the second tick box of "device" id_cf_device_1, the very id of the
    "device_1" text box (and id_cf_order_helptext twice), on the portal form and in the workspace's
    editor. The label "Serial number" would tick "Laptop", and a screen reader would find no name for
    the serial-number box. The schema is refused, each clash named."""
    assert schema_errors(CLASHING) == [
        "Field 'device_1': the name reads as field 'device' followed by '_1', which that field's page "
        "elements use. Choose another name.",
        "Field 'order_helptext': the name reads as field 'order' followed by '_helptext', which that "
        "field's page elements use. Choose another name.",
    ]


@pytest.mark.parametrize("page", ["portal", "workspace"])
def test_field_names_that_only_begin_alike_keep_their_ids_apart(client, page):
    schema = [
        {"name": "device", "label": "Devices", "type": "multi_select", "choices": ["Phone", "Laptop"]},
        {"name": "device_serial", "label": "Serial number", "type": "text", "help_text": "On the back"},
        {"name": "device_1a", "label": "Spare", "type": "text"},
    ]
    assert schema_errors(schema) == []
    form = TicketFormFactory(schema=schema)
    if page == "portal":
        client.force_login(make_customer())
        response = client.get(reverse("tickets:portal_submit_form", args=[form.slug]))
    else:
        team = TeamFactory(name="Support")
        ticket = make_ticket(make_customer(), team=team, form=form, custom_fields={"device": ["Phone"]})
        client.force_login(make_agent(team))
        response = client.get(ws(ticket))
    assert response.status_code == 200
    assert not duplicates(ids_of(response.content.decode()))


# ------------------------------------------------------------------------------------------ every form


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("accounts:login", {"username": "", "password": ""}),
        ("accounts:signup", {"name": "", "email": "x", "password": "a"}),
        ("accounts:password_reset", {"email": "nope"}),
    ],
)
def test_signed_out_forms_clean_and_errors_tied(client, url, data):
    assert_clean(client.get(reverse(url)))
    refused = client.post(reverse(url), data)
    assert refused.status_code == 422
    assert_clean(refused)
    assert assert_errors_tied(refused)


@pytest.mark.parametrize(
    "data",
    [
        {"save_profile": "1", "name": "", "timezone": "Mars/Olympus"},
        {"change_password": "1", "old_password": "x", "new_password1": "a", "new_password2": "b"},
        {"change_email": "1", "email": "bad", "password": "x"},
    ],
)
def test_profile_three_forms_keep_ids_apart_and_tie_errors(client, data):
    client.force_login(make_customer())
    assert_clean(client.get(reverse("accounts:profile")))
    refused = client.post(reverse("accounts:profile"), data)
    assert refused.status_code == 422
    assert_clean(refused)
    assert assert_errors_tied(refused)


def test_password_reset_confirm_clean(client):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = make_customer()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    form_url = client.get(
        reverse("accounts:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    )["Location"]
    assert_clean(client.get(form_url))
    refused = client.post(form_url, {"new_password1": "a", "new_password2": "b"})
    assert refused.status_code == 422
    assert_clean(refused)


def test_two_factor_enrolment_enabled_and_replace_pages_clean(client):
    from tests.accounts.test_two_factor import enrol

    agent = make_agent(TeamFactory(name="Support"))
    settings_url = reverse("accounts:two_factor")
    client.force_login(agent)
    assert_clean(client.post(settings_url, {"action": "start"}, follow=True))
    refused = client.post(settings_url, {"action": "confirm", "code": "1", "password": "x"})
    assert refused.status_code == 422
    assert_clean(refused)
    client.post(settings_url, {"action": "cancel"})
    _, codes = enrol(client, agent)
    assert_clean(client.get(settings_url))
    assert_clean(client.post(settings_url, {"action": "codes", "code": "zz"}))
    # three forms with a code box each (set-up, current code, switch off): ids kept apart
    assert_clean(client.post(settings_url, {"action": "replace", "code": codes[0]}, follow=True))
    client.logout()
    client.post(reverse("accounts:login"), {"username": agent.email, "password": TEST_PASSWORD})
    assert_clean(client.get(reverse("accounts:two_factor_verify")))
    assert_clean(client.post(reverse("accounts:two_factor_verify"), {"code": ""}))


def test_portal_submit_every_custom_type_clean_and_errors_tied(client):
    form = TicketFormFactory(schema=ALL_TYPES)
    url = reverse("tickets:portal_submit_form", args=[form.slug])
    client.force_login(make_customer())
    assert_clean(client.get(url))
    assert_clean(client.get(reverse("tickets:portal_submit")))
    refused = client.post(url, sent(subject="", cf_n="ten", cf_e="bad", cf_d="zz"))
    assert refused.status_code == 422
    assert_clean(refused)
    invalid = {n.attrs.get("name") for n in assert_errors_tied(refused)}
    assert {"subject", "cf_t", "cf_n", "cf_e", "cf_d", "cf_s", "cf_cb"} <= invalid, invalid
    html = refused.content.decode()
    assert 'aria-describedby="id_cf_ms_error"' in html  # the tick-box group, through its fieldset


def test_anonymous_submit_clean(client):
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    refused = client.post(reverse("tickets:portal_submit"), sent(subject="", name="", email="x"))
    assert refused.status_code == 422
    assert_clean(refused)


def test_portal_reply_with_refused_file_lands_cleanly(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import PDF

    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number]))
    assert_clean(page)
    files = [
        SimpleUploadedFile("a.pdf", PDF, "application/pdf"),
        SimpleUploadedFile("b.exe", b"MZ\x90\x00" * 50),
    ]
    data = {"body": "x", "submission_key": str(uuid.uuid4()), "attachments": files}
    refused = client.post(reverse("tickets:portal_reply", args=[ticket.number]), data, **HX)
    assert refused.status_code == 422
    assert_lands_cleanly(page, refused, target="conversation")
    ok = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": "hello", "submission_key": str(uuid.uuid4())},
        **HX,
    )
    assert_lands_cleanly(page, ok, target="conversation")


@pytest.fixture
def desk_world():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    supervisor = make_supervisor(team, name="Sam Supervisor")
    customer = make_customer()
    form = TicketFormFactory(schema=ALL_TYPES)
    answers = {"t": "x", "s": "a", "ms": ["a"], "cb": True, "d": "2024-01-01"}
    ticket = make_ticket(customer, team=team, form=form, custom_fields=answers)
    other = make_ticket(customer, team=team)
    SavedViewFactory(owner=agent, name="Mine")
    return {"agent": agent, "supervisor": supervisor, "ticket": ticket, "other": other}


def test_queue_filters_views_and_bulk_clean(client, desk_world):
    client.force_login(desk_world["agent"])
    queue = reverse("tickets:desk_queue")
    page = client.get(queue)
    assert_clean(page)
    for params in ({"status": "open"}, {"created_after": "zz", "sort": "zz"}):
        fragment = client.get(queue, params, HTTP_HX_TARGET="queue-table", **HX)
        assert_lands_cleanly(page, fragment, target="queue-table", select="queue-table")
    refused = client.post(reverse("tickets:desk_view_create"), {"name": "", "query": "status=open"})
    assert refused.status_code == 422
    assert_clean(refused)
    ticket = desk_world["ticket"]
    for data in ({"action": "zzz"}, {"action": "add_tag", "value": ""}):
        refused = client.post(
            reverse("tickets:desk_bulk"), {**data, "tickets": [f"{ticket.pk}:{ticket.version}"]}
        )
        assert refused.status_code == 422
        assert_clean(refused)


@pytest.mark.parametrize(
    ("field", "value"),
    [("assignee", "999999"), ("priority", "zzz"), ("team", "999999"), ("tags", "x" * 300), ("status", "zzz"),
     ("priority", "high"), ("status", "pending"), ("take", ""), ("status", "closed")],
)  # fmt: skip
def test_workspace_inline_edits_clean_and_land_cleanly(client, desk_world, field, value):
    client.force_login(desk_world["supervisor"])
    ticket = desk_world["ticket"]
    page = client.get(ws(ticket))
    assert_clean(page)
    fragment = client.post(
        update_url(ticket), edit(field, value, ticket.version), HTTP_HX_TARGET="properties", **HX
    )
    assert fragment.status_code in (200, 422)
    assert_lands_cleanly(page, fragment, target="properties")
    full = client.post(update_url(ticket), edit(field, value, ticket.version))
    if full.status_code == 422:
        assert_clean(full)


def test_workspace_custom_fields_composer_and_merge_errors_tied(client, desk_world):
    client.force_login(desk_world["supervisor"])
    ticket = desk_world["ticket"]
    page = client.get(ws(ticket))
    bad = {"cf-t": "", "cf-n": "x", "cf-e": "bad", "cf-d": "zz"}
    fragment = client.post(update_url(ticket), edit("custom_fields", "", ticket.version, **bad), **HX)
    assert fragment.status_code == 422
    assert_lands_cleanly(page, fragment, target="properties")
    refused = client.post(update_url(ticket), edit("custom_fields", "", ticket.version, **bad))
    assert_clean(refused)
    assert {"cf-t", "cf-n", "cf-e", "cf-d"} <= {n.attrs.get("name") for n in assert_errors_tied(refused)}
    for data in (
        reply_data(ticket, body=""),
        reply_data(ticket, kind="zz", status_after="zz"),
        reply_data(ticket, version=ticket.version - 1),
    ):
        refused = client.post(reverse("tickets:desk_reply", args=[ticket.number]), data)
        assert refused.status_code == 422
        assert_clean(refused)
    refused = client.post(
        reverse("tickets:desk_merge", args=[ticket.number]), {"into": "zz", "version": ticket.version}
    )
    assert refused.status_code == 422
    assert_clean(refused)
    assert 'aria-describedby="merge-help merge-error"' in refused.content.decode()


def test_picker_fragment_lands_cleanly(client, desk_world):
    make_article(title="Reset password")
    client.force_login(desk_world["agent"])
    page = client.get(ws(desk_world["ticket"]))
    fragment = client.get(reverse("knowledge:manage_picker"), {"q": "password"}, **HX)
    assert_lands_cleanly(page, fragment, target="article-picker", swap="innerHTML")


def test_kb_search_suggest_and_vote_land_cleanly(client):
    article = make_article(title="Reset password")
    client.force_login(make_customer())
    for start in (reverse("knowledge:home"), reverse("knowledge:search") + "?q=password"):
        page = client.get(start)
        assert_clean(page)
        fragment = client.get(reverse("knowledge:search"), {"q": "reset"}, HTTP_HX_TARGET="results", **HX)
        assert_lands_cleanly(page, fragment, target="results", select="results")
    page = client.get(reverse("tickets:portal_submit"))
    fragment = client.get(reverse("knowledge:suggest"), {"subject": "password"}, **HX)
    assert_lands_cleanly(page, fragment, target="suggestions", swap="innerHTML")
    page = client.get(reverse("knowledge:article", args=[article.slug]))
    assert_clean(page)
    fragment = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "yes"}, **HX)
    assert_lands_cleanly(page, fragment, target="vote")


def test_kb_editor_clean_and_errors_tied(client):
    article = make_article()
    client.force_login(make_administrator())
    assert_clean(client.get(reverse("knowledge:manage_list")))
    assert_clean(client.get(reverse("knowledge:manage_new")))
    refused = client.post(reverse("knowledge:manage_new"), {"title": "", "body": "", "visibility": "zz"})
    assert refused.status_code == 422
    assert_clean(refused)
    refused = client.post(
        reverse("knowledge:manage_edit", args=[article.slug]),
        article_form_data(article, title="", category="99999"),
    )
    assert refused.status_code == 422
    assert_clean(refused)
    assert assert_errors_tied(refused)


def test_audit_filters_clean_and_land_cleanly(client):
    team = TeamFactory(name="Support")
    client.force_login(make_supervisor(team))
    url = reverse("audit:event_list")
    page = client.get(url)
    assert_clean(page)
    refused = client.get(url, {"date_from": "zz", "date_to": "yy"})
    assert refused.status_code == 422
    assert_clean(refused)
    assert assert_errors_tied(refused)
    for params in ({"category": "security"}, {"date_from": "zz"}):
        fragment = client.get(url, params, HTTP_HX_TARGET="events", **HX)
        assert_lands_cleanly(page, fragment, target="events", select="events")


def test_confirmation_pages_clean(client, desk_world):
    client.force_login(desk_world["supervisor"])
    ticket, other = desk_world["ticket"], desk_world["other"]
    assert_clean(
        client.post(
            reverse("tickets:desk_merge", args=[ticket.number]),
            {"into": other.reference, "version": ticket.version},
        )
    )
    assert_clean(
        client.post(
            reverse("tickets:desk_bulk"),
            {"action": "status:closed", "tickets": [f"{ticket.pk}:{ticket.version}"]},
        )
    )
