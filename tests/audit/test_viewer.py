"""The audit viewer (/audit/) and its CSV export: who sees which events, filters, paging, budget."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

import audit
from accounts import roles
from accounts import services as account_services
from audit.export import safe_cell
from audit.models import AuditEvent
from tests.conftest import made_once_per_module
from tests.factories import (
    OrganizationFactory,
    TeamFactory,
    make_administrator,
    make_agent,
    make_customer,
    make_supervisor,
    make_ticket,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

LIST = reverse("audit:event_list")
EXPORT = reverse("audit:event_export")


def make_desk():
    """Support and Billing teams, each with an agent and a ticket whose priority was changed."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    support_agent, billing_agent = make_agent(support), make_agent(billing)
    acme = make_customer(OrganizationFactory(name="Acme"))
    support_ticket = make_ticket(acme, team=support, subject="Support printer")
    billing_ticket = make_ticket(acme, team=billing, subject="Billing invoice")
    ticket_services.ticket_update_fields(support_ticket, changes={"priority": "urgent"}, actor=support_agent)
    ticket_services.ticket_update_fields(billing_ticket, changes={"priority": "high"}, actor=billing_agent)
    return {"support": support, "billing": billing, "support_agent": support_agent, "customer": acme,
            "support_ticket": support_ticket, "billing_ticket": billing_ticket}  # fmt: skip


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def body(response) -> str:
    return response.content.decode()


def about(obj) -> dict:
    """The filter for events about `obj`: its type and id, as a row of another table can have its id."""
    return {"object_type": ContentType.objects.get_for_model(obj), "object_id": str(obj.pk)}


def test_administrators_see_every_event_with_before_and_after(client, desk):
    client.force_login(make_administrator())
    response = client.get(LIST)
    assert response.status_code == 200
    assert "Support printer" in body(response) and "Billing invoice" in body(response)
    assert '<span class="before">medium</span>' in body(response)
    assert '<span class="after">urgent</span>' in body(response)


def test_structured_changes_read_as_words_not_python(client, desk):
    source = make_ticket(desk["customer"], team=desk["support"], subject="Printer again")
    into = ticket_services.ticket_merge(source, into=desk["support_ticket"], actor=None)
    client.force_login(make_administrator())
    page = body(client.get(LIST))
    assert f'<span class="after">ticket: {source.reference}; messages: 1</span>' in page
    assert into.reference in page and "{&#x27;" not in page and "[&#x27;" not in page


def test_supervisors_see_their_teams_ticket_events_and_not_another_teams(client, desk):
    supervisor = make_supervisor(desk["support"])
    client.force_login(supervisor)
    response = client.get(LIST)
    assert response.status_code == 200
    assert "Support printer" in body(response)
    assert "Billing invoice" not in body(response)
    visible = AuditEvent.objects.visible_to(supervisor)
    assert visible.filter(**about(desk["support_ticket"]), action="ticket.priority").exists()
    assert not visible.filter(**about(desk["billing_ticket"])).exists()


def test_supervisors_see_events_by_and_about_their_team_members_only(desk):
    supervisor = make_supervisor(desk["support"])
    outsider = make_agent(desk["billing"])
    member_event = audit.record("update", actor=desk["support_agent"], obj=desk["support_agent"])
    outsider_event = audit.record("update", actor=outsider, obj=outsider)
    visible = AuditEvent.objects.visible_to(supervisor)
    assert visible.filter(pk=member_event.pk).exists()
    assert not visible.filter(pk=outsider_event.pk).exists()


def test_agents_and_customers_get_404_and_visitors_are_sent_to_sign_in(client, desk):
    assert client.get(LIST).status_code == 302
    assert reverse("accounts:login") in client.get(LIST)["Location"]
    for user in (desk["support_agent"], desk["customer"]):
        client.force_login(user)
        assert client.get(LIST).status_code == 404
        assert client.post(EXPORT).status_code == 404
    assert AuditEvent.objects.visible_to(desk["support_agent"]).count() == 0


