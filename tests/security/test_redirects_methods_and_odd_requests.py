"""HTTP-level robustness over every route, as browsers, htmx, scanners and hostile clients send requests:
unusual methods, htmx headers, NUL bytes and invalid UTF-8 in queries and forms, duplicate and array
parameters, garbage conditional headers, wrong content types, garbage cookies and Host headers, and
redirect parameters (next=, back=, HX-Current-URL) that try to leave the site or name no page.

Every such request must answer with a clean 4xx (the site's friendly error page for a whole-page
request) or the page itself, never a 500, and must show nothing of another organisation's."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.accounts.test_two_factor import VERIFY, code_for, enrol, password_step
from tests.conftest import made_once_per_module
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tests.security import test_routes
from tests.security.test_pentest_probes import leaves_the_site
from tests.security.test_routes import ROUTES, changed_models, database_state, url_for
from tickets.models import Tag, Ticket

pytestmark = pytest.mark.django_db

# Acme's ticket in Support with a file and an internal note, and an internal draft article.
world, target = test_routes.world, test_routes.target

OUTSIDERS = {"visitor", "other_customer", "other_agent"}


def client_as(who: str, target) -> Client:
    client = Client(raise_request_exception=False)
    ticket = target["ticket"]
    user = {
        "visitor": lambda: None,
        "requester": lambda: ticket.requester,
        "other_customer": lambda: target["other_customer"],
        "team_agent": lambda: target["team_agent"],
        "other_agent": lambda: target["other_agent"],
        "supervisor": lambda: make_supervisor(ticket.team),
        "admin": lambda: make_administrator(is_superuser=True),
    }[who]()
    if user is not None:
        client.force_login(user)
    return client


# Every filter and parameter name a page reads (desk queue, portal list, KB, audit, workspace).
QUERY_KEYS = [
    "q", "page", "status", "priority", "scope", "sort", "team", "assignee", "requester", "organization",
    "tag", "channel", "created_after", "created_before", "updated_after", "solved_before", "thread",
    "queue", "previous", "next", "actor", "action", "category", "object_type", "object", "date_from",
    "date_to", "from", "view",
]  # fmt: skip
POST_KEYS = [
    "q", "body", "subject", "description", "status", "field", "value", "action", "name", "email",
    "username", "password", "helpful", "query", "tickets", "version", "code", "title", "next",
    "submission_key", "target", "team", "priority", "confirm", "into", "tags", "slug",
]  # fmt: skip


def query(value: str) -> str:
    return "?" + "&".join(f"{key}={value}" for key in QUERY_KEYS)


HTMX = {"HX-Request": "true"}
GET_PROBES = {
    "htmx": lambda c, u: c.get(u, headers=HTMX),
    "htmx with bogus target and trigger": lambda c, u: c.get(
        u,
        headers={
            **HTMX,
            "HX-Target": "no-such-id",
            "HX-Trigger": "x\"'<",
            "HX-Current-URL": "http://evil.com/",
        },
    ),
    "htmx asking for the queue fragment": lambda c, u: c.get(u, headers={**HTMX, "HX-Target": "queue-table"}),
    "htmx asking for the audit fragment": lambda c, u: c.get(u, headers={**HTMX, "HX-Target": "events"}),
    "htmx history restore": lambda c, u: c.get(u, headers={**HTMX, "HX-History-Restore-Request": "true"}),
    "NUL in every parameter": lambda c, u: c.get(u + query("a%00b")),
    "invalid UTF-8 in every parameter": lambda c, u: c.get(u + query("%ff%fe")),
    "long query": lambda c, u: c.get(u + "?q=" + "a" * 20000 + "&page=" + "9" * 500),
    "duplicate parameters": lambda c, u: c.get(
        u + "?q=a&q=b&page=1&page=2&sort=x&sort=-y&status=open&status=zz"
    ),
    "array parameters": lambda c, u: c.get(u + "?q[]=a&page[]=1&status[0]=open&q[x]=y&team[]=1"),
    "garbage conditional headers": lambda c, u: c.get(
        u,
        headers={
            **HTMX,
            "HX-Target": "queue-table",
            "If-None-Match": '\x7f, W/"',
            "If-Modified-Since": "soon",
        },
    ),
    "Accept JSON": lambda c, u: c.get(u, headers={"Accept": "application/json"}),
}
OTHER_METHODS = {
    "PUT": lambda c, u: c.put(u, "a=1", content_type="application/x-www-form-urlencoded"),
    "PATCH": lambda c, u: c.patch(u, "a=1", content_type="application/x-www-form-urlencoded"),
    "DELETE": lambda c, u: c.delete(u),
    "OPTIONS": lambda c, u: c.options(u),
    "TRACE": lambda c, u: c.generic("TRACE", u),
}
POST_PROBES = {
    "NUL in every field": lambda c, u: c.post(u, {key: "a\x00b" for key in POST_KEYS}),
    "invalid UTF-8 in a urlencoded body": lambda c, u: c.generic(
        "POST",
        u,
        b"body=%ff%fe&subject=%ff&status=%ff&field=%ff&value=%ff&action=%ff&helpful=%ff",
        content_type="application/x-www-form-urlencoded",
    ),
    "JSON body": lambda c, u: c.post(
        u, '{"body": "x", "status": "resolved"}', content_type="application/json"
    ),
    "text/plain body": lambda c, u: c.post(u, "body=x", content_type="text/plain"),
    "multipart without boundary": lambda c, u: c.generic(
        "POST",
        u,
        b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--\r\n",
        content_type="multipart/form-data",
    ),
    "multipart with a broken body": lambda c, u: c.generic(
        "POST",
        u,
        b"--x\r\nContent-Disposition: form-data\r\n",
        content_type="multipart/form-data; boundary=x",
    ),
    "arrays where scalars are expected": lambda c, u: c.post(
        u,
        {
            "body": ["a", "b"],
            "status": ["open", "closed"],
            "field": ["a", "b"],
            "value": ["1", "2"],
            "version": ["1", "x"],
            "action": ["a", "b"],
            "helpful": ["yes", "no"],
            "tickets": ["x", "1:1:1", "-1", "99999999999999999999", "1:99999999999999999999"],
        },
    ),
    "htmx POST with bogus target": lambda c, u: c.post(
        u, {"body": "x"}, headers={**HTMX, "HX-Target": "nope", "HX-Current-URL": "javascript:alert(1)"}
    ),
}


def expected_for(name: str, method: str) -> set[int]:
    """What a method the route does not take may answer: 405, or sign in first / not found / refused.
    Django's form views run PUT as POST with an empty form (422, nothing done: request.POST is empty for
    PUT), and its PasswordResetConfirmView shows the link's page from dispatch() whatever the method."""
    allowed = {302, 403, 404, 405}
    if method == "PUT":
        allowed.add(422)
    if name == "accounts:password_reset_confirm":
        allowed.add(200)
    return allowed


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def is_whole_page(response) -> bool:
    return "<html" in body_of(response)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_route_answers_hostile_requests_cleanly(target, name):
    """Every route answers htmx headers (bogus ones too), NUL bytes, invalid UTF-8, huge or duplicated
    or array parameters, garbage conditional headers, JSON/text/broken multipart bodies and methods it
    does not take with a page or a clean 4xx - never a 500. A method it does not take answers 405 with
    an Allow header and the site's error page (never the page itself), and nothing of Acme's shows to an
    outsider in any of these answers, fragments included. Asked as an administrator, whose requests
    reach every view's body, and as an agent of another team (tests/security/test_routes.py asks as
    every role; every role here took a minute and a half of the suite and found the same)."""
    url = url_for(name, target)
    failures = []
    for who in ("admin", "other_agent"):
        client = client_as(who, target)
        for probe, call in {**GET_PROBES, **OTHER_METHODS, **POST_PROBES}.items():
            response = call(client, url)
            status = response.status_code
            if status >= 500:
                failures.append((who, probe, status))
                continue
            if status == 405 and not (response.get("Allow") and is_whole_page(response)):
                failures.append((who, probe, "405 without Allow or error page"))
            if probe in OTHER_METHODS and probe != "OPTIONS" and status not in expected_for(name, probe):
                failures.append((who, probe, status))
            body = body_of(response)
            if who in OUTSIDERS and any(
                secret in body for secret in ("Acme secret", "acme secret file", "Acme internal runbook")
            ):
                failures.append((who, probe, "shows Acme's data"))
            if who == "requester" and "Acme secret note" in body:
                failures.append((who, probe, "shows the internal note to the customer"))
    assert not failures, failures


