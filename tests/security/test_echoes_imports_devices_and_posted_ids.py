"""Reflected XSS through every echoed query parameter, kb_import as a source of stored XSS, more markdown
tricks, hostile device strings, GETs that must change nothing, ids posted for what is not the sender's
(a visitor's kept files included), and redirects."""

import json
import re
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from helpdesk.markdown import render_markdown
from knowledge.models import Article, Category
from tests.conftest import made_once_per_module
from tests.factories import (
    TEST_PASSWORD,
    OrganizationFactory,
    SavedViewFactory,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services
from tickets.models import Attachment, SavedView, Ticket, TicketMessage

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'><b id=pwn>"
LIVE_MARKUP = ("<script>alert", "<img src=x", "<b id=pwn>", "\"'><")


def assert_inert(body: str, where: str) -> None:
    found = [marker for marker in LIVE_MARKUP if marker in body]
    assert not found, f"{where}: live markup {found}"


def make_desk():
    support = TeamFactory(name="Support")
    customer = make_customer(OrganizationFactory(name="Acme"))
    supervisor = make_supervisor(support)
    ticket = make_ticket(customer, team=support, subject="Printer")
    return {"support": support, "customer": customer, "supervisor": supervisor, "ticket": ticket}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


# ---------------------------------------------------------------- reflected XSS through query strings

AGENT_PAGES = [
    (
        "tickets:desk_queue",
        None,
        [
            "q",
            "status",
            "priority",
            "team",
            "assignee",
            "requester",
            "organization",
            "tag",
            "channel",
            "sort",
            "scope",
            "created_after",
            "created_before",
            "page",
        ],
    ),
    ("knowledge:manage_list", None, ["q", "status", "page"]),
    ("knowledge:manage_picker", None, ["q"]),
    ("knowledge:manage_new", None, ["category", "title"]),
    (
        "audit:event_list",
        None,
        ["actor", "action", "object_type", "object_id", "date_from", "date_to", "after", "before", "q"],
    ),
]


@pytest.mark.parametrize(("name", "args", "params"), AGENT_PAGES, ids=[p[0] for p in AGENT_PAGES])
def test_query_parameters_are_echoed_inert_on_staff_pages(client, desk, name, args, params):
    """Reflected XSS: every query parameter a staff page may echo (filters, search boxes, cursors) comes
    back as text, on the full page and on the htmx fragment."""
    client.force_login(desk["supervisor"])
    url = reverse(name, args=args)
    query = {param: PAYLOAD for param in params}
    for headers in (
        {},
        {"HX-Request": "true", "HX-Target": "queue-table"},
        {"HX-Request": "true", "HX-Target": "events"},
    ):
        response = client.get(url, query, headers=headers)
        assert response.status_code < 500, (url, response.status_code)
        assert_inert(response.content.decode(), f"{name} {headers}")


def test_workspace_echoes_the_queue_parameter_inert(client, desk):
    """Reflected XSS: ?queue= on the ticket workspace is carried into links and hidden inputs as text."""
    client.force_login(desk["supervisor"])
    url = reverse("tickets:desk_ticket", args=[desk["ticket"].number])
    for queue in (PAYLOAD, "q=" + PAYLOAD, "status=open&q=" + PAYLOAD):
        response = client.get(url, {"queue": queue, "previous": PAYLOAD, "next": PAYLOAD, "thread": PAYLOAD})
        assert response.status_code == 200
        body = response.content.decode()
        assert_inert(body, "workspace ?queue=")
        # never an attribute broken out of: every href on the page stays a path on this site
        for href in re.findall(r'href="([^"]*)"', body):
            assert not urlsplit(href.replace("&amp;", "&")).netloc, href


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("knowledge:search", ["q", "page"]),
        ("knowledge:suggest", ["subject", "q"]),
        ("knowledge:home", ["q"]),
        ("accounts:login", ["next"]),
        ("accounts:signup", ["code", "next"]),
        ("accounts:password_reset", ["email"]),
        ("home", ["q"]),
    ],
)
def test_query_parameters_are_echoed_inert_on_public_pages(client, name, params):
    """Reflected XSS: KB search, suggestions, sign-in next=, sign-up code= come back as text."""
    make_article(title="Password help", body="Reset your password here.")
    response = client.get(reverse(name), {param: PAYLOAD for param in params})
    assert response.status_code < 500
    assert_inert(response.content.decode(), name)