def test_the_nav_links_to_the_trail_for_supervisors_only(client, desk):
    client.force_login(desk["support_agent"])
    assert LIST not in body(client.get(reverse("tickets:desk_queue")))
    client.force_login(make_supervisor(desk["support"]))
    assert f'href="{LIST}"' in body(client.get(reverse("tickets:desk_queue")))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "ticket.priority"}, {"Support printer", "Billing invoice"}),
        ({"object": "Billing"}, {"Billing invoice"}),
        ({"category": "security"}, set()),
    ],
)
def test_filters_narrow_the_list(client, desk, params, expected):
    client.force_login(make_administrator())
    response = client.get(LIST, params)
    assert response.status_code == 200
    shown = {subject for subject in ("Support printer", "Billing invoice") if subject in body(response)}
    assert shown == expected


def test_actor_object_type_and_date_filters(desk):
    from audit.selectors import event_page

    admin = make_administrator()
    agent = desk["support_agent"]
    by_email = event_page(admin, {"actor": agent.email.upper()}).events
    assert by_email and {event.actor_id for event in by_email} == {agent.pk}
    assert {event.actor_id for event in event_page(admin, {"actor": str(agent.pk)}).events} == {agent.pk}
    ticket_type = AuditEvent.objects.get(action="ticket.priority", actor=agent).object_type_id
    typed = event_page(admin, {"object_type": str(ticket_type)}).events
    assert typed and {event.object_type_id for event in typed} == {ticket_type}
    today = timezone.localdate().isoformat()  # the day in the time zone the filter uses
    assert event_page(admin, {"date_from": today, "date_to": today}).count == AuditEvent.objects.count()
    assert event_page(admin, {"date_to": "2000-01-01"}).count == 0


def test_a_filter_by_htmx_says_how_many_events_it_found_in_the_pages_status_region(client, desk):
    client.force_login(make_administrator())
    page = body(client.get(LIST))
    assert '<p id="events-status" class="visually-hidden" role="status"></p>' in page
    fragment = body(client.get(LIST, {"action": "ticket.priority"}, headers={"HX-Request": "true"}))
    assert '<p id="events-status" hx-swap-oob="innerHTML">2 events.</p>' in fragment


def test_the_object_type_filter_offers_the_kinds_the_trail_holds(client, desk):
    client.force_login(make_administrator())
    page = body(client.get(LIST))
    start = page.index('name="object_type"')
    select = page[start : page.index("</select>", start)]
    assert ">Ticket</option>" in select  # the desk's priority changes
    assert "Password history" not in select and "Tickets | ticket" not in select
    recorded = set(AuditEvent.objects.exclude(object_type=None).values_list("object_type__model", flat=True))
    assert select.count("<option value=") - 1 == len(recorded)  # besides "Any type"


def test_a_supervisor_is_offered_only_the_kinds_of_object_they_may_read_events_about(client, desk):
    """An organisation's and the site configuration's events are the administrators' alone: a
    supervisor's object type filter does not offer those kinds (their events would never show)."""
    audit.record("update", actor=None, obj=desk["customer"].organization)

    def offered(user) -> str:
        client.force_login(user)
        page = body(client.get(LIST))
        start = page.index('name="object_type"')
        return page[start : page.index("</select>", start)]

    assert ">Organisation</option>" in offered(make_administrator())
    supervisor = offered(make_supervisor(desk["support"]))
    assert ">Ticket</option>" in supervisor and ">Organisation</option>" not in supervisor


@pytest.mark.parametrize(
    "params",
    [
        {"action": "no-such-action"},
        {"date_from": "yesterday"},
        {"date_to": "9999-12-31", "date_from": "0001-01-01"},
        {"object_type": "999999"},
        {"category": "'; DROP TABLE audit_auditevent; --"},
        {"order_by": "password", "sequence__gt": "0", "before": "abc", "after": "-1"},
        {"actor": "x" * 500},
    ],
)
def test_bogus_filter_input_never_errors(client, desk, params):
    client.force_login(make_administrator())
    response = client.get(LIST, params)
    assert response.status_code in (200, 422)
    assert "Support printer" in body(response) or response.status_code == 422