@pytest.mark.parametrize("who", ["requester", "team_agent", "admin"])
def test_head_changes_nothing_on_any_route(target, who):
    """HEAD (link checkers, mail scanners, prefetching) runs no action: after a HEAD to every route,
    with a JSON-ish query, every row of every table reads as before."""
    client = client_as(who, target)
    before = database_state()
    for name in sorted(ROUTES):
        response = client.head(url_for(name, target) + "?helpful=yes&action=assign_me&status=closed")
        assert response.status_code < 500, name
        assert changed_models(before, database_state()) == [], (who, name)


# ---------------------------------------------------------------- redirect parameters naming no page


def make_desk():
    team = TeamFactory()
    agent = make_agent(team)
    ticket = make_ticket(make_customer(), team=team, subject="Printer jam")
    return {"agent": agent, "ticket": ticket}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


@pytest.mark.parametrize("back", ["queue", "x", "a\x00b", "desk"])
@pytest.mark.parametrize("with_tickets", [False, True], ids=["nothing ticked", "a ticket ticked"])
def test_a_bulk_back_naming_no_page_is_no_server_error(client, desk, back, with_tickets):
    """The bulk form's back= is where the agent returns after the action. A value that is not an
    address (a tampered or truncated form, a stale bookmarklet: "queue", "x") is not a place on the
    site: the agent is sent to the queue, like any other unusable back=, and the tag is still added.
    (desk._safe_back accepts any relative string, then shortcuts.redirect() reverse()s a string with
    no "/" or "." as a URL name and raises NoReverseMatch: a 500.)"""
    client.force_login(desk["agent"])
    client.raise_request_exception = False
    ticket = desk["ticket"]
    data = {"action": "add_tag", "value": "vip", "back": back}
    if with_tickets:
        data["tickets"] = [f"{ticket.pk}:{ticket.version}"]
    response = client.post(reverse("tickets:desk_bulk"), data)
    assert response.status_code == 302, response.status_code
    assert response["Location"] == reverse("tickets:desk_queue")
    if with_tickets:
        assert Tag.objects.filter(name="vip", tickets=ticket).exists()


