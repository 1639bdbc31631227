"""The promises README.md and SECURITY.md make, each checked against the running code (views
through the test client, services, settings, management commands)."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.management import call_command
from django.test import Client, TestCase
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import rbac, roles
from accounts import services as account_services
from accounts.models import EmailChangeRequest, SealedTOTPDevice, User, UserSession
from audit.models import AuditEvent
from helpdesk.services import site_configuration_update
from tests.factories import (
    TEST_PASSWORD,
    TeamFactory,
    TicketFormFactory,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
)
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
PROFILE = reverse("accounts:profile")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
CHANGE_LINK = re.compile(r"http://testserver(/accounts/change-email/\S+/)")
DEMO_PASSWORD = "helpdesk-demo"
NEW_PASSWORD = "a-fresh-passphrase-93"


def sign_in(client: Client, email: str, password: str = TEST_PASSWORD) -> int:
    return client.post(LOGIN, {"username": email, "password": password}).status_code


def signed_in(user: User, agent: str = FIREFOX, ip: str = "127.0.0.1") -> Client:
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    assert sign_in(client, user.email) == 302
    return client


def is_signed_in(client: Client) -> bool:
    return client.get(PROFILE).status_code == 200


def reset_link(user: User) -> str:
    user.refresh_from_db()  # the token is made over last_login, which signing in changed
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("accounts:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])


def reset_password(client: Client, user: User, password: str = NEW_PASSWORD):
    page = client.get(reset_link(user), follow=True)
    assert page.status_code == 200
    return client.post(page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


# --- README.md: make demo-reset puts the demo's accounts back ------------------------------------


def test_demo_reset_puts_a_demo_account_back_as_it_was():
    """README.md: '`make demo-reset` puts the demo back as it was (its tickets, articles and
    accounts, ...)'; README.md: every demo account signs in with helpdesk-demo. A tester who
    turned two-factor on for admin@example.com and gave customer@example.com the Agent role expects the
    reset to give back the demo's admin (password only) and a plain customer."""
    call_command("demo_load", stdout=StringIO())
    admin = User.objects.get(email="admin@example.com")
    customer = User.objects.get(email="customer@example.com")
    SealedTOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    account_services.role_assign(customer, roles.AGENT, actor=admin)
    rbac.forget(customer)
    assert rbac.is_agent(customer)

    call_command("demo_load", "--reset", stdout=StringIO())

    admin = User.objects.get(email="admin@example.com")
    customer = User.objects.get(email="customer@example.com")
    problems = []
    if SealedTOTPDevice.objects.filter(user=admin, confirmed=True).exists():
        problems.append("admin@example.com still asks for a two-factor code")
    rbac.forget(customer)
    if rbac.is_agent(customer):
        problems.append(f"customer@example.com still has the roles {sorted(rbac.active_roles(customer))}")
    assert not problems, problems


# --- SECURITY.md, README.md: sign-in lockouts ---------------------------------------------


def test_five_failures_lock_an_account_for_fifteen_minutes_in_any_case(clock):
    """SECURITY.md: after 5 failed sign-ins for one account, sign-in is refused for 15 minutes;
    the address is counted in lower case."""
    user = make_customer(email="jo@example.org")
    client = Client(REMOTE_ADDR="198.51.100.7")
    spellings = ["jo@example.org", "JO@example.org", "Jo@Example.org", "jo@EXAMPLE.ORG", " jo@example.org "]
    codes = [sign_in(client, spelling, "wrong-guess") for spelling in spellings]
    assert codes == [422, 422, 422, 422, 429]  # the fifth failure locks
    locked = sign_in(Client(REMOTE_ADDR="192.0.2.44"), user.email)  # the right password, elsewhere
    assert locked == 429
    clock.shift(timedelta(minutes=14))
    assert sign_in(Client(REMOTE_ADDR="192.0.2.44"), user.email) == 429
    clock.shift(timedelta(minutes=2))
    assert sign_in(Client(REMOTE_ADDR="192.0.2.44"), user.email) == 302