def test_portal_list_echoes_filters_inert(client, desk):
    """Reflected XSS: the portal's ticket list search and filters come back as text."""
    client.force_login(desk["customer"])
    response = client.get(
        reverse("tickets:portal_list"), {"q": PAYLOAD, "status": PAYLOAD, "page": PAYLOAD, "sort": PAYLOAD}
    )
    assert response.status_code < 500
    assert_inert(response.content.decode(), "portal list")


def test_not_found_page_does_not_reflect_the_path_as_markup(client):
    """Reflected XSS: a 404 for a hostile path shows nothing live."""
    client.raise_request_exception = False
    response = client.get("/kb/articles/x/%3Cscript%3Ealert(1)%3C/script%3E/")
    assert_inert(response.content.decode(), "404")
    response = client.get("/portal/tickets/new/%3Cb%20id%3Dpwn%3E/")
    assert_inert(response.content.decode(), "404 form")


# ---------------------------------------------------------------- stored XSS through kb_import


def test_kb_import_hostile_titles_categories_and_tags_are_inert_everywhere(client, tmp_path):
    """Stored XSS: article titles, excerpts, tags, bodies and category names, descriptions and icons
    brought in with `manage.py kb_import` are shown as text on every page that lists them."""
    source = tmp_path / "import.jsonl"
    records = [
        {
            "kind": "category",
            "slug": "hostile-parent",
            "name": f"Parent {PAYLOAD}",
            "description": f"Desc {PAYLOAD}",
            "icon": PAYLOAD[:20],
        },
        {
            "kind": "category",
            "slug": "hostile-child",
            "name": f"Child {PAYLOAD}",
            "parent_slug": "hostile-parent",
            "description": f"ChildDesc {PAYLOAD}",
        },
        {
            "title": f"Imported {PAYLOAD}",
            "body": f"Body {PAYLOAD}\n\n[x](javascript:alert(5))",
            "excerpt": f"Excerpt {PAYLOAD}",
            "tags": ["imported", PAYLOAD[:30]],
            "slug": "imported-hostile",
            "category_slug": "hostile-child",
            "category": f"Child {PAYLOAD}",
            "category_parent_slugs": ["hostile-parent"],
            "status": "published",
            "visibility": "public",
        },
        {
            "title": f"Named {PAYLOAD}",
            "body": "Body by name",
            "slug": "named-hostile",
            "category": f"ByName {PAYLOAD}",
            "category_parents": [f"Top {PAYLOAD}"],
            "status": "published",
        },
    ]
    source.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    call_command("kb_import", str(source), verbosity=0)
    assert Article.objects.filter(slug="imported-hostile").exists()
    assert Category.objects.filter(slug="hostile-child").exists()
    urls = [
        reverse("knowledge:home"),
        reverse("knowledge:category", args=["hostile-parent"]),
        reverse("knowledge:category", args=["hostile-child"]),
        reverse("knowledge:article", args=["imported-hostile"]),
        reverse("knowledge:article", args=["named-hostile"]),
        reverse("knowledge:search") + "?q=imported",
        reverse("knowledge:suggest") + "?subject=imported",
    ]
    urls += [
        reverse("knowledge:category", args=[c.slug])
        for c in Category.objects.exclude(slug__startswith="hostile")
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)
        assert "javascript:" not in response.content.decode(), url
    client.force_login(make_agent(TeamFactory()))
    for url in (
        reverse("knowledge:manage_list"),
        reverse("knowledge:manage_edit", args=["imported-hostile"]),
        reverse("knowledge:manage_picker") + "?q=imported",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)
    client.force_login(make_administrator())
    for url in (
        "/admin/knowledge/category/",
        "/admin/knowledge/article/",
        f"/admin/knowledge/category/{Category.objects.get(slug='hostile-child').pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)


def test_kb_import_markdown_folder_front_matter_is_inert(client, tmp_path):
    """Stored XSS: a markdown file's front matter (title, category, tags) is shown as text."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "hostile.md").write_text(
        "---\n"
        f'title: "Front {PAYLOAD.replace(chr(34), "&quot;")}"\n'
        f"category: 'Cat <img src=x onerror=alert(2)>'\n"
        'tags: [a, "<b id=pwn>"]\n'
        "---\n"
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n"
    )
    call_command("kb_import", str(folder), verbosity=0)
    article = Article.objects.get()
    for url in (
        reverse("knowledge:home"),
        reverse("knowledge:article", args=[article.slug]),
        reverse("knowledge:category", args=[article.category.slug]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)


# ---------------------------------------------------------------- markdown: more link/image/HTML tricks


@pytest.mark.parametrize(
    "source",
    [
        "[x][1]\n\n[1]: javascript:alert(1)",
        "[x](<javascript:alert(1)>)",
        "[x](javascript&#58;alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](\\javascript:alert(1))",
        "[x](javascript%3Aalert(1))",
        "![x](javascript:alert(1))",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        '![a" onerror="alert(1)](http://a.example/x.png)',
        "![x](http://a.example/x.png 'a\" onmouseover=\"alert(1)')",
        "[![x](javascript:alert(1))](http://a.example)",
        "[x](http://a.example 'x\" onclick=\"alert(1)')",
        "<svg><script>alert(1)</script></svg>",
        "<details open ontoggle=alert(1)>",
        "[x](file:///etc/passwd)",
        "[x](//evil.example)",
        "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
        "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
        '<https://a.example/"onmouseover=alert(1)>',
        '[x](https://a.example/" onmouseover="alert(1))',
    ],
)
def test_more_markdown_vectors_come_out_inert(source):
    """Stored XSS in message bodies and articles: reference links, angle-bracket and entity-encoded
    javascript: URLs, images, titles with quotes, SVG/MathML/details come out as inert HTML."""
    html = render_markdown(source)
    lowered = html.lower()
    for href in re.findall(r'href="([^"]*)"', lowered):
        assert urlsplit(href.strip()).scheme in ("", "http", "https", "mailto"), (source, href)
    assert "<script" not in lowered and "<img" not in lowered and "<svg" not in lowered, html
    assert "<details" not in lowered and "<math" not in lowered, html
    from html.parser import HTMLParser

    attributes: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes.extend(name for name, _ in attrs)

    Collect().feed(html)
    assert not [name for name in attributes if name.startswith("on")], html


def test_protocol_relative_link_in_markdown_is_not_a_link_to_another_host_without_a_scheme():
    """A link written //evil.example gets the page's scheme: it is kept as an ordinary external link
    (marked nofollow noopener noreferrer) like any http link."""
    html = render_markdown("[x](//evil.example/p)")
    assert 'rel="nofollow noopener noreferrer"' in html


# ---------------------------------------------------------------- stored XSS: devices, names, views


def test_session_device_and_ip_strings_are_inert_on_the_profile(desk):
    """Stored XSS: the user agent of a signed-in session is listed on the profile as text."""
    customer = desk["customer"]
    browser = Client(HTTP_USER_AGENT=f"Mozilla {PAYLOAD}")
    assert (
        browser.post(
            reverse("accounts:login"), {"username": customer.email, "password": TEST_PASSWORD}
        ).status_code
        == 302
    )
    other = Client(HTTP_USER_AGENT="plain")
    other.post(reverse("accounts:login"), {"username": customer.email, "password": TEST_PASSWORD})
    for client in (browser, other):
        response = client.get(reverse("accounts:profile"))
        assert response.status_code == 200
        assert_inert(response.content.decode(), "profile sessions")


def test_hostile_user_agent_is_inert_in_the_admin_and_the_audit_viewer(desk):
    """Stored XSS: a failed sign-in's user agent and typed username reach the audit trail and the admin
    as text."""
    browser = Client(HTTP_USER_AGENT=f"UA {PAYLOAD}")
    browser.post(reverse("accounts:login"), {"username": f"x{PAYLOAD}@example.org", "password": "nope"})
    admin = Client()
    admin.force_login(make_administrator())
    for url in (
        reverse("audit:event_list"),
        "/admin/audit/auditevent/",
        "/admin/accounts/usersession/",
        "/admin/axes/accessattempt/",
        "/admin/axes/accessfailurelog/",
    ):
        response = admin.get(url)
        if response.status_code in (403, 404):  # not every log has an admin page
            continue
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)


def test_saved_view_names_and_hostile_queries_are_inert_on_the_queue(client, desk):
    """Stored XSS: a saved view shared with a team, its name and its query, are shown to colleagues as
    text, and its link stays on the queue."""
    colleague = make_agent(desk["support"])
    view = SavedViewFactory(
        owner=desk["supervisor"], team=desk["support"], name=PAYLOAD[:80], query="q=" + PAYLOAD
    )
    client.force_login(colleague)
    response = client.get(reverse("tickets:desk_queue"))
    body = response.content.decode()
    assert_inert(body, "queue with a hostile shared view")
    response = client.get(reverse("tickets:desk_queue") + "?" + view.query)
    assert_inert(response.content.decode(), "queue on the hostile view")


def test_follow_up_subject_and_tags_are_inert(client, desk):
    """Stored XSS: a closed ticket's follow-up (its subject made from the old one) is shown as text."""
    ticket = make_ticket(desk["customer"], team=desk["support"], subject=f"Subj {PAYLOAD}")
    services.ticket_transition(ticket, status="resolved", actor=desk["supervisor"])
    ticket.refresh_from_db()
    services.ticket_transition(ticket, status="closed", actor=desk["supervisor"])
    client.force_login(desk["customer"])
    response = client.post(
        reverse("tickets:portal_reply", args=[ticket.number]),
        {"body": f"Again {PAYLOAD}", "submission_key": "8d7f5f0e-8f5e-4c7a-9d1e-1a2b3c4d5e6f"},
        follow=True,
    )
    assert_inert(response.content.decode(), "follow-up")
    for followup in Ticket.objects.exclude(pk__in=[ticket.pk, desk["ticket"].pk]):
        for url in (reverse("tickets:portal_detail", args=[followup.number]), reverse("tickets:portal_list")):
            assert_inert(client.get(url).content.decode(), url)
        staff = Client()
        staff.force_login(desk["supervisor"])
        assert_inert(
            staff.get(reverse("tickets:desk_ticket", args=[followup.number])).content.decode(), "desk"
        )


def test_custom_field_values_are_inert_in_the_audit_viewer_and_timeline(client, desk):
    """Stored XSS: custom field labels and values changed in the desk appear in the timeline and the
    audit viewer as text."""
    form = TicketFormFactory(
        schema=[
            {"name": "order", "label": f"Order {PAYLOAD}", "type": "text"},
            {"name": "pick", "label": f"Pick {PAYLOAD}", "type": "select", "choices": [PAYLOAD, "plain"]},
            {"name": "many", "label": f"Many {PAYLOAD}", "type": "multi_select", "choices": [PAYLOAD, "b"]},
        ]
    )
    ticket = make_ticket(
        desk["customer"],
        team=desk["support"],
        form=form,
        custom_fields={"order": "1", "pick": "plain", "many": ["b"]},
    )
    services.ticket_update_fields(
        ticket,
        changes={"custom_fields": {"order": PAYLOAD, "pick": PAYLOAD, "many": [PAYLOAD, "b"]}},
        actor=desk["supervisor"],
    )
    client.force_login(desk["supervisor"])
    for url in (reverse("tickets:desk_ticket", args=[ticket.number]), reverse("audit:event_list")):
        response = client.get(url)
        assert response.status_code == 200
        assert_inert(response.content.decode(), url)
    client.force_login(desk["customer"])
    assert_inert(
        client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode(), "portal"
    )


# ---------------------------------------------------------------- GET changes nothing (beyond routes test)


def _state():
    from tests.security.test_routes import database_state

    return database_state()


def test_reading_a_published_article_and_searching_change_nothing(client, desk):
    """No state change on GET: a published article's page, the KB home, search and suggestions read
    only (the view is counted by the page's POST)."""
    article = make_article(title="Password reset", body="Open the sign-in page.")
    clients = [Client(), Client(), Client()]
    clients[1].force_login(desk["customer"])
    clients[2].force_login(desk["supervisor"])
    before = _state()
    for client in clients:
        for url in (
            reverse("knowledge:article", args=[article.slug]),
            reverse("knowledge:article", args=[article.slug]) + "?from=ticket",
            reverse("knowledge:home"),
            reverse("knowledge:search") + "?q=password",
            reverse("knowledge:suggest") + "?subject=password+reset",
        ):
            assert client.get(url).status_code == 200, url
            client.head(url)
    after = _state()
    changed = [label for label in before if before[label] != after[label] and label != "accounts.UserSession"]
    assert changed == []


def test_opening_the_workspace_or_the_portal_page_marks_nothing_read(client, desk):
    """No state change on GET: the assignee opening a ticket with a new customer reply, and the
    customer opening a ticket with a new answer, mark nothing (the pages POST to 'seen')."""
    ticket = desk["ticket"]
    services.ticket_assign(ticket, assignee=desk["supervisor"], actor=desk["supervisor"])
    ticket.refresh_from_db()
    services.ticket_reply(ticket, body="An answer", actor=desk["supervisor"])
    ticket.refresh_from_db()
    services.ticket_reply(ticket, body="Customer again", actor=desk["customer"])
    customer = Client()
    customer.force_login(desk["customer"])
    client.force_login(desk["supervisor"])
    before = _state()
    for url in (
        reverse("tickets:desk_ticket", args=[ticket.number]),
        reverse("tickets:desk_ticket", args=[ticket.number]) + "?thread=all&queue=",
        reverse("tickets:desk_queue"),
    ):
        assert client.get(url).status_code == 200
        client.head(url)
    for url in (
        reverse("tickets:portal_detail", args=[ticket.number]),
        reverse("tickets:portal_list"),
        reverse("home"),
    ):
        assert customer.get(url).status_code == 200
        customer.head(url)
    after = _state()
    changed = [label for label in before if before[label] != after[label] and label != "accounts.UserSession"]
    assert changed == []


def test_staff_pages_with_every_filter_change_nothing(client, desk):
    """No state change on GET: the queue with filters, the audit viewer (no 'viewed' event), the
    manage pages and the two-factor page for staff."""
    make_article(title="Runbook", body="b")
    client.force_login(desk["supervisor"])
    before = _state()
    for url in (
        reverse("tickets:desk_queue") + "?status=open&q=printer&sort=-priority",
        reverse("audit:event_list") + "?q=printer",
        reverse("knowledge:manage_list"),
        reverse("knowledge:manage_new"),
        reverse("accounts:two_factor"),
        reverse("accounts:profile"),
    ):
        assert client.get(url).status_code == 200, url
        client.head(url)
    after = _state()
    changed = [label for label in before if before[label] != after[label] and label != "accounts.UserSession"]
    assert changed == []


# ---------------------------------------------------------------- IDOR through posted ids


def test_customer_cannot_reply_with_another_customers_held_file(client, desk):
    """IDOR: a held-file token is good only for whom it was held; another signed-in customer posting it
    attaches nothing."""
    from tickets.attachments import held_token, uploads_hold

    [held] = uploads_hold([SimpleUploadedFile("secret.txt", b"acme secret")], holder=desk["customer"])
    token = held_token(held)
    other = make_customer(OrganizationFactory(name="Globex"))
    other_ticket = make_ticket(other)
    client.force_login(other)
    client.post(
        reverse("tickets:portal_reply", args=[other_ticket.number]),
        {"body": "mine", "held": [token], "submission_key": "5d7f5f0e-8f5e-4c7a-9d1e-1a2b3c4d5e6f"},
    )
    assert not Attachment.objects.filter(filename="secret.txt").exists()


def test_visitor_cannot_use_another_visitors_held_file(client, desk):
    """IDOR: files held for one anonymous visitor's refused form are not attachable by another visitor
    who learns the token (both are 'no account': the token must be bound to the visitor's session)."""
    from helpdesk.services import site_configuration_update
    from tickets.attachments import held_token, uploads_hold

    site_configuration_update(changes={"anonymous_submission": True}, actor=None)
    [held] = uploads_hold([SimpleUploadedFile("visitor-a.txt", b"private to a")], holder=None)
    token = held_token(held)
    other_visitor = Client()
    other_visitor.post(
        reverse("tickets:portal_submit"),
        {
            "name": "B",
            "email": "b@example.net",
            "subject": "s",
            "description": "d",
            "held": [token],
            "submission_key": "6d7f5f0e-8f5e-4c7a-9d1e-1a2b3c4d5e6f",
        },
    )
    assert not Attachment.objects.filter(filename="visitor-a.txt").exists()


def test_moving_a_ticket_to_a_team_by_id_cannot_target_an_inactive_team(client, desk):
    """IDOR: the desk's team edit takes only a team the menu offers (active); a guessed id of an
    inactive team is refused."""
    closed = TeamFactory(name="Closed down", is_active=False)
    client.force_login(desk["supervisor"])
    ticket = desk["ticket"]
    client.post(
        reverse("tickets:desk_update", args=[ticket.number]),
        {"field": "team", "value": closed.pk, "version": ticket.version},
    )
    assert Ticket.objects.get(pk=ticket.pk).team_id == desk["support"].pk


def test_bulk_move_to_an_inactive_team_by_id_is_refused(client, desk):
    """IDOR: a bulk 'team:<id>' naming an inactive team moves nothing."""
    closed = TeamFactory(name="Closed down", is_active=False)
    client.force_login(desk["supervisor"])
    ticket = desk["ticket"]
    client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": f"team:{closed.pk}"},
    )
    assert Ticket.objects.get(pk=ticket.pk).team_id == desk["support"].pk