def test_a_bulk_back_naming_a_url_name_is_not_resolved_as_one(client, desk):
    """back= is an address, not a URL name: "accounts:logout" is not a way back to a page (the shortcut
    turns it into /accounts/logout/, which answers GET with 405). The agent is sent to the queue."""
    client.force_login(desk["agent"])
    response = client.post(reverse("tickets:desk_bulk"), {"action": "assign_me", "back": "accounts:logout"})
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:desk_queue")


@pytest.mark.parametrize("next_url", ["x", "a\x00b", "desk"])
def test_a_two_factor_sign_in_with_a_next_naming_no_page_is_no_server_error(next_url):
    """An agent with two-factor sign-in follows a link with ?next=<something that is no address>. The
    password step accepts it (Django's LoginView would redirect there as a relative address); after the
    right code the agent is signed in and sent somewhere on the site - never a 500 page with the session
    already signed in behind it. (accounts/views.py two_factor_verify ends with redirect(pending["next"]),
    which reverse()s a string without "/" or "." as a URL name: NoReverseMatch.)"""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client(raise_request_exception=False)
    assert password_step(client, agent, next_url=next_url).status_code == 302
    device.refresh_from_db()
    device.throttle_reset()
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302, response.status_code
    assert not leaves_the_site(response["Location"])


TWO_FACTOR_REDIRECTS = [
    "//evil.com", "https:evil.com", "/\\evil.com", "\\\\evil.com", "http://testserver@evil.com",
    "javascript:alert(1)", "%2F%2Fevil.com", "/%2F%2Fevil.com", "\t//evil.com", " //evil.com",
    "http://evil.com", "///evil.com", "/\t/evil.com",
]  # fmt: skip


@pytest.mark.parametrize("next_url", TWO_FACTOR_REDIRECTS)
def test_the_two_factor_step_never_sends_you_off_site(next_url):
    """The sign-in's next= survives the second step in the session: after the code, the agent lands on
    this site whatever the link's next= said (test_pentest_probes covers the password-only sign-in)."""
    agent = make_agent(TeamFactory())
    device, _ = enrol(Client(), agent)
    client = Client(raise_request_exception=False)
    password_step(client, agent, next_url=next_url)
    device.refresh_from_db()
    device.throttle_reset()
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302 and not leaves_the_site(response["Location"]), response["Location"]


CURRENT_URLS = [
    "http://testserver//evil.com/x",
    "http://testserver/\\evil.com",
    "http://testserver@evil.com/desk/",
    "https://evil.com/desk/",
    "javascript:alert(1)//testserver/desk/",
    "//evil.com/desk/",
    "http://testserver/desk/\r\nSet-Cookie: pwned=1",
]