def test_an_invalid_filter_answers_422_with_the_form_refilled(client, desk):
    client.force_login(make_administrator())
    response = client.get(LIST, {"date_from": "yesterday", "object": "Billing"})
    assert response.status_code == 422
    assert 'value="Billing"' in body(response) and "Enter a valid date" in body(response)


def test_user_text_is_escaped(client, desk):
    audit.record("update", actor=None, object_repr="<script>alert(1)</script>",
                 changes={"subject": ("<b>old</b>", "<img src=x onerror=alert(1)>")})  # fmt: skip
    client.force_login(make_administrator())
    page = body(client.get(LIST))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;b&gt;old&lt;/b&gt;" in page


def test_pages_go_older_and_newer_by_sequence(client, desk):
    for number in range(60):
        audit.record("update", actor=None, object_repr=f"thing {number}")
    client.force_login(make_administrator())
    first = client.get(LIST, {"action": "update"})
    assert first.context["page"].count == 60
    events = first.context["page"].events
    assert len(events) == 50 and events[0].object_repr == "thing 59"
    older = client.get(LIST, {"action": "update", "before": first.context["page"].older_than})
    shown = [event.object_repr for event in older.context["page"].events]
    assert shown == [f"thing {number}" for number in range(9, -1, -1)]
    assert older.context["page"].older_than is None
    newer = client.get(LIST, {"action": "update", "after": older.context["page"].newer_than})
    assert [event.sequence for event in newer.context["page"].events] == [event.sequence for event in events]


def test_a_stale_link_past_either_end_says_so_and_links_back_to_the_events(client, desk):
    """A bookmarked older page whose events retention removed, or a newer page past the newest, is
    empty: it says the list changed (not that nothing matches) and links the way the events lie."""
    for number in range(5):
        audit.record("update", actor=None, object_repr=f"thing {number}")
    client.force_login(make_administrator())
    updates = AuditEvent.objects.filter(action="update").order_by("sequence")
    oldest, newest = updates.first().sequence, updates.last().sequence

    past_oldest = client.get(LIST, {"action": "update", "before": oldest})
    assert past_oldest.context["page"].events == [] and "No events this far" in body(past_oldest)
    assert "No events match" not in body(past_oldest)
    newer = re.search(r'href="([^"]+)" rel="prev">Newer', body(past_oldest)).group(1).replace("&amp;", "&")
    assert [event.object_repr for event in client.get(newer).context["page"].events] == [
        f"thing {number}" for number in range(4, -1, -1)
    ]

    past_newest = client.get(LIST, {"action": "update", "after": newest + 100})
    assert past_newest.context["page"].events == [] and "No events this far" in body(past_newest)
    older = re.search(r'href="([^"]+)" rel="next">Older', body(past_newest)).group(1).replace("&amp;", "&")
    assert len(client.get(older).context["page"].events) == 5

    nothing = client.get(LIST, {"actor": "nobody-by-this-name", "before": oldest})
    assert "No events match" in body(nothing) and 'rel="prev"' not in body(nothing)


