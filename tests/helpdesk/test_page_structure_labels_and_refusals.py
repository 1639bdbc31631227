"""Accessibility of the server-rendered pages, read from their HTML (no browser).

Each page is rendered for the person who reaches it (visitor, customer, agent, administrator), including
the pages of form errors (422), and the refusals (403, 404). The checks are the structural ones a screen
reader user depends on: landmarks, a page title that says where one is, one h1, labelled form controls,
unique ids, named buttons, described errors, grouped radios and checkboxes, table headers.
"""

import uuid
from collections import Counter

import pytest
from django.urls import reverse

from helpdesk.services import site_configuration_update
from knowledge import services as knowledge_services
from tests.conftest import made_once_per_module
from tests.factories import (
    TEST_PASSWORD,
    CategoryFactory,
    TagFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.html_tree import Node, Tree

pytestmark = pytest.mark.django_db

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


def parse(response_or_html) -> Tree:
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    return Tree(html)


def named(node: Node, ids: dict) -> bool:
    if node.attrs.get("aria-label", "").strip():
        return True
    labelledby = node.attrs.get("aria-labelledby", "").split()
    return bool(labelledby and all(i in ids for i in labelledby))


def problems(response, *, full_page: bool = True) -> list[str]:
    """Every structural accessibility problem of the page."""
    tree = parse(response)
    found = []
    ids = Counter(node.attrs["id"] for node in tree.all() if "id" in node.attrs)
    by_id = {node.attrs["id"]: node for node in tree.all() if "id" in node.attrs}
    found += [f"duplicate id {i!r} ({n}x)" for i, n in ids.items() if n > 1]
    if full_page:
        html = tree.all("html")
        if not html or not html[0].attrs.get("lang"):
            found.append("no <html lang>")
        mains = [n for n in tree.all() if n.tag == "main" or n.attrs.get("role") == "main"]
        if len(mains) != 1:
            found.append(f"{len(mains)} <main> landmarks")
        if not tree.all("nav", "header"):
            found.append("no <nav>/<header> landmark")
        titles = tree.all("title")
        if not titles or not titles[0].all_text():
            found.append("empty <title>")
        h1s = tree.all("h1")
        if len(h1s) != 1:
            found.append(f"{len(h1s)} <h1>: {[h.all_text() for h in h1s]}")
    labels_for = {node.attrs.get("for") for node in tree.all("label")}
    for control in tree.all("input", "select", "textarea"):
        kind = control.attrs.get("type", "text").lower() if control.tag == "input" else control.tag
        if kind in UNLABELLED_TYPES:
            continue
        if control.attrs.get("id") and control.attrs["id"] in labels_for:
            continue
        if any(a.tag == "label" for a in control.ancestors()):
            continue
        if named(control, ids):
            continue
        found.append(f"unlabelled control {control!r}")
        # aria-labelledby/aria-describedby pointing at missing ids
    for node in tree.all():
        for attr in ("aria-labelledby", "aria-describedby", "aria-controls", "for"):
            if attr == "for" and node.tag != "label":
                continue
            for target in node.attrs.get(attr, "").split():
                if target not in by_id:
                    found.append(f"{attr}={target!r} names no element: {node!r}")
    for button in tree.all("button"):
        if not (button.all_text() or named(button, ids) or button.attrs.get("title")):
            found.append(f"button without a name {button!r}")
    for control in tree.all("input"):
        if control.attrs.get("type") in {"submit", "button", "reset"} and not (
            control.attrs.get("value") or named(control, ids)
        ):
            found.append(f"input button without a name {control!r}")
    for link in tree.all("a"):
        if "href" in link.attrs and not (link.all_text() or named(link, ids) or link.attrs.get("title")):
            found.append(f"link without a name {link!r}")
    for image in tree.all("img"):
        if "alt" not in image.attrs:
            found.append(f"image without alt {image!r}")
    # Radio buttons and checkbox groups (several boxes of one name) inside a fieldset with a legend.
    boxes = [c for c in tree.all("input") if c.attrs.get("type") in {"radio", "checkbox"}]
    names = Counter((c.attrs.get("type"), c.attrs.get("name")) for c in boxes)
    for control in boxes:
        name = control.attrs.get("name")
        grouped = name and (control.attrs.get("type") == "radio" or names[("checkbox", name)] > 1)
        if not grouped:
            continue
        group = next(
            (
                a
                for a in control.ancestors()
                if a.tag == "fieldset" or a.attrs.get("role") in {"group", "radiogroup"}
            ),
            None,
        )
        if group is None and any(a.tag == "table" for a in control.ancestors()):
            continue  # a row's own checkbox (select this row), labelled by itself
        if group is None:
            found.append(f"{control.attrs.get('type')} group {control.attrs.get('name')!r} not in a fieldset")
        elif (
            group.tag == "fieldset"
            and not any(c.tag == "legend" for c in group.children)
            and not named(group, ids)
        ):
            found.append(f"fieldset of {control.attrs.get('name')!r} has no legend")
    for table in tree.all("table"):
        if not any(n.tag == "th" for n in table.descendants()):
            found.append(f"table without <th> {table!r}")
    # In-page links (error summaries, skip links) lead somewhere.
    for link in tree.all("a"):
        href = link.attrs.get("href", "")
        if href.startswith("#") and len(href) > 1 and href[1:] not in by_id:
            found.append(f"in-page link to missing id {href!r}")
    # Landmarks of one kind are told apart by their names.
    for kind in ("nav", "aside", "form[role=search]"):
        marks = [
            n
            for n in tree.all("nav" if kind == "nav" else "aside" if kind == "aside" else "form")
            if kind != "form[role=search]" or n.attrs.get("role") == "search"
        ]
        if len(marks) > 1:
            labels = Counter(
                n.attrs.get("aria-label")
                or " ".join(
                    by_id[i].all_text() for i in n.attrs.get("aria-labelledby", "").split() if i in by_id
                )
                for n in marks
            )
            found += [f"{n} <{kind}> landmarks named {label!r}" for label, n in labels.items() if n > 1]
    # Heading levels do not skip.
    level = 0
    for heading in tree.all("h1", "h2", "h3", "h4", "h5", "h6"):
        new = int(heading.tag[1])
        if level and new > level + 1:
            found.append(f"heading skips from h{level} to h{new}: {heading.all_text()[:40]!r}")
        level = new
    # Invalid fields: aria-invalid and described by their error.
    for control in tree.all("input", "select", "textarea"):
        if control.attrs.get("aria-invalid") == "true":
            described = control.attrs.get("aria-describedby", "").split()
            described += [
                t
                for a in control.ancestors()
                if a.tag == "fieldset"
                for t in a.attrs.get("aria-describedby", "").split()
            ]
            if not any(target.endswith("_error") or "error" in target for target in described):
                found.append(f"invalid field not described by its error {control!r}")
    return sorted(set(found))


def title_of(response) -> str:
    titles = parse(response).all("title")
    return titles[0].all_text() if titles else ""


def error_state(response) -> list[str]:
    """On a page of form errors: a summary, and every field with an error marked and described."""
    tree = parse(response)
    found = []
    if not [
        n
        for n in tree.all()
        if "form-errors" in n.attrs.get("class", "").split() or n.attrs.get("role") == "alert"
    ]:
        found.append("no error summary")
    for error in [n for n in tree.all("ul") if "errors" in n.attrs.get("class", "").split()]:
        error_id = error.attrs.get("id")
        described = [
            c
            for c in tree.all("input", "select", "textarea", "fieldset")
            if error_id and error_id in c.attrs.get("aria-describedby", "").split()
        ]
        if not described:
            found.append(f"error list {error_id!r} ({error.all_text()[:60]}) is tied to no field")
        for control in described:
            if control.tag != "fieldset" and control.attrs.get("aria-invalid") != "true":
                found.append(f"field with error not aria-invalid {control!r}")
    return found


# ---------------------------------------------------------------- world


ALL_TYPES_SCHEMA = [
    {
        "name": "order_number",
        "label": "Order number",
        "type": "text",
        "required": True,
        "help_text": "On the receipt",
    },
    {"name": "details", "label": "More details", "type": "textarea"},
    {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Pro"], "required": True},
    {"name": "modules", "label": "Modules", "type": "multi_select", "choices": ["Mail", "Chat", "Phone"]},
    {"name": "urgent", "label": "Urgent", "type": "checkbox"},
    {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2, "required": True},
    {"name": "when", "label": "When did it start", "type": "date", "required": True},
    {"name": "contact", "label": "Contact address", "type": "email", "required": True},
]


def make_world():
    team = TeamFactory(name="Support")
    agent = make_agent(team, name="Alex Agent")
    supervisor = make_supervisor(team, name="Sam Supervisor")
    administrator = make_administrator(name="Ada Admin", is_superuser=True)
    customer = make_customer(name="Carla Customer")
    ticket_form = TicketFormFactory(slug="all-types", title="Every kind of field", schema=ALL_TYPES_SCHEMA)
    ticket = make_ticket(
        customer,
        team=team,
        subject="Printer on fire",
        form=ticket_form,
        custom_fields={
            "order_number": "A1",
            "product": "Pro",
            "amount": "3.5",
            "when": "2024-01-02",
            "contact": "c@example.org",
            "modules": ["Mail"],
        },
    )
    ticket.tags.add(TagFactory(name="hardware"))
    category = CategoryFactory(name="Printers")
    article = make_article(title="Fixing printers", body="Turn it off and on.", category=category)
    draft = knowledge_services.article_create(
        title="Draft on scanners", body="Not yet.", status="review", actor=agent
    )
    return {
        "team": team,
        "agent": agent,
        "supervisor": supervisor,
        "administrator": administrator,
        "customer": customer,
        "form": ticket_form,
        "ticket": ticket,
        "article": article,
        "category": category,
        "draft": draft,
    }


_world_rows, world = made_once_per_module(make_world, "world")


def as_user(client, user):
    client.force_login(user)
    return client


def assert_clean(pages: dict) -> None:
    found = []
    for name, response in pages.items():
        full = "<html" in response.content.decode()[:300].lower()
        found += [f"{name}: {problem}" for problem in problems(response, full_page=full)]
        if response.status_code == 422:
            found += [f"{name}: {problem}" for problem in error_state(response)]
    assert found == [], "\n".join(found)


def assert_status(pages: dict, expected: dict) -> None:
    assert {name: r.status_code for name, r in pages.items()} == expected


# --- Refusals said on the page, titles that differ -------------------------------------------------


def test_two_factor_refusal_from_a_stale_page_is_shown(client, world):
    """An agent has the two-factor page open in two tabs, switches two-factor off in one, then in the other
    (still showing "Two-factor sign-in is on") asks for new recovery codes with a code from the app. The
    service refuses ("Two-factor sign-in is not on.") and the view answers 422 — but the template shows the
    code form and its error summary only inside `{% if enabled %}`, so the page that comes back carries no
    error at all: no summary, no alert, no text saying why nothing happened. A screen-reader user hears a
    page that looks like a fresh start, not that their action was refused. Any refusal on a 422 must be
    said on the page (templates/accounts/two_factor.html: `form`/`disable_form` errors are rendered only
    in the enabled branch; accounts/views.py two_factor_settings renders them anyway)."""
    from accounts import two_factor
    from tests.accounts.test_two_factor import code_for, enrol

    agent = world["agent"]
    device, _ = enrol(client, agent)
    # Switched off in the other tab.
    two_factor.two_factor_disable(
        agent, actor=agent, site_requires=False, token=code_for(device, steps_ahead=1), password=TEST_PASSWORD
    )
    assert not two_factor.is_enabled(agent)

    stale = client.post(reverse("accounts:two_factor"), {"action": "codes", "code": "123456"})

    assert stale.status_code == 422
    assert error_state(stale) == []
    assert two_factor.NOT_ON in stale.content.decode()


def test_audit_viewer_refused_filter_has_an_error_summary(client, world):
    """An administrator filters the audit trail with a date the browser let through (no date picker, or
    a typo in a bookmarked URL: ?date_from=2024-02-30). The page answers 422 and marks the field, yet
    its list reads "N events, newest first" — the whole, unfiltered trail — with nothing at the top of
    the page saying the filter was not applied. The desk queue says exactly that in a role=alert box
    ("Some filters were not applied…"), and the htmx path of this same page fills #events-status with
    "The filter was not applied: correct the fields marked."; the plain page load (no JavaScript, a
    bookmark, a reload) gets neither, so a screen-reader user reads the list as the filtered result.
    Expected: on a 422 an error summary (role=alert) saying the filter was not applied
    (templates/audit/event_list.html: the message only exists under `request.htmx`)."""
    as_user(client, world["administrator"])
    refused = client.get("/audit/?date_from=2024-02-30")
    assert refused.status_code == 422
    assert error_state(refused) == []
    assert "not applied" in refused.content.decode()


def test_two_factor_verify_and_settings_pages_have_distinct_titles(client, world):
    """The sign-in step that asks for the code (/accounts/login/verify/) and the settings page where
    two-factor is set up or switched off (/accounts/two-factor/) are different pages with different
    purposes, but both are titled "Two-factor sign-in · Helpdesk" (and both h1s read the same). The
    title is the first thing a screen reader announces and what the tab and history show (WCAG 2.4.2):
    a person coming back to the tab cannot tell "I must enter a code to finish signing in" from "my
    security settings". Expected, e.g. "Enter your code" vs "Two-factor settings"
    (templates/accounts/two_factor_verify.html and templates/accounts/two_factor.html, block title)."""
    from tests.accounts.test_two_factor import enrol

    agent = world["agent"]
    enrol(client, agent)
    settings_title = title_of(client.get(reverse("accounts:two_factor")))
    client.logout()
    client.post(
        reverse("accounts:login"), {"username": agent.email, "password": "correct-horse-battery-staple"}
    )
    verify = client.get(reverse("accounts:two_factor_verify"))
    assert verify.status_code == 200
    assert title_of(verify) != settings_title


# --- Every page, as the person who reaches it ------------------------------------------------------


def test_anonymous_pages(client, world):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    w = world
    urls = {
        "login": reverse("accounts:login"),
        "signup": reverse("accounts:signup"),
        "reset": reverse("accounts:password_reset"),
        "home": reverse("home"),
        "kb": reverse("knowledge:home"),
        "article": reverse("knowledge:article", args=[w["article"].slug]),
        "search": reverse("knowledge:search") + "?q=printer",
        "category": reverse("knowledge:category", args=[w["category"].slug]),
        "submit": reverse("tickets:portal_submit"),
        "form": reverse("tickets:portal_submit_form", args=["all-types"]),
    }
    pages = {name: client.get(url) for name, url in urls.items()}
    assert_status(pages, dict.fromkeys(urls, 200))
    assert_clean(pages)
    titles = [title_of(r) for r in pages.values()]
    assert len(set(titles)) == len(titles), titles
    form = parse(pages["form"])
    kinds = {c.attrs.get("name"): c.attrs.get("type", c.tag) for c in form.all("input", "select", "textarea")}
    assert {kinds["cf_amount"], kinds["cf_when"], kinds["cf_contact"], kinds["cf_modules"]} == {
        "number",
        "date",
        "email",
        "checkbox",
    }


def test_anonymous_form_errors(client, world):
    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    schema = [*ALL_TYPES_SCHEMA[:3], dict(ALL_TYPES_SCHEMA[3], required=True), *ALL_TYPES_SCHEMA[4:]]
    TicketFormFactory(slug="strict", title="Strict form", schema=schema)
    bad = {
        "cf_amount": "abc",
        "cf_when": "notadate",
        "cf_contact": "bad",
        "cf_product": "Nope",
        "subject": "S",
        "description": "D",
        "email": "v@example.org",
        "name": "Vi",
    }
    pages = {
        "strict": client.post(
            reverse("tickets:portal_submit_form", args=["strict"]),
            {"submission_key": str(uuid.uuid4()), **bad},
        ),
        "general": client.post(
            reverse("tickets:portal_submit"),
            {"submission_key": str(uuid.uuid4()), "email": "bad", "name": ""},
        ),
        "login": client.post(reverse("accounts:login"), {"username": "x@example.org", "password": "bad"}),
        "signup": client.post(reverse("accounts:signup"), {}),
        "reset": client.post(reverse("accounts:password_reset"), {"email": "nope"}),
    }
    assert_status(pages, dict.fromkeys(pages, 422))
    assert_clean(pages)
    strict = parse(pages["strict"])
    invalid = {
        c.attrs["name"] for c in strict.all("input", "select") if c.attrs.get("aria-invalid") == "true"
    }
    assert {"cf_amount", "cf_when", "cf_contact", "cf_product", "cf_modules"} <= invalid


def test_customer_pages(client, world):
    w, t = world, world["ticket"]
    as_user(client, w["customer"])
    pages = {
        "list": client.get(reverse("tickets:portal_list") + "?status=all&q=printer"),
        "detail": client.get(reverse("tickets:portal_detail", args=[t.number])),
        "profile": client.get(reverse("accounts:profile")),
        "reply 422": client.post(reverse("tickets:portal_reply", args=[t.number]), {"body": ""}),
        "desk 404": client.get("/desk/"),
    }
    assert_status(pages, {"list": 200, "detail": 200, "profile": 200, "reply 422": 422, "desk 404": 404})
    assert_clean(pages)


def test_agent_pages(client, world):
    w, t = world, world["ticket"]
    as_user(client, w["agent"])
    up = reverse("tickets:desk_update", args=[t.number])
    pages = {
        "queue": client.get("/desk/"),
        "workspace": client.get(reverse("tickets:desk_ticket", args=[t.number])),
        "manage": client.get(reverse("knowledge:manage_list") + "?status=review"),
        "new article": client.get(reverse("knowledge:manage_new")),
        "edit article": client.get(reverse("knowledge:manage_edit", args=[w["draft"].slug])),
        "2fa": client.get(reverse("accounts:two_factor")),
        "custom 422": client.post(
            up,
            {
                "field": "custom_fields",
                "cf-amount": "abc",
                "cf-when": "x",
                "cf-contact": "bad",
                "cf-order_number": "",
                "cf-product": "Pro",
                "version": t.version,
            },
        ),
        "reply 422": client.post(
            reverse("tickets:desk_reply", args=[t.number]),
            {"kind": "reply", "body": "", "version": t.version, "submission_key": str(uuid.uuid4())},
        ),
        "bulk 422": client.post(
            reverse("tickets:desk_bulk"),
            {"tickets": [t.pk], "action": "add_tag", "value": "x" * 300, "back": "/desk/"},
        ),
        "article 422": client.post(reverse("knowledge:manage_new"), {"title": "", "body": ""}),
        "missing 404": client.get("/desk/tickets/T-99999/"),
    }
    assert_status(
        pages,
        {
            **dict.fromkeys(pages, 200),
            "custom 422": 422,
            "reply 422": 422,
            "bulk 422": 422,
            "article 422": 422,
            "missing 404": 404,
        },
    )
    assert_clean(pages)


def test_administrator_and_refusal_pages(client, world):
    from django.test import Client

    as_user(client, world["administrator"])
    pages = {
        "audit": client.get("/audit/"),
        "csrf 403": Client(enforce_csrf_checks=True).post(
            reverse("accounts:login"), {"username": "a", "password": "b"}
        ),
    }
    assert_status(pages, {"audit": 200, "csrf 403": 403})
    assert_clean(pages)
    admin = client.get("/admin/")
    assert admin.status_code == 200 and parse(admin).all("html")[0].attrs.get("lang")