def test_twenty_failures_from_one_address_lock_it_out_and_nineteen_do_not():
    """SECURITY.md: 20 failures from one IP address (spread over accounts, 4 each, so no account
    reaches its 5) lock that address out; 19 do not, and a colleague's own sign-in does not lift it."""
    victims = [make_customer(email=f"v{n}@example.org") for n in range(5)]
    colleague = make_customer(email="colleague@example.org")
    office = "203.0.113.50"
    attempts = [victim.email for victim in victims for _ in range(4)]
    for email in attempts[:19]:
        assert sign_in(Client(REMOTE_ADDR=office), email, "guess") == 422
    fresh = Client(REMOTE_ADDR=office)
    assert sign_in(fresh, colleague.email) == 302  # 19: the office still works
    assert sign_in(Client(REMOTE_ADDR=office), attempts[19], "guess") in (422, 429)
    assert sign_in(Client(REMOTE_ADDR=office), make_customer(email="late@example.org").email) == 429
    assert sign_in(Client(REMOTE_ADDR="192.0.2.1"), victims[0].email) == 302  # elsewhere: fine


# --- README.md, SECURITY.md: a reset ends all sessions and lifts the lockout ------


def test_a_password_reset_ends_every_session_and_lifts_the_accounts_own_lockout():
    """README.md 'a reset all of them'; SECURITY.md: the reset through the mailed link lifts
    the account's lockout (not the address's)."""
    user = make_customer(email="reset@example.org")
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    attacker = Client(REMOTE_ADDR="198.51.100.99")
    for _ in range(5):
        sign_in(attacker, user.email, "guess")
    assert sign_in(Client(), user.email) == 429
    done = reset_password(Client(), user)  # the link opened in another browser
    assert done.status_code == 302
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert not UserSession.objects.filter(user=user).exists()
    assert sign_in(Client(), user.email, NEW_PASSWORD) == 302
    assert sign_in(Client(REMOTE_ADDR="198.51.100.99"), user.email, NEW_PASSWORD) == 302


def test_a_password_reset_from_a_browser_signed_in_to_the_account_completes_without_an_error():
    """README.md / SECURITY.md: 'a reset ends all of them'. Someone signed in on their laptop
    who has forgotten the password (the profile asks for the current one) uses the mailed reset link
    in that same browser. They expect 'Your password has been set' and to be signed out. The reset
    ends every session, the one sending the form included, inside the view (services.
    user_password_reset -> user_sign_out_sessions(keep_session_key=None)); Django's view then writes
    that deleted session (it removes its reset token from it) and the session middleware answers
    400 Bad Request (SessionInterrupted), although the new password was saved."""
    user = make_customer(email="reset-here@example.org")
    laptop = signed_in(user, FIREFOX)
    done = reset_password(laptop, user)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)  # the password did change...
    assert done.status_code == 302, f"...but the person got {done.status_code}"
    assert laptop.get(done["Location"]).status_code == 200


# --- SECURITY.md: suspending ends all sessions ---------------------------------------------------