def test_bulk_assign_to_a_customer_by_id_is_refused(client, desk):
    """IDOR: a bulk 'assign:<id>' naming a customer (or an agent of another team) assigns nobody."""
    client.force_login(desk["supervisor"])
    ticket = desk["ticket"]
    outsider = make_agent(TeamFactory(name="Billing"))
    for pk in (desk["customer"].pk, outsider.pk):
        for action in (f"assign:{pk}", f"assignee:{pk}"):
            client.post(
                reverse("tickets:desk_bulk"),
                {"tickets": [f"{ticket.pk}:{Ticket.objects.get(pk=ticket.pk).version}"], "action": action},
            )
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_a_private_saved_view_cannot_be_deleted_by_the_owners_supervisor(client, desk):
    """IDOR: the supervisor of an agent's team cannot delete the agent's private view by its id (a view
    shared with the team is theirs to tidy away: test_desk_edge_cases)."""
    agent = make_agent(desk["support"])
    view = SavedViewFactory(owner=agent, name="Mine")
    client.force_login(desk["supervisor"])
    assert client.post(reverse("tickets:desk_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_customer_cannot_mark_solved_with_a_seen_id_from_another_ticket(client, desk):
    """IDOR: the portal's 'seen' id of another organisation's message does not reveal or change it."""
    other = make_customer(OrganizationFactory(name="Globex"))
    other_ticket = make_ticket(other, subject="Globex secret")
    secret = other_ticket.messages.first()
    client.force_login(desk["customer"])
    response = client.post(
        reverse("tickets:portal_status", args=[other_ticket.number]),
        {"status": "resolved", "seen": secret.pk},
    )
    assert response.status_code == 404
    assert Ticket.objects.get(pk=other_ticket.pk).status == other_ticket.status


def test_merging_into_a_ticket_of_another_organisation_keeps_the_files_private(client, desk):
    """IDOR: after a merge of Acme's ticket into Globex's, Globex's requester cannot download Acme's
    file (the thread moves, but each requester sees only their own messages)."""
    globex = make_customer(OrganizationFactory(name="Globex"))
    acme_ticket = make_ticket(
        desk["customer"],
        team=desk["support"],
        subject="Acme",
        uploads=[SimpleUploadedFile("acme.txt", b"acme secret file")],
    )
    globex_ticket = make_ticket(globex, team=desk["support"], subject="Globex")
    try:
        services.ticket_merge(acme_ticket, into=globex_ticket, actor=desk["supervisor"])
    except services.TicketError:
        return  # refused outright: fine
    attachment = Attachment.objects.get(filename="acme.txt")
    client.force_login(globex)
    response = client.get(reverse("tickets:attachment_download", args=[attachment.pk]))
    assert response.status_code == 404
    page = client.get(reverse("tickets:portal_detail", args=[globex_ticket.number])).content.decode()
    assert "acme.txt" not in page


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)"])
def test_bulk_close_confirmation_cancel_link_stays_on_the_site(client, desk, target):
    """Open redirect / XSS: the 'Cancel' link of the close confirmation is built from back= and must
    be a local path."""
    client.force_login(desk["supervisor"])
    ticket = desk["ticket"]
    response = client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{ticket.pk}:{ticket.version}"], "action": "status:closed", "back": target},
    )
    assert response.status_code == 200
    body = response.content.decode()
    for href in re.findall(r'href="([^"]*)"', body):
        assert not href.startswith(("//", "javascript", "https://evil", "/\\")), href