def test_the_list_costs_the_same_queries_for_5_or_80_events(client, desk, django_assert_max_num_queries):
    client.force_login(make_administrator())
    client.get(LIST)  # warm the content-type cache
    with django_assert_max_num_queries(8):
        client.get(LIST)
    for _ in range(80):
        audit.record("update", actor=desk["support_agent"], obj=desk["support_ticket"], changes={"n": (0, 1)})
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert len(response.context["page"].events) == 50
    client.force_login(make_supervisor(desk["support"]))
    with django_assert_max_num_queries(11):
        response = client.get(LIST)
    assert len(response.context["page"].events) == 50


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_export_streams_the_filtered_selection_and_is_recorded(client, desk):
    admin = make_administrator()
    client.force_login(admin)
    response = client.post(EXPORT, {"action": "ticket.priority", "bogus": "ignored"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    rows = read_csv(response)
    assert rows[0][:5] == ["sequence", "time", "actor", "actor id", "action"]
    assert [row[4] for row in rows[1:]] == ["ticket.priority", "ticket.priority"]
    export = AuditEvent.objects.get(action="export")
    assert (export.actor, export.category) == (admin, "security")
    assert export.changes == {"filter": [None, {"action": "ticket.priority"}], "rows": [None, 2]}


def test_export_of_a_supervisor_holds_only_what_they_may_see(client, desk):
    client.force_login(make_supervisor(desk["support"]))
    rows = read_csv(client.post(EXPORT))
    text = "\n".join(",".join(row) for row in rows)
    assert "Support printer" in text and "Billing invoice" not in text


def test_export_neutralises_spreadsheet_formulas(client, desk):
    audit.record("update", actor=None, object_repr='=HYPERLINK("http://evil.example","click")',
                 changes={"subject": ("+1", "@SUM(A1)")})  # fmt: skip
    client.force_login(make_administrator())
    rows = read_csv(client.post(EXPORT, {"action": "update"}))
    assert rows[1][8] == '\'=HYPERLINK("http://evil.example","click")'
    assert [safe_cell(value) for value in ("-2", "\tx", "\rx", "plain", None, 5)] == [
        "'-2", "'\tx", "'\rx", "plain", "", "5",
    ]  # fmt: skip


def test_export_quotes_every_cell_and_neutralises_a_formula_after_a_separator(client, desk):
    """A spreadsheet whose list separator is ";" (German, French, Dutch Excel) splits an unquoted cell
    at one: "Refund;=1+2" would put a formula in a cell of its own. Every cell is quoted, and a formula
    start right after a separator is neutralised too, for readers that ignore the quotes."""
    audit.record("update", actor=None, object_repr="Refund;=1+2+cmd|' /C calc'!A0;", changes={"a": (1, 2)})
    client.force_login(make_administrator())
    response = client.post(EXPORT, {"action": "update"})
    text = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    assert all(line.startswith('"') and line.endswith('"') for line in text.splitlines())
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for cell in row), row
    assert [safe_cell(value) for value in ("a;=b", "a,+b", "a\t-b", "a|@b", "a\n=b", "a; =b", "a;b")] == [
        "a;'=b", "a,'+b", "a\t'-b", "a|'@b", "a\n'=b", "a; =b", "a;b",
    ]  # fmt: skip


def test_export_needs_a_post_and_a_valid_filter(client, desk):
    client.force_login(make_administrator())
    assert client.get(EXPORT).status_code == 405
    response = client.post(EXPORT, {"date_from": "soon"})
    assert response.status_code == 422 and "Enter a valid date" in body(response)
    assert not AuditEvent.objects.filter(action="export").exists()


def test_supervisors_do_not_see_what_their_members_did_to_other_teams_data(desk):
    supervisor = make_supervisor(desk["support"])
    member = desk["support_agent"]
    note = ticket_services.ticket_add_note(desk["billing_ticket"], body="Billing secret", actor=None)
    audit.record("update", actor=member, obj=note, changes={"body": ("Billing secret", "edited")})
    audit.record("update", actor=member, obj=desk["customer"], changes={"name": ("Acme person", "x")})
    visible = AuditEvent.objects.visible_to(supervisor)
    assert not visible.filter(changes__icontains="Billing secret").exists()
    assert not visible.filter(**about(note), action="update").exists()
    assert not visible.filter(**about(desk["customer"]), actor=member).exists()
    assert visible.filter(action="ticket.priority", actor=member).exists()  # their own team's ticket


def test_a_supervisor_reads_nothing_of_a_ticket_they_only_requested_from_another_team(client, desk):
    supervisor = make_supervisor(desk["support"])
    request = make_ticket(supervisor, team=desk["billing"], subject="My own billing question")
    ticket_services.ticket_set_tags(request, names=["fraud-suspect"], actor=make_agent(desk["billing"]))
    client.force_login(supervisor)
    assert "fraud-suspect" not in body(client.get(LIST, {"object": request.number}))
    exported = read_csv(client.post(EXPORT))
    assert "fraud-suspect" not in str(exported) and "Support printer" in str(exported)
    assert "urgent" in body(client.get(LIST))  # their own team's ticket still shows


@pytest.mark.parametrize("superuser", [False, True])
def test_an_administrator_in_the_team_is_above_its_supervisors_view(desk, superuser):
    """An export's filter can name a customer of any team, and two-factor events are the
    administrator's own: a supervisor of a team the administrator also works in sees neither."""
    from accounts.models import TeamMember

    supervisor = make_supervisor(desk["support"])
    admin = make_administrator(is_superuser=superuser)
    TeamMember.objects.create(team=desk["support"], user=admin)
    export = audit.record("export", actor=admin, changes={"filter": (None, {"object": "Globex CEO"})})
    two_factor = audit.record("two_factor_disabled", actor=admin, obj=admin, category="security")
    member_event = audit.record("update", actor=desk["support_agent"], obj=desk["support_agent"])
    visible = AuditEvent.objects.visible_to(supervisor)
    assert not visible.filter(pk__in=[export.pk, two_factor.pk]).exists()
    assert visible.filter(pk=member_event.pk).exists()


def test_an_export_larger_than_one_file_holds_is_refused_with_the_filters_kept(client, monkeypatch):
    """A selection of more than EXPORT_MAX_ROWS events is refused (422, the list with the filters as
    chosen and what to do), not cut short into a file that would pass for the whole selection; nothing
    is exported and no export is recorded. Narrowed below the limit, it goes out whole."""
    monkeypatch.setattr(audit.export, "EXPORT_MAX_ROWS", 3)
    for number in range(6):
        audit.record("update", actor=None, object_repr=f"Thing {number}")
    client.force_login(make_administrator())

    refused = client.post(EXPORT, {"action": "update"})
    assert refused.status_code == 422
    page = refused.content.decode()
    assert "These filters select more than 3 events" in page and "nothing was exported" in page
    assert "An export holds at most 3 events." in page
    assert 'name="action" value="update"' in page
    assert not AuditEvent.objects.filter(action="export").exists()

    AuditEvent.objects.filter(object_repr__in=["Thing 0", "Thing 1", "Thing 2"]).update(action="create")
    response = client.post(EXPORT, {"action": "update"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))[1:]
    assert sorted(row[8] for row in rows) == ["Thing 3", "Thing 4", "Thing 5"]


def test_exports_are_rate_limited_per_account(client, settings, clock):
    """An export streams up to 200,000 events for seconds: one account exporting in a loop gets the
    friendly 429 after ten in an hour."""
    settings.RATE_LIMITS_ENABLED = True
    audit.record("update", actor=None, object_repr="Something")
    client.force_login(make_administrator())
    statuses = []
    for _ in range(11):
        response = client.post(EXPORT, {})
        statuses.append(response.status_code)
        if response.status_code == 200:
            b"".join(response.streaming_content)
    assert statuses == [200] * 10 + [429]


def test_a_supervisors_action_choices_are_probed_once_then_kept_a_few_minutes(client, desk):
    """Which actions a supervisor may read an event of is a probe per action, dear over a million
    events when none is theirs: kept five minutes for them, their teams and the trail's kinds of
    action, so paging and filtering do not repeat it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    supervisor = make_supervisor(desk["support"])
    client.force_login(supervisor)
    with CaptureQueriesContext(connection) as first:
        assert 'value="ticket.priority"' in body(client.get(LIST))
    with CaptureQueriesContext(connection) as again:
        client.get(LIST + "?category=business")
    assert len(again) < len(first)
    probes = [
        query
        for query in again
        if "UNION ALL" in query["sql"]
        and '"audit_auditevent"."action"' in query["sql"]
        and "COUNT(*)" not in query["sql"]  # the count adds up the parts of the trail they may read
    ]
    assert not probes

    # A kind of action new to the trail is another question, asked at once.
    audit.record("ticket.renamed", actor=supervisor, obj=desk["support_ticket"])
    assert 'value="ticket.renamed"' in body(client.get(LIST))


def test_a_refused_export_pages_along_the_same_filtered_list(client, monkeypatch):
    """The refused export comes back as the list (422, filters kept), whose "Older" link leads to the
    list's next page with the same filters, not to a GET of the export address."""
    admin = make_administrator()
    for _ in range(60):
        audit.record("review.probe", actor=admin)
    monkeypatch.setattr(audit.export, "EXPORT_MAX_ROWS", 10)
    client.force_login(admin)
    refused = client.post(EXPORT, {"action": "review.probe"})
    assert refused.status_code == 422
    older = re.search(r'href="([^"]*)" rel="next"', body(refused)).group(1).replace("&amp;", "&")
    assert older.startswith(LIST + "?")
    followed = client.get(older)
    assert followed.status_code == 200
    assert 'value="review.probe" selected' in body(followed)


def test_a_supervisor_filters_by_an_action_that_became_theirs_after_the_choices_were_kept(client):
    """An event of an action already in the trail (another team's) recorded about their team's ticket:
    it shows in their list and filtering by it works at once, the kept choices notwithstanding."""
    support, billing = TeamFactory(name="Field support"), TeamFactory(name="Field billing")
    customer = make_customer(OrganizationFactory())
    support_ticket = make_ticket(customer, team=support, subject="Support printer")
    audit.record(
        "ticket.escalate", actor=None, obj=make_ticket(customer, team=billing, subject="Billing invoice")
    )
    client.force_login(make_supervisor(support))
    assert 'value="ticket.escalate"' not in body(client.get(LIST))

    audit.record("ticket.escalate", actor=None, obj=support_ticket)
    response = client.get(LIST, {"action": "ticket.escalate"})
    assert response.status_code == 200
    assert 'value="ticket.escalate" selected' in body(response)


def test_the_actor_filter_finds_accounts_by_address_or_name_then_their_events_along_an_index(desk):
    """Part of an address or a name finds the accounts, whose events are read by actor id (an index),
    not by scanning every event's stored text; the stored text is searched only when no account
    matches ("System", or an address changed since)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.selectors import event_page

    admin = make_administrator()
    agent = desk["support_agent"]
    agent.name = "Quentin Quayle"
    agent.save()
    with CaptureQueriesContext(connection) as queries:
        found = event_page(admin, {"actor": "quentin qua"}).events
    assert found and {event.actor_id for event in found} == {agent.pk}
    assert not [query for query in queries if '"audit_auditevent"."actor_repr"::text) LIKE' in query["sql"]]

    audit.record("update", actor=None, object_repr="Nightly clean-up")
    by_system = event_page(admin, {"actor": "syste"}).events
    assert "Nightly clean-up" in {event.object_repr for event in by_system}
    assert {event.actor_id for event in by_system} == {None}


def test_the_object_filter_finds_a_ticket_by_its_reference_along_an_index(desk):
    """ "T-1042" is that ticket (its events through the object index), not every event whose stored name
    holds the text (T-10420 too); an unknown reference finds nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.selectors import event_page

    admin = make_administrator()
    ticket = desk["support_ticket"]
    with CaptureQueriesContext(connection) as queries:
        found = event_page(admin, {"object": ticket.reference}).events
    assert found and {(event.object_type.model, event.object_id) for event in found} == {
        ("ticket", str(ticket.pk))
    }
    assert not [query for query in queries if '"audit_auditevent"."object_repr"::text) LIKE' in query["sql"]]
    assert event_page(admin, {"object": "T-999999"}).events == []


def test_a_roles_expiry_and_a_memberships_start_read_in_the_readers_time_zone(client):
    """Recorded on the user and on the team, a role's expiry and a membership's start are times like the
    object's own (a suspension's end): shown in the reader's zone, not as the recorded UTC text."""
    reader = make_administrator(timezone="Europe/Berlin")
    expiry = datetime(2030, 1, 15, 12, tzinfo=UTC)
    account_services.role_assign(make_customer(), roles.AGENT, expires_at=expiry, actor=None)
    joined = {"joined_at": (None, "2030-02-01T08:30:00Z")}
    audit.record("update", actor=None, obj=TeamFactory(), changes=joined)
    client.force_login(reader)
    page = body(client.get(LIST))
    assert "2030-01-15T12:00:00Z" not in page and "15 Jan 2030, 13:00" in page
    assert "2030-02-01T08:30:00Z" not in page and "1 Feb 2030, 09:30" in page