def test_suspending_in_the_admin_ends_every_session_and_lifting_brings_none_back():
    """SECURITY.md: 'Suspending a user ends all their sessions, so none comes back when the
    suspension ends or is lifted'."""
    admin = make_administrator(is_superuser=True)
    admin_client = Client()
    admin_client.force_login(admin)
    user = make_customer(email="suspend@example.org")
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    changelist = reverse("admin:accounts_user_changelist")
    response = admin_client.post(changelist, {"action": "suspend_users", "_selected_action": [user.pk]})
    assert response.status_code in (200, 302)
    user.refresh_from_db()
    assert user.status == User.Status.SUSPENDED
    admin_client.post(changelist, {"action": "activate_users", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE
    assert not is_signed_in(laptop) and not is_signed_in(phone)


# --- README.md, SECURITY.md: a password set in the admin ends the sessions ----------------


def test_a_password_an_administrator_sets_in_the_admin_ends_that_users_sessions():
    admin_client = Client()
    admin_client.force_login(make_administrator(is_superuser=True))
    user = make_customer(email="adminset@example.org")
    laptop = signed_in(user)
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = admin_client.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not is_signed_in(laptop)
    assert sign_in(Client(), user.email, NEW_PASSWORD) == 302


# --- README.md, SECURITY.md: changing the e-mail address ----------------------------------


@pytest.mark.usefixtures("immediate_tasks")
def test_moving_to_an_internationalised_domain_stores_xn_form_ends_other_sessions_and_tells_old_address():
    """README.md: the password is asked, a link goes to the new address, the account moves
    (ending its other sessions, telling the old address) only when its owner opens it signed in; an
    internationalised domain is taken as typed and stored in its xn-- form."""
    user = make_customer(email="anna@example.org")
    laptop, phone = signed_in(user, FIREFOX), signed_in(user, IPHONE)
    # The password is asked.
    wrong = laptop.post(PROFILE, {"change_email": "1", "email": "anna@bücher.example", "password": "nope"})
    assert wrong.status_code == 422 and not mail.outbox
    with TestCase.captureOnCommitCallbacks(execute=True):
        asked = laptop.post(
            PROFILE, {"change_email": "1", "email": "anna@bücher.example", "password": TEST_PASSWORD}
        )
    assert asked.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["anna@xn--bcher-kva.example"]
    link = CHANGE_LINK.search(message.body).group(1)
    # Someone else signed in opens it: nothing moves.
    assert Client().post(link).status_code == 403
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        moved = laptop.post(link)
    assert moved.status_code == 302
    user.refresh_from_db()
    assert user.email == "anna@xn--bcher-kva.example"
    assert is_signed_in(laptop) and not is_signed_in(phone)
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]
    assert not EmailChangeRequest.objects.filter(user=user, used_at__isnull=True).exists()
    # Sign-in takes the domain as typed, too.
    assert sign_in(Client(), "anna@bücher.example") == 302


def test_address_change_password_checks_are_rate_limited_per_account():
    """README.md: rate limits per account on 'password checks (changing the password or the
    address ...)' (RATE_LIMITS['password_change'] = 5/h per account), friendly 429 with Retry-After."""
    user = make_customer(email="guessme@example.org")
    _, per_account = django_settings.RATE_LIMITS["password_change"]
    limit = int(per_account.split("/")[0])
    codes = []
    for n in range(limit + 1):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 10}")  # other addresses: the account's limit
        client.force_login(user)
        codes.append(client.post(PROFILE, {"change_email": "1", "email": "x@example.net", "password": "g"}))
    assert [r.status_code for r in codes[:limit]] == [422] * limit
    assert codes[limit].status_code == 429 and codes[limit]["Retry-After"].isdigit()


# --- SECURITY.md: no-store on the pages that hold a secret link ---------------------------------


@pytest.mark.usefixtures("immediate_tasks")
def test_pages_of_secret_links_are_sent_no_store_to_visitors_too():
    """SECURITY.md: 'Pages that name a person or hold a secret link (the e-mail confirmation,
    address-change and password-reset pages) are sent with Cache-Control: no-store'."""
    user = make_customer(email="links@example.org")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    visitor = Client()
    pages = {
        "email confirmation": visitor.get(reverse("accounts:email_verify", args=[uid, "abc-123"])),
        "address change": visitor.get(reverse("accounts:email_change_confirm", args=["abc:def"])),
        "password reset link": visitor.get(reset_link(user)),
    }
    pages["password reset form"] = visitor.get(pages["password reset link"]["Location"])
    missing = {name: r.get("Cache-Control", "") for name, r in pages.items()
               if "no-store" not in r.get("Cache-Control", "")}  # fmt: skip
    assert not missing, missing


# --- SECURITY.md: cookies in production -----------------------------------------------------------