@pytest.mark.parametrize("queue", ["//evil.com", "@evil.com", "\\\\evil.com", "x\r\nLocation: //evil.com"])
def test_merge_and_reply_redirects_stay_in_the_workspace(client, desk, queue):
    """Open redirect: queue= posted with a merge or a reply only ever lands on the workspace."""
    client.force_login(desk["supervisor"])
    ticket = desk["ticket"]
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]),
        {
            "body": "hi",
            "kind": "reply",
            "version": ticket.version,
            "queue": queue,
            "submission_key": "7d7f5f0e-8f5e-4c7a-9d1e-1a2b3c4d5e6f",
        },
    )
    if response.status_code == 302:
        location = response["Location"]
        assert location.startswith("/desk/tickets/") and "\n" not in location, location


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com/", "/\\evil.com"])
def test_sign_in_when_already_signed_in_does_not_follow_a_foreign_next(client, desk, target):
    """Open redirect: a signed-in person opening the sign-in page with next= is not sent off-site."""
    client.force_login(desk["customer"])
    response = client.get(reverse("accounts:login"), {"next": target})
    if response.status_code == 302:
        assert not urlsplit(response["Location"]).netloc, response["Location"]
        assert not response["Location"].startswith(("//", "/\\")), response["Location"]


def test_kb_renamed_article_redirect_stays_on_the_site(client):
    """Open redirect: the redirect from an article's old slug keeps the query but not as a host."""
    article = make_article(title="Old name", body="b")
    from knowledge import services as kb

    kb.article_update(article, actor=None, slug="new-name")
    response = client.get(reverse("knowledge:article", args=[article.slug]) + "?next=//evil.com&x=@evil.com")
    assert response.status_code in (301, 302, 404)
    if response.status_code in (301, 302):
        assert response["Location"].startswith("/kb/articles/new-name/"), response["Location"]