@pytest.mark.parametrize("header", ["HX-Current-URL", "Referer"])
@pytest.mark.parametrize("current", CURRENT_URLS)
def test_the_way_back_after_a_session_ended_never_leads_off_site(client, desk, header, current):
    """A session that ends mid-task sends the browser to sign in and back to the page it was on, read
    from HX-Current-URL or Referer. Whatever those headers say, signing in then lands on this site, and
    no header is injected on the way."""
    client.raise_request_exception = False
    ticket = desk["ticket"]
    headers = {header: current}
    if header == "HX-Current-URL":
        headers["HX-Request"] = "true"
    response = client.post(
        reverse("tickets:desk_reply", args=[ticket.number]), {"body": "x"}, headers=headers
    )
    assert response.status_code < 500
    assert "pwned" not in response.cookies
    sign_in = response.get("HX-Redirect") or response["Location"]
    assert sign_in.startswith(reverse("accounts:login")), sign_in
    signed_in = client.post(sign_in, {"username": desk["agent"].email, "password": TEST_PASSWORD})
    assert signed_in.status_code == 302, signed_in.status_code
    assert not leaves_the_site(signed_in["Location"]), signed_in["Location"]


# ---------------------------------------------------------------- the admin


ADMIN_MODELS = sorted(f"{model._meta.app_label}_{model._meta.model_name}" for model in admin.site._registry)


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_admin_changelists_take_hostile_parameters_without_a_server_error(client, model):
    """An administrator's changelist with a NUL or invalid UTF-8 in its search, a bogus ordering or page,
    an unknown filter, a long search, or a change page for an id that is not one, answers a page or a
    clean 4xx - PostgreSQL refuses NUL in text, which must not surface as a 500."""
    client.force_login(make_administrator(is_superuser=True))
    client.raise_request_exception = False
    changelist = reverse(f"admin:{model}_changelist")
    failures = []
    for params in ["q=a%00b", "q=%ff%fe", "o=999.-x", "p=%00", "p=99999999999999999999999", "e=1",
                   "q=" + "x" * 5000, "_changelist_filters=%00", "x__gt=%00", "q=a&q=b"]:  # fmt: skip
        if (status := client.get(f"{changelist}?{params}").status_code) >= 500:
            failures.append((params[:30], status))
    for object_id in ["%00", "99999999999999999999999", "x"]:
        if (status := client.get(reverse(f"admin:{model}_change", args=[object_id])).status_code) >= 500:
            failures.append((object_id, status))
    assert not failures, failures


@pytest.mark.parametrize("model", ["tickets_tag", "accounts_team", "knowledge_article"])
def test_an_admin_action_on_ids_that_are_not_ids_is_a_clean_refusal(client, model):
    """The changelist's action form posts the ticked rows' ids. A tampered or stale form naming an id
    that is not a number ("x", "1.5") is refused with a 4xx or sent back to the list with a message -
    not a 500. (django/contrib/admin/options.py ModelAdmin.response_action filters pk__in=selected,
    and the ValueError of int("x") escapes; the project's admin classes inherit it.)"""
    client.force_login(make_administrator(is_superuser=True))
    client.raise_request_exception = False
    response = client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": "delete_selected", "_selected_action": ["x", "1.5"], "index": "0"},
    )
    assert response.status_code < 500, response.status_code


# ---------------------------------------------------------------- cookies, hosts, paths, body limits


