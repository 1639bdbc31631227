"""The demo, as `make run` loads it (demo_load: loaddata roles demo, then demo_dates, once; --reset puts
it back): coherent threads whose last
message fits the status, dates in order and recent enough that the scheduler's first tick closes nothing,
a timeline for every ticket, and articles waiting in the review queue."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import rbac
from accounts.models import User
from audit.models import AuditEvent
from knowledge.models import Article
from tests.conftest import rows_for_the_module
from tests.helpdesk.test_fixtures import row_counts
from tickets import services
from tickets.models import Ticket, TicketActivity, TicketMessage
from tickets.selectors import queue_counts
from tickets.workflow import Status

DEMO_NUMBERS = range(901, 937)
DEMO_PASSWORD = "helpdesk-demo"  # README: every demo account's


def load_demo() -> str:
    call_command("loaddata", "roles", "demo", verbosity=0)
    out = StringIO()
    call_command("demo_dates", stdout=out)
    return out.getvalue()


def demo_tickets():
    return Ticket.objects.filter(number__in=DEMO_NUMBERS).order_by("number")


def public_thread(ticket: Ticket) -> list[TicketMessage]:
    return list(ticket.messages.filter(is_internal=False).order_by("created_at", "pk"))


@pytest.fixture(scope="class")
def loaded_demo(django_db_setup, django_db_blocker, tmp_path_factory):
    with rows_for_the_module(django_db_blocker, tmp_path_factory.mktemp("media")):
        load_demo()
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("loaded_demo")
class TestTheDemoAsLoaded:
    """What the demo holds once loaded: read by every test from one load (each test's changes roll back)."""

    def test_the_demo_has_36_tickets_with_distinct_subjects(self):
        subjects = list(demo_tickets().values_list("subject", flat=True))
        assert len(subjects) == 36 and len(set(subjects)) == 36

    def test_no_resolved_demo_ticket_is_due_for_auto_close(self):
        resolved = set(demo_tickets().filter(status=Status.RESOLVED).values_list("number", flat=True))
        assert len(resolved) == 6
        assert services.tickets_close_resolved() == 0
        out = StringIO()
        call_command("close_resolved_tickets", "--now", stdout=out)
        assert "Closed 0 " in out.getvalue()
        assert set(demo_tickets().filter(status=Status.RESOLVED).values_list("number", flat=True)) == resolved
        # ... and they are closed once they have been resolved for TICKET_AUTO_CLOSE_DAYS.
        assert services.tickets_close_resolved(now=timezone.now() + timedelta(days=8)) == 6

    def test_the_newest_demo_event_is_about_an_hour_ago_and_none_is_in_the_future(self):
        now = timezone.now()
        demo = {"ticket__number__in": DEMO_NUMBERS}
        newest = max(
            *demo_tickets().values_list("updated_at", flat=True),
            *TicketMessage.objects.filter(**demo).values_list("created_at", flat=True),
            *TicketActivity.objects.filter(**demo).values_list("created_at", flat=True),
        )
        assert now - timedelta(hours=1, minutes=5) <= newest <= now - timedelta(minutes=55)
        assert Article.objects.filter(updated_at__gt=now).count() == 0

    def test_every_thread_ends_as_its_status_says(self):
        for ticket in demo_tickets():
            thread = public_thread(ticket)
            first, last = thread[0], thread[-1]
            assert first.author_id == ticket.requester_id and not first.from_staff, ticket.number
            assert first.body == ticket.description, ticket.number
            if ticket.status == Status.NEW:
                assert ticket.messages.count() == 1, ticket.number
                assert ticket.assignee_id is None and ticket.first_response_at is None, ticket.number
            else:
                assert any(message.from_staff for message in thread), ticket.number
            if ticket.status in (Status.PENDING, Status.RESOLVED, Status.CLOSED):
                assert last.from_staff, f"T-{ticket.number} ({ticket.status}) ends with the customer"
            if ticket.status == Status.ON_HOLD:
                note = ticket.messages.order_by("created_at", "pk").last()
                assert note.is_internal and note.from_staff, ticket.number
            # Staff write as staff, customers as customers; every staff author works the ticket's team.
            for message in ticket.messages.select_related("author"):
                assert message.from_staff == (message.author_id != ticket.requester_id), ticket.number
                if message.is_internal:
                    assert message.from_staff, ticket.number

    def test_every_demo_ticket_has_its_dates_in_order(self):
        for ticket in demo_tickets():
            messages = list(ticket.messages.order_by("created_at", "pk"))
            stamps = [message.created_at for message in messages]
            assert stamps == sorted(stamps) and messages[0].created_at == ticket.created_at, ticket.number
            assert ticket.created_at <= stamps[-1] <= ticket.updated_at, ticket.number
            public = public_thread(ticket)
            staff_replies = [message.created_at for message in public if message.from_staff]
            customer = [message.created_at for message in public if not message.from_staff]
            assert ticket.first_response_at == (staff_replies[0] if staff_replies else None), ticket.number
            assert ticket.last_customer_message_at == customer[-1], ticket.number
            moments = (
                ticket.first_response_at,
                ticket.resolved_at,
                ticket.closed_at,
                ticket.assignee_seen_at,
            )
            for moment in moments:
                assert moment is None or ticket.created_at < moment <= ticket.updated_at, ticket.number
            assert (ticket.resolved_at is not None) == (ticket.status in (Status.RESOLVED, Status.CLOSED)), (
                ticket.number
            )
            assert (ticket.closed_at is not None) == (ticket.status == Status.CLOSED), ticket.number
            if ticket.closed_at:
                assert ticket.resolved_at < ticket.closed_at, ticket.number
            if ticket.resolved_at:  # the resolving answer is the last public message
                assert public[-1].created_at <= ticket.resolved_at, ticket.number
            activities = list(ticket.activities.order_by("pk"))
            assert [a.created_at for a in activities] == sorted(a.created_at for a in activities), (
                ticket.number
            )
            assert activities[0].created_at == ticket.created_at, ticket.number
            assert activities[-1].created_at == ticket.updated_at, ticket.number

    def test_the_activity_timeline_tells_the_tickets_story(self):
        for ticket in demo_tickets():
            activities = list(ticket.activities.order_by("created_at", "pk"))
            assert activities[0].action == TicketActivity.Action.CREATED, ticket.number
            statuses = [a for a in activities if a.action == TicketActivity.Action.STATUS]
            status = Status.NEW
            for change in statuses:  # a chain from New to the ticket's status
                assert change.old_value == status, ticket.number
                status = change.new_value
            assert status == ticket.status, ticket.number
            assignments = [a for a in activities if a.action == TicketActivity.Action.ASSIGNEE]
            expected = str(ticket.assignee) if ticket.assignee_id else None
            assert (assignments[-1].new_value if assignments else None) == expected, ticket.number
            # One reply or note entry per message after the first, naming its uid.
            named = [a.new_value for a in activities if a.action in ("reply", "note")]
            assert named == [str(m.uid) for m in ticket.messages.order_by("created_at", "pk")[1:]], (
                ticket.number
            )
        solved_by_agent = TicketActivity.objects.filter(
            ticket__number__in=DEMO_NUMBERS, action=TicketActivity.Action.STATUS, new_value=Status.RESOLVED
        )
        assert solved_by_agent.count() >= 6
        agent = User.objects.get(email="agent@example.com")
        assert queue_counts(agent)["solved"] > 0

    def test_the_review_queue_has_an_article_and_an_author_has_a_draft(self):
        in_review = Article.objects.get(status=Article.Status.REVIEW)
        draft = Article.objects.get(status=Article.Status.DRAFT)
        for article in (in_review, draft):
            assert article.author.email in ("agent@example.com", "agent2@example.com")
            assert article.published_at is None

    def test_the_seven_demo_accounts_exist_with_the_documented_password_and_roles(self):
        """README.md: 'sign in with any demo account; the password of every one is helpdesk-demo',
        with the roles, teams and organisations of the table."""
        emails = [
            "admin@example.com", "supervisor@example.com", "agent@example.com", "agent2@example.com",
            "customer@example.com", "customer2@example.com", "other@example.com",
        ]  # fmt: skip
        users = {user.email: user for user in User.objects.filter(email__in=emails)}
        assert sorted(users) == sorted(emails)
        # One hash for all (PBKDF2 at a high count is slow to check seven times).
        assert len({user.password for user in users.values()}) == 1
        assert users["admin@example.com"].check_password(DEMO_PASSWORD)
        assert users["admin@example.com"].is_superuser and rbac.is_administrator(users["admin@example.com"])
        supervisor = users["supervisor@example.com"]
        assert rbac.is_supervisor(supervisor)
        assert set(supervisor.team_memberships.values_list("team__slug", flat=True)) == {"support"}
        for email, team in (("agent@example.com", "support"), ("agent2@example.com", "billing")):
            agent = users[email]
            assert rbac.is_agent(agent) and not rbac.is_supervisor(agent)
            assert set(agent.team_memberships.values_list("team__slug", flat=True)) == {team}
        manager, member, other = (users[e] for e in emails[4:])
        assert manager.organization.name.startswith("Acme") and manager.is_organization_manager
        assert member.organization == manager.organization and not member.is_organization_manager
        assert other.organization.name == "Globex" and not other.is_organization_manager
        for customer in (manager, member, other):
            assert not rbac.is_staff(customer)

    def test_a_billing_question_lands_with_billing_and_a_general_request_with_support(self):
        """README.md: the Billing question goes to team Billing, a General request (the
        default form) lands in Support, the demo's default team; a follow-up stays with its team."""
        from tickets.models import TicketForm

        customer = User.objects.get(email="customer@example.com")
        client = Client()
        client.force_login(customer)
        billing = TicketForm.objects.get(slug="billing-question")
        response = client.get(reverse("tickets:portal_submit_form", args=[billing.slug]))
        assert response.status_code == 200
        ticket = services.ticket_create(
            requester=customer,
            subject="Invoice 12",
            description="Twice charged.",
            actor=customer,
            form=billing,
            custom_fields={"invoice_number": "INV-2026-0042"},
        )
        assert ticket.team.slug == "billing"
        general = services.ticket_create(
            requester=customer, subject="Printer", description="Jammed.", actor=customer
        )
        assert general.team.slug == "support"


@pytest.mark.django_db
def test_demo_dates_twice_moves_nothing_the_second_time_and_writes_no_audit_event():
    events = AuditEvent.objects.count()
    first = load_demo()
    assert first.startswith("Moved the demo's dates by")
    before = list(demo_tickets().values_list("updated_at", flat=True))
    out = StringIO()
    call_command("demo_dates", stdout=out)
    assert "nothing moved" in out.getvalue()
    assert list(demo_tickets().values_list("updated_at", flat=True)) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_the_demos_invitation_code_works_however_late_the_demo_is_loaded(time_machine):
    """The fixture's invitation expired at the end of 2027 while its tickets moved up to now: loaded in
    2029 the README's code said "This invitation has expired"."""
    from accounts.models import Invitation
    from accounts.services import invitation_check

    time_machine.move_to("2029-06-01T10:00:00Z", tick=False)
    load_demo()
    invitation = Invitation.objects.get(code="ACME-WELCOME-2026")
    assert invitation.expires_at > timezone.now()
    invitation_check(invitation, email="new.person@acme.example")


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 50_000])
def test_demo_dates_over_a_fixture_nested_past_the_parser_is_a_clear_error(tmp_path, text):
    fixture = tmp_path / "deep.json"
    fixture.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match="is not a JSON fixture"):
        call_command("demo_dates", "--fixture", str(fixture), stdout=StringIO())