# ---------------------------------------------------------------- CSRF beyond the route list


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tickets/ticket/",
        "/admin/accounts/user/add/",
        "/admin/knowledge/article/add/",
        "/admin/helpdesk/siteconfiguration/",
    ],
)
def test_admin_posts_need_a_csrf_token(url):
    """CSRF on every POST: the admin's change lists and forms refuse a post without a token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_administrator())
    before = _state()
    response = client.post(url, {"action": "delete_selected", "_selected_action": [1], "post": "yes"})
    assert response.status_code == 403
    assert _state() == before


def test_anonymous_posts_need_a_csrf_token():
    """CSRF on every POST: sign-in, sign-up, password reset and anonymous submission refuse a post
    without a token (login CSRF, submission on someone's behalf)."""
    from helpdesk.services import site_configuration_update

    site_configuration_update(changes={"anonymous_submission": True, "open_signup": True}, actor=None)
    client = Client(enforce_csrf_checks=True)
    for url, data in (
        (reverse("accounts:login"), {"username": "a@example.org", "password": "x"}),
        (
            reverse("accounts:signup"),
            {"email": "new@example.org", "name": "N", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD},
        ),
        (reverse("accounts:password_reset"), {"email": "a@example.org"}),
        (
            reverse("tickets:portal_submit"),
            {"name": "V", "email": "v@example.net", "subject": "s", "description": "d"},
        ),
        (reverse("knowledge:vote", args=[make_article().slug]), {"helpful": "yes"}),
    ):
        assert client.post(url, data).status_code == 403, url


def test_a_deleted_tickets_files_are_not_downloadable_by_its_requester(client, desk):
    """IDOR: once a ticket is deleted (out of every queue and portal), its files are not served by id."""
    ticket = make_ticket(
        desk["customer"],
        team=desk["support"],
        uploads=[SimpleUploadedFile("gone.txt", b"deleted ticket file")],
    )
    attachment = Attachment.objects.get(filename="gone.txt")
    Ticket.objects.filter(pk=ticket.pk).update(is_deleted=True)
    client.force_login(desk["customer"])
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404


def test_an_organisation_colleague_who_is_not_a_manager_reaches_nothing_by_number_or_id(client, desk):
    """IDOR: a colleague in the same organisation (not its manager) cannot read, reply to, close or
    download from another member's ticket."""
    ticket = make_ticket(
        desk["customer"],
        team=desk["support"],
        subject="Private to Jo",
        uploads=[SimpleUploadedFile("jo.txt", b"jo only")],
    )
    attachment = Attachment.objects.get(filename="jo.txt")
    colleague = make_customer(desk["customer"].organization)
    client.force_login(colleague)
    before = TicketMessage.objects.count(), Ticket.objects.get(pk=ticket.pk).status
    assert client.get(reverse("tickets:portal_detail", args=[ticket.number])).status_code == 404
    assert client.get(reverse("tickets:attachment_download", args=[attachment.pk])).status_code == 404
    client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "x"})
    client.post(reverse("tickets:portal_status", args=[ticket.number]), {"status": "resolved"})
    assert (TicketMessage.objects.count(), Ticket.objects.get(pk=ticket.pk).status) == before
    assert "Private to Jo" not in client.get(reverse("tickets:portal_list") + "?q=Private").content.decode()