def test_the_flash_message_cookie_in_production_is_host_prefixed_secure_httponly_lax(settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME = "__Host-sessionid"
    settings.CSRF_COOKIE_NAME = "__Host-csrftoken"
    user = make_customer(email="flash@example.org")
    client = Client()
    client.force_login(user)
    response = client.post(PROFILE, {"save_profile": "1", "name": "New Name", "timezone": "UTC"}, secure=True)
    assert response.status_code == 302
    cookie = response.cookies.get("__Host-messages")
    assert cookie is not None, sorted(response.cookies)
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/" and not cookie["domain"]


# --- SECURITY.md, Accountability: what is audited, and what is its own record ---


def test_an_article_vote_is_its_own_record_with_the_voter_not_an_audit_event():
    """SECURITY.md 'Accountability': readers' traces are their own records; a vote is one row per voter
    (which is what keeps the counters from being stuffed), not an event in the trail."""
    from knowledge.models import ArticleFeedback

    article = make_article()
    customer = make_customer(email="voter@example.org")
    client = Client()
    client.force_login(customer)
    before = AuditEvent.objects.count()
    response = client.post(reverse("knowledge:vote", args=[article.slug]), {"helpful": "no"})
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.not_helpful_count == 1
    assert ArticleFeedback.objects.filter(article=article, user=customer, helpful=False).count() == 1
    assert AuditEvent.objects.count() == before


# --- README.md: KB search and suggestions ------------------------------------------------


def test_kb_search_ignores_accents_and_search_and_suggestions_are_rate_limited(settings):
    """README.md 'accents ignored, "cafe" finds "Café"'; README.md: rate limits on KB search and
    suggestions, with a friendly 429 and Retry-After (SECURITY.md)."""
    make_article(title="Café opening hours", body="The café opens at eight.")
    visitor = Client()
    page = visitor.get(reverse("knowledge:search"), {"q": "cafe"})
    assert page.status_code == 200 and "Café opening hours" in page.content.decode()
    suggestions = visitor.get(reverse("knowledge:suggest"), {"subject": "cafe hours"})
    assert "Café opening hours" in suggestions.content.decode()
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "search": ("2/m", "2/m")}
    other = Client(REMOTE_ADDR="198.51.100.200")
    codes = [other.get(reverse("knowledge:suggest"), {"subject": "cafe hours"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = other.get(reverse("knowledge:search"), {"q": "cafe"})
    assert limited.status_code == 429 and limited["Retry-After"].isdigit()


# --- README.md: maintenance mode ---------------------------------------------------------------------


def test_maintenance_mode_answers_503_to_customers_and_visitors_while_staff_sign_in_and_work():
    team = TeamFactory()
    agent = make_agent(team, email="staff@example.org")
    customer = make_customer(email="cust@example.org")
    site_configuration_update(changes={"maintenance_mode": True}, actor=None)
    assert Client().get(reverse("knowledge:home")).status_code == 503
    customer_client = Client()
    customer_client.force_login(customer)
    assert customer_client.get(reverse("tickets:portal_list")).status_code == 503
    staff = Client()
    assert sign_in(staff, agent.email) == 302  # the sign-in page stays open
    assert staff.get(reverse("tickets:desk_queue")).status_code == 200


# --- README.md: health probes over plain HTTP ---------------------------------------------------


def test_health_probes_answer_plain_http_when_ssl_redirect_is_on(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get(reverse("knowledge:home")).status_code == 301


# --- SECURITY.md: the admin's sign-in form is replaced by the site's ---------------------------


def test_the_admins_sign_in_page_is_the_sites():
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert Client().get(response["Location"], follow=True).redirect_chain[-1][0].startswith(LOGIN)


# --- README.md: a customer's follow-up to a closed ticket stays with that ticket's team ----------


def test_a_follow_up_to_a_closed_ticket_stays_with_its_team_even_from_another_form():
    billing, support = TeamFactory(slug="billing-x"), TeamFactory(slug="support-x")
    site_configuration_update(changes={"default_team": support}, actor=None)
    agent = make_agent(billing)
    customer = make_customer(email="follow@example.org")
    form = TicketFormFactory(default_team=billing, schema=[])
    ticket = ticket_services.ticket_create(
        requester=customer, subject="Refund", description="Please.", actor=customer, form=form
    )
    assert ticket.team == billing
    ticket_services.ticket_transition(ticket, status="closed", actor=agent)
    client = Client()
    client.force_login(customer)
    response = client.post(reverse("tickets:portal_reply", args=[ticket.number]), {"body": "It came back."})
    assert response.status_code in (200, 302)
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert follow_up.team == billing