@pytest.mark.django_db
def test_demo_dates_moves_only_the_demos_rows():
    call_command("loaddata", "roles", "demo", verbosity=0)
    agent = User.objects.get(email="agent@example.com")
    ticket = Ticket.objects.get(number=930)
    mine = services.ticket_add_note(ticket, body="Spare access point is in the store room.", actor=agent)
    activity = TicketActivity.objects.filter(ticket=ticket).latest("pk")
    assert activity.pk > max(TicketActivity.objects.exclude(pk=activity.pk).values_list("pk", flat=True))
    written = (mine.created_at, activity.created_at)
    call_command("demo_dates", stdout=StringIO())
    mine.refresh_from_db()
    activity.refresh_from_db()
    assert (mine.created_at, activity.created_at) == written
    # A reload puts the demo's rows back and leaves the one written since (its pk is past the demo's).
    call_command("loaddata", "roles", "demo", verbosity=0)
    assert TicketActivity.objects.filter(pk=activity.pk, action="note").exists()
    assert TicketMessage.objects.filter(pk=mine.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_loading_and_moving_the_demo_twice_gives_the_same_rows():
    call_command("flush", "--noinput", verbosity=0)
    load_demo()
    first = row_counts()
    load_demo()
    call_command("demo_dates", stdout=StringIO())
    assert row_counts() == first
    assert first["tickets.TicketActivity"] > 36 and first["tickets.TicketMessage"] > 36
    # The activity sequence is past the demo's fixed pks: new entries do not collide with them.
    ticket = Ticket.objects.get(number=921)
    agent = User.objects.get(email="agent@example.com")
    services.ticket_add_note(ticket, body="Asked again by phone.", actor=agent)
    assert row_counts()["tickets.TicketActivity"] == first["tickets.TicketActivity"] + 1


@pytest.mark.django_db
def test_a_second_make_run_keeps_the_demo_as_it_was_left():
    """`make run` again (demo_load) does not put the demo's tickets back under the replies and changes
    made since: each ticket keeps agreeing with its own history."""
    call_command("demo_load", stdout=StringIO())
    agent = User.objects.get(email="agent@example.com")
    ticket = Ticket.objects.get(number=930)
    services.ticket_reply(ticket, body="We replaced the access point.", actor=agent, status_after="resolved")
    out = StringIO()
    call_command("demo_load", stdout=out)
    assert "kept as it was left" in out.getvalue()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert public_thread(ticket)[-1].body == "We replaced the access point."


@pytest.mark.django_db
def test_demo_reset_puts_the_demos_tickets_back_and_leaves_new_tickets_alone():
    call_command("demo_load", stdout=StringIO())
    before = {t.number: (t.status, t.messages.count(), t.activities.count()) for t in demo_tickets()}
    tags_before = sorted(Ticket.objects.get(number=930).tags.values_list("name", flat=True))
    agent = User.objects.get(email="agent@example.com")
    customer = User.objects.get(email="customer@example.com")
    ticket = Ticket.objects.get(number=930)
    services.ticket_reply(ticket, body="We replaced the access point.", actor=agent, status_after="resolved")
    services.ticket_set_tags(ticket, add=["replaced"], actor=agent)
    mine = services.ticket_create(requester=customer, actor=customer, subject="Mine", description="Kept.")
    out = StringIO()
    call_command("demo_load", "--reset", stdout=out)
    assert "Removed what was added to the demo's tickets: 1 message, 0 files, 3 activity entries." in (
        out.getvalue()
    )
    after = {t.number: (t.status, t.messages.count(), t.activities.count()) for t in demo_tickets()}
    assert after == before
    assert sorted(Ticket.objects.get(number=930).tags.values_list("name", flat=True)) == tags_before
    assert Ticket.objects.get(pk=mine.pk).messages.get().body == "Kept."


@pytest.mark.django_db
def test_demo_reset_moves_a_demo_account_back_from_the_address_it_moved_to():
    """The fixture finds accounts by address: a demo account moved to another one (on its profile, or in
    the admin) goes back, rather than stay beside a second copy of itself with the demo's password."""
    from accounts import services as account_services
    from accounts.models import EmailChangeRequest
    from accounts.tokens import account_state

    call_command("demo_load", stdout=StringIO())
    users = User.objects.count()
    customer = User.objects.get(email="customer@example.com")
    change = EmailChangeRequest.objects.create(
        user=customer, new_email="carla@example.org", account_state=account_state(customer)
    )
    account_services.user_email_change(change, actor=customer, keep_session_key=None)
    out = StringIO()
    call_command("demo_load", "--reset", stdout=out)
    assert "Moved carla@example.org back to the demo's address customer@example.com." in out.getvalue()
    assert User.objects.count() == users
    assert User.objects.get(pk=customer.pk).email == "customer@example.com"


@pytest.mark.django_db
def test_demo_reset_puts_the_site_settings_back_and_says_so_in_the_audit_trail():
    """loaddata writes the fixture's rows past the services: the reset records itself, with the site
    settings it put back, or the trail would show a greeting set and never see it go."""
    from helpdesk.models import SiteConfiguration
    from helpdesk.services import site_configuration_update

    call_command("demo_load", stdout=StringIO())
    site_configuration_update(changes={"custom.greeting": "Hello", "open_signup": False}, actor=None)
    call_command("demo_load", "--reset", stdout=StringIO())
    configuration = SiteConfiguration.objects.get()
    assert configuration.custom_settings == {} and configuration.open_signup is True
    reset = AuditEvent.objects.get(action="demo_reset")
    assert reset.changes["open_signup"] == [False, True]
    assert reset.changes["custom_settings"] == [{"greeting": "Hello"}, {}]


@pytest.mark.django_db
def test_demo_reset_refuses_while_a_ticket_of_yours_is_merged_into_the_demo():
    """A ticket created since and merged into a demo ticket has its messages there, and nothing tells
    them from the demo's additions: the reset stops and says why rather than delete them."""
    from django.core.management.base import CommandError

    call_command("demo_load", stdout=StringIO())
    demo = Ticket.objects.get(number=921)
    supervisor = User.objects.get(email="supervisor@example.com")
    new = services.ticket_create(
        requester=demo.requester, actor=demo.requester, subject="Also this", description="My own words"
    )
    services.ticket_merge(new, into=demo, actor=supervisor)
    with pytest.raises(CommandError, match=rf"T-{new.number} was merged into the demo's tickets"):
        call_command("demo_load", "--reset", stdout=StringIO())
    assert TicketMessage.objects.filter(body="My own words").exists()


@pytest.mark.django_db
def test_demo_reset_refuses_while_a_demo_ticket_is_merged_into_one_of_yours():
    """A demo ticket merged into a ticket created since has its messages in that ticket's thread: the
    reset stops and says why rather than take them back out of a ticket that is not the demo's."""
    call_command("demo_load", stdout=StringIO())
    demo = Ticket.objects.get(number=921)
    mine = services.ticket_create(
        requester=demo.requester, actor=demo.requester, subject="Mine", description="My own words"
    )
    Ticket.objects.filter(pk=mine.pk).update(team=demo.team)
    services.ticket_merge(
        demo, into=Ticket.objects.get(pk=mine.pk), actor=User.objects.get(email="supervisor@example.com")
    )
    thread = set(Ticket.objects.get(pk=mine.pk).messages.values_list("pk", flat=True))
    assert len(thread) > 1
    with pytest.raises(CommandError, match=rf"T-921 into T-{mine.number}"):
        call_command("demo_load", "--reset", stdout=StringIO())
    assert set(Ticket.objects.get(pk=mine.pk).messages.values_list("pk", flat=True)) == thread


@pytest.mark.django_db
def test_demo_reset_puts_a_renamed_demo_article_back_at_its_address():
    """A demo article renamed since goes back to its address on reset, and its new address redirects to
    it: one copy, not the renamed article beside a second one loaded at the old address."""
    from knowledge import services as kb_services

    call_command("demo_load", stdout=StringIO())
    count = Article.objects.count()
    article = Article.objects.filter(status="published").order_by("pk").first()
    address = article.slug
    kb_services.article_update(article, actor=None, slug="renamed-by-me")
    call_command("demo_load", "--reset", stdout=StringIO())
    assert Article.objects.count() == count
    assert Article.objects.get(pk=article.pk).slug == address
    assert list(Article.objects.at_address("renamed-by-me").values_list("pk", flat=True)) == [article.pk]


@pytest.mark.parametrize(
    "content", ["these are not fixtures\n", '{"model": "tickets.ticket"}', "[1, 2]", "\udcff"]
)
def test_a_fixture_that_is_not_one_is_a_clear_error(tmp_path, content):
    """demo_dates (and demo_load, which reads the same keys) says in one line that the file is not a
    JSON fixture, as for a missing file, instead of a traceback; nothing moves."""
    wrong = tmp_path / "notes.txt"
    wrong.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(CommandError, match="is not a JSON fixture"):
        call_command("demo_dates", fixture=str(wrong), stdout=StringIO())


@pytest.mark.django_db
def test_demo_reset_deletes_the_files_of_the_attachments_it_removes(django_capture_on_commit_callbacks):
    """The orphan sweep looks only in the last two months' folders: a file added to a demo ticket longer
    ago than that stayed on disk for good once the reset deleted its row."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tickets.models import Attachment

    call_command("demo_load", stdout=StringIO())
    agent = User.objects.get(email="agent@example.com")
    upload = SimpleUploadedFile("notes.txt", b"Added to the demo.", content_type="text/plain")
    demo_ticket = Ticket.objects.get(number=930)
    services.ticket_add_note(demo_ticket, body="With a file.", actor=agent, uploads=[upload])
    added = Attachment.objects.get(filename="notes.txt")
    storage, name = added.file.storage, added.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_load", "--reset", stdout=StringIO())
    assert not Attachment.objects.filter(pk=added.pk).exists() and not storage.exists(name)