@pytest.mark.parametrize(
    "value", ["garbage", "a" * 4000, "ünïcode", "x\x7fy", "' OR 1=1 --", ".eJxLzs8tyM9LzSsBAA:1:2"]
)
def test_a_garbage_session_cookie_is_a_signed_out_visit(settings, value):
    """A session cookie that names no session (garbage, too long, not ASCII, a forged signature) is a
    visitor with no session: public pages answer 200, the desk sends to sign in, sign-in works."""
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = value
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("tickets:desk_queue")).status_code == 302
    customer = make_customer()
    response = client.post(reverse("accounts:login"), {"username": customer.email, "password": TEST_PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("value", ["garbage", "a" * 4000, "\x7f" * 32, ""])
def test_a_garbage_csrf_cookie_gets_the_friendly_403_page(settings, value):
    """A POST whose CSRF cookie is garbage is refused with 403 and the site's CSRF page, nothing else."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies[settings.CSRF_COOKIE_NAME] = value
    response = client.post(reverse("accounts:login"), {"username": "a@example.org", "password": "x",
                                                       "csrfmiddlewaretoken": value})  # fmt: skip
    assert response.status_code == 403 and is_whole_page(response)


@pytest.mark.parametrize("host", ["evil.com", "test server", "[::1", "a" * 300, "testserver\x00"])
def test_a_forged_host_gets_the_friendly_400_page(host):
    """A Host header the site does not serve (or one that is no host at all) answers 400 with the site's
    error page, on a page and on a form."""
    client = Client(raise_request_exception=False)
    for response in (client.get(reverse("home"), HTTP_HOST=host),
                     client.post(reverse("accounts:login"), {"username": "a"}, HTTP_HOST=host)):  # fmt: skip
        assert response.status_code == 400, (host, response.status_code)
        assert is_whole_page(response)


@pytest.mark.parametrize(
    "path",
    [
        "/kb/articles/a%00b/", "/kb/a%00b/", "/kb/%ff%fe/", "/portal/tickets/%00/", "/desk/tickets/T-%00/",
        "/portal/attachments/99999999999999999999999/", "/desk/views/99999999999999999999999/delete/",
        "/portal/tickets/999999999999999999/", "/kb/" + "a" * 5000 + "/", "/" + "x/" * 2000,
        "/portal/tickets/new/%00/", "/kb/manage/a%00/publish/", "/accounts/reset/%00/%00/",
        "/accounts/verify-email/%ff/%ff/", "/admin/tickets/ticket/%00/change/", "/static/%00",
    ],
)  # fmt: skip
def test_odd_paths_get_the_friendly_404_page(target, path):
    """NUL bytes, invalid UTF-8, ids past bigint and very long paths are addresses of nothing: 404 with
    the site's page (or a redirect to sign in for a signed-out visitor; the mailed-link pages answer
    with their "this link is not valid" page), never a 500."""
    client = client_as("admin", target)
    link_page = path.startswith(("/accounts/reset/", "/accounts/verify-email/"))
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        allowed = {302, 404, 405} | ({200, 422} if link_page else set())
        assert response.status_code in allowed, (method, path[:60], response.status_code)
        if response.status_code == 404 and method == "get":
            assert is_whole_page(response), path[:60]


def test_too_many_fields_get_the_friendly_400_page(client, desk):
    """A form with more fields than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS) is refused with 400 and
    the site's error page, and does nothing."""
    client.force_login(desk["agent"])
    client.raise_request_exception = False
    data = {"tickets": [f"{desk['ticket'].pk}:{desk['ticket'].version}"] * 1500, "action": "assign_me"}
    response = client.post(reverse("tickets:desk_bulk"), data)
    assert response.status_code == 400 and is_whole_page(response)
    assert Ticket.objects.get(pk=desk["ticket"].pk).assignee is None


# ---------------------------------------------------------------- rate limits behind the proxy


def test_rotating_the_forwarded_for_header_does_not_escape_the_sign_in_limit(settings, clock):
    """Behind the proxy, the entries a client writes into X-Forwarded-For before the proxy's own are its
    to invent: a client rotating them (and sending garbage, NULs and IPv6 zone ids) is counted by the
    address the proxy appended, and is refused once the per-IP limit is reached."""
    settings.BEHIND_TLS_PROXY = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": ("3/m", "100/m")}  # (per IP, per account)
    client = Client(raise_request_exception=False)
    invented = ["1.1.1.1", "not-an-ip", "2.2.2.2\x00", "fe80::1%eth0", "3.3.3.3, 4.4.4.4"]
    codes = [
        client.post(
            reverse("accounts:login"),
            {"username": f"u{n}@example.org", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"{invented[n % len(invented)]}, 203.0.113.9",
        ).status_code
        for n in range(5)
    ]
    assert codes[:3] == [422, 422, 422] and codes[3:] == [429, 429], codes


@pytest.mark.parametrize("forwarded", ["fe80::1%eth0", "203.0.113.9\x00", "::ffff:203.0.113.9", "", ",,,"])
def test_an_odd_last_forwarded_for_entry_is_no_server_error(settings, forwarded):
    """An odd last entry (a proxy that passes an IPv6 zone id, an empty header) falls back or is stored
    cleanly: a failed and a good sign-in both answer, audited, never a 500."""
    settings.BEHIND_TLS_PROXY = True
    client = Client(raise_request_exception=False)
    customer = make_customer()
    for password, expected in (("wrong", 422), (TEST_PASSWORD, 302)):
        response = client.post(
            reverse("accounts:login"),
            {"username": customer.email, "password": password},
            HTTP_X_FORWARDED_FOR=forwarded,
        )
        assert response.status_code == expected, (password, response.status_code)
