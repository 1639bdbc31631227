"""Onboarding: a new administrator sets up a helpdesk from an empty database through the Django admin
only (from createsuperuser), and the result is checked end to end through the site's pages; the admin
keeps customers out of teams and skills, says what an agent or an account without a password still
needs, and picks organisations in a search box."""

import re
import uuid

import pytest
from django.core.management import call_command
from django.test import Client

from tests.admin_pages import fields_as_posted

pytestmark = pytest.mark.django_db

ADMIN_EMAIL = "boss@newdesk.example"
PASSWORD = "Zq9!long-enough-pass"


def sign_in(email, password=PASSWORD) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": email, "password": password})
    assert response.status_code == 302, response.content.decode()[:3000]
    return client


def add_page_data(page, inline_rows=None, **changes):
    data = fields_as_posted(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= fields_as_posted(formset.management_form)
        rows = (inline_rows or {}).get(formset.prefix, [])
        total = formset.initial_form_count() + len(rows)
        data[formset.management_form.add_prefix("TOTAL_FORMS")] = str(total)
        for index, row in enumerate(rows, start=formset.initial_form_count()):
            empty = fields_as_posted(formset.empty_form)
            for key, value in empty.items():
                data[key.replace("__prefix__", str(index))] = value
            for key, value in row.items():
                data[f"{formset.prefix}-{index}-{key}"] = value
    return data | changes


def admin_add(client, path, inline_rows=None, **changes):
    page = client.get(path)
    assert page.status_code == 200
    data = add_page_data(page, inline_rows, **changes)
    data["_continue"] = "1"
    return client.post(path, data)


def created_pk(response) -> int:
    assert response.status_code == 302, errors_of(response)
    return int(re.search(r"/(\d+)/change/", response["Location"]).group(1))


def errors_of(response) -> str:
    if response.status_code != 422 and response.status_code != 200:
        return str(response.status_code)
    ctx = response.context
    errs = [str(ctx["adminform"].form.errors)]
    for inline in ctx["inline_admin_formsets"]:
        errs.append(str(inline.formset.errors) + str(inline.formset.non_form_errors()))
    return "\n".join(errs)


@pytest.fixture
def admin_client(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", email=ADMIN_EMAIL, name="Boss", verbosity=0)
    return sign_in(ADMIN_EMAIL)


def autocomplete_id(client, app, model, field, term) -> str:
    response = client.get(
        "/admin/autocomplete/", {"app_label": app, "model_name": model, "field_name": field, "term": term}
    )
    assert response.status_code == 200, response.content[:500]
    results = response.json()["results"]
    assert results, f"{term!r} not offered for {model}.{field}"
    return next(item["id"] for item in results if item["text"] == term)


def change_page_post(client, path, inline_rows=None, **changes):
    """A change page posted back as shown, with `changes` and new inline rows."""
    from tests.admin_pages import form_data

    page = client.get(path)
    assert page.status_code == 200
    data = form_data(page, **changes)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        rows = (inline_rows or {}).get(formset.prefix, [])
        start = formset.initial_form_count()
        data[formset.management_form.add_prefix("TOTAL_FORMS")] = str(start + len(rows))
        for index, row in enumerate(rows, start=start):
            for key, value in fields_as_posted(formset.empty_form).items():
                data[key.replace("__prefix__", str(index))] = value
            for key, value in row.items():
                data[f"{formset.prefix}-{index}-{key}"] = value
    return client.post(path, data | changes)


SCHEMA = """[
 {"name": "order_number", "label": "Order number", "type": "text", "required": true},
 {"name": "product", "label": "Product", "type": "select", "choices": ["Basic", "Pro"]},
 {"name": "seats", "label": "Seats", "type": "number", "decimal_places": 0},
 {"name": "since", "label": "Since", "type": "date"},
 {"name": "urgent_ok", "label": "Call me back", "type": "checkbox"},
 {"name": "modules", "label": "Modules", "type": "multi_select", "choices": ["Mail", "Chat"]},
 {"name": "cc", "label": "Copy to", "type": "email"},
 {"name": "details", "label": "Details", "type": "textarea"}
]"""


def make_user(client, email, name, role):
    response = admin_add(
        client, "/admin/accounts/user/add/", email=email, name=name, password1=PASSWORD, password2=PASSWORD
    )
    pk = created_pk(response)
    role_id = autocomplete_id(client, "accounts", "roleassignment", "role", role)
    response = change_page_post(
        client, f"/admin/accounts/user/{pk}/change/", {"role_assignments": [{"role": role_id}]}
    )
    assert response.status_code == 302, errors_of(response)
    return pk


@pytest.fixture
def helpdesk(admin_client):
    c = admin_client
    org = created_pk(
        admin_add(
            c, "/admin/accounts/organization/add/", name="Acme", slug="acme", email_domains='["acme.example"]'
        )
    )
    team = created_pk(admin_add(c, "/admin/accounts/team/add/", name="Support", slug="support"))
    agent = make_user(c, "alex@newdesk.example", "Alex Agent", "Agent")
    supervisor = make_user(c, "sam@newdesk.example", "Sam Supervisor", "Supervisor")
    customer = make_user(c, "carla@acme.example", "Carla Customer", "Customer")
    response = change_page_post(c, f"/admin/accounts/user/{customer}/change/", organization=str(org))
    assert response.status_code == 302, errors_of(response)
    response = change_page_post(
        c,
        f"/admin/accounts/team/{team}/change/",
        {
            "memberships": [
                {"user": str(agent), "role": "agent"},
                {"user": str(supervisor), "role": "supervisor"},
            ]
        },
    )
    assert response.status_code == 302, errors_of(response)
    skill = created_pk(
        admin_add(c, "/admin/accounts/skill/add/", name="Printers", slug="printers", agents=[str(agent)])
    )
    form = created_pk(
        admin_add(
            c,
            "/admin/tickets/ticketform/add/",
            slug="orders",
            title="Order problem",
            schema=SCHEMA,
            default_team=str(team),
            default_priority="high",
        )
    )
    invitation = created_pk(
        admin_add(
            c,
            "/admin/accounts/invitation/add/",
            organization=str(org),
            email="newbie@acme.example",
            code="ACME-2026",
        )
    )
    return {
        "org": org,
        "team": team,
        "agent": agent,
        "supervisor": supervisor,
        "customer": customer,
        "skill": skill,
        "form": form,
        "invitation": invitation,
    }


def submit_order(client, subject="Printer eats invoices"):
    data = {
        "subject": subject,
        "description": "Every invoice, since Monday.",
        "submission_key": str(uuid.uuid4()),
        "cf_order_number": "PO-7781",
        "cf_product": "Pro",
        "cf_seats": "12",
        "cf_since": "2026-01-15",
        "cf_urgent_ok": "on",
        "cf_modules": ["Mail", "Chat"],
        "cf_cc": "boss@acme.example",
        "cf_details": "Tray 2 only.",
    }
    return client.post("/portal/tickets/new/orders/", data)


def visible_text(response) -> str:
    return visible_text_of(response.content.decode())


def visible_text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def messages_after(client, response) -> list[str]:
    page = client.get(response["Location"])
    return [str(message) for message in page.context["messages"]]


def number_in(html: str) -> str:
    return re.search(r"/desk/tickets/(\d+)/", html).group(1)


def test_a_helpdesk_set_up_in_the_admin_works_end_to_end(helpdesk):
    """Everything made through admin pages only; checked through the site's pages only."""
    customer = sign_in("carla@acme.example")
    assert "Order problem" in visible_text(customer.get("/portal/tickets/new/"))
    response = submit_order(customer)
    assert response.status_code == 302
    number = re.search(r"/portal/tickets/(\d+)/", response["Location"]).group(1)

    agent = sign_in("alex@newdesk.example")
    desk = agent.get("/desk/")
    assert desk.status_code == 200 and "Printer eats invoices" in desk.content.decode()
    assert number_in(desk.content.decode()) == number
    page = agent.get(f"/desk/tickets/{number}/").content.decode()
    workspace = visible_text(agent.get(f"/desk/tickets/{number}/"))
    for shown in (
        "Order number",
        "Product",
        "Seats",
        "Since",
        "Call me back",
        "Modules",
        "Copy to",
        "Details",
        "Tray 2 only.",
        "High",
        "Support",
    ):
        assert shown in workspace, shown
    # The answers are shown in the workspace's custom-field editor, as its inputs' values.
    for value in (
        'value="PO-7781"',
        'value="Pro" selected',
        'value="12"',
        'value="2026-01-15"',
        'value="boss@acme.example"',
        'value="Mail" checked',
        'value="Chat" checked',
    ):
        assert value in page.replace("\n", " ") or re.search(value.replace(" ", "[^>]*"), page), value
    unassigned = visible_text(agent.get("/desk/", {"assignee": "unassigned", "team": str(helpdesk["team"])}))
    assert "Printer eats invoices" in unassigned

    supervisor = sign_in("sam@newdesk.example")
    trail = visible_text(supervisor.get("/audit/"))
    assert "Alex Agent (Agent)" in trail and "Sam Supervisor (Supervisor)" in trail
    assert "Printer eats invoices" in trail

    mine = visible_text(customer.get("/portal/tickets/"))
    assert "Printer eats invoices" in mine
    detail = visible_text(customer.get(f"/portal/tickets/{number}/"))
    assert "PO-7781" in detail and "Order number" in detail


def test_the_invitation_made_in_the_admin_signs_someone_up_into_the_organisation(helpdesk):
    response = Client().post(
        "/accounts/signup/",
        {
            "name": "Newbie",
            "email": "newbie@acme.example",
            "password": PASSWORD,
            "invitation_code": "ACME-2026",
        },
    )
    assert response.status_code == 302
    newbie = sign_in("newbie@acme.example")
    # An Acme-only form shows to Acme's members: made in the admin, it is offered to the newcomer.
    admin = sign_in(ADMIN_EMAIL)
    created_pk(
        admin_add(
            admin,
            "/admin/tickets/ticketform/add/",
            slug="acme-only",
            title="Acme only",
            organization=str(helpdesk["org"]),
        )
    )
    assert "Acme only" in visible_text(newbie.get("/portal/tickets/new/"))


def test_the_agent_role_can_be_given_on_the_add_page_itself(admin_client):
    team = created_pk(admin_add(admin_client, "/admin/accounts/team/add/", name="Support", slug="support"))
    role = autocomplete_id(admin_client, "accounts", "roleassignment", "role", "Agent")
    response = admin_add(
        admin_client,
        "/admin/accounts/user/add/",
        {"role_assignments": [{"role": role}]},
        email="quick@newdesk.example",
        name="Quick",
        password1=PASSWORD,
        password2=PASSWORD,
    )
    agent = created_pk(response)
    # And the team made together with its member, in one page.
    response = admin_add(
        admin_client,
        "/admin/accounts/team/add/",
        {"memberships": [{"user": str(agent), "role": "agent"}]},
        name="Billing",
        slug="billing",
    )
    created_pk(response)
    assert sign_in("quick@newdesk.example").get("/desk/").status_code == 200
    assert team


def test_every_admin_page_of_the_new_objects_renders(helpdesk):
    admin = sign_in(ADMIN_EMAIL)
    user_page = admin.get(f"/admin/accounts/user/{helpdesk['agent']}/change/")
    assignment = user_page.context["inline_admin_formsets"][0].formset.initial_forms[0].instance.pk
    team_page = admin.get(f"/admin/accounts/team/{helpdesk['team']}/change/")
    membership = team_page.context["inline_admin_formsets"][0].formset.initial_forms[0].instance.pk
    objects = [
        ("accounts/organization", helpdesk["org"]),
        ("accounts/team", helpdesk["team"]),
        ("accounts/skill", helpdesk["skill"]),
        ("accounts/user", helpdesk["agent"]),
        ("accounts/user", helpdesk["supervisor"]),
        ("accounts/user", helpdesk["customer"]),
        ("tickets/ticketform", helpdesk["form"]),
        ("accounts/invitation", helpdesk["invitation"]),
        ("accounts/roleassignment", assignment),
        ("accounts/teammember", membership),
    ]
    for model, pk in objects:
        for page in ("change", "history", "delete"):
            path = f"/admin/{model}/{pk}/{page}/"
            assert admin.get(path).status_code == 200, path
        assert admin.get(f"/admin/{model}/").status_code == 200
    for model in ("accounts/organization", "accounts/team"):
        path = f"/admin/{model}/{helpdesk['org' if 'org' in model else 'team']}/permissions/"
        assert admin.get(path).status_code == 200, path
    assert admin.get(f"/admin/accounts/user/{helpdesk['agent']}/password/").status_code == 200
    assert admin.get("/admin/").status_code == 200


def test_an_address_differing_only_in_case_is_refused_for_users_and_invitations(helpdesk):
    admin = sign_in(ADMIN_EMAIL)
    response = admin_add(
        admin,
        "/admin/accounts/user/add/",
        email="ALEX@NewDesk.example",
        name="Twin",
        password1=PASSWORD,
        password2=PASSWORD,
    )
    assert response.status_code == 422 and "email" in response.context["adminform"].form.errors
    response = admin_add(
        admin,
        "/admin/accounts/invitation/add/",
        organization=str(helpdesk["org"]),
        email="CARLA@acme.example",
        code="TWIN-1",
    )
    assert response.status_code == 422 and "email" in response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "path, fields",
    [
        ("/admin/accounts/organization/add/", {"name": "ACME", "slug": "acme-2"}),
        ("/admin/accounts/team/add/", {"name": "SUPPORT", "slug": "support-2"}),
        ("/admin/accounts/skill/add/", {"name": "printers", "slug": "printers-2"}),
        (
            "/admin/accounts/organization/add/",
            {"name": "Acme Two", "slug": "acme-two", "email_domains": '["ACME.example"]'},
        ),
        ("/admin/tickets/ticketform/add/", {"title": "Orders", "slug": "orders"}),
        ("/admin/accounts/invitation/add/", {"organization": "1", "code": "acme-2026"}),
    ],
)
def test_names_taken_in_another_case_are_form_errors_not_500s(helpdesk, path, fields):
    response = admin_add(sign_in(ADMIN_EMAIL), path, **fields)
    assert response.status_code == 422


def test_a_closed_team_is_not_offered_as_a_forms_default_team(admin_client):
    night = created_pk(
        admin_add(admin_client, "/admin/accounts/team/add/", name="Night", slug="night", is_active="")
    )
    response = admin_add(
        admin_client, "/admin/tickets/ticketform/add/", slug="night", title="Night", default_team=str(night)
    )
    assert response.status_code == 422 and "default_team" in response.context["adminform"].form.errors


def test_an_invalid_schema_is_a_form_error(admin_client):
    response = admin_add(
        admin_client,
        "/admin/tickets/ticketform/add/",
        slug="bad",
        title="Bad",
        schema='[{"name": "Order", "label": "", "type": "dropdown"}]',
    )
    assert response.status_code == 422 and "schema" in response.context["adminform"].form.errors


# ---------------------------------------------------------------------------------------------------
# What the admin refuses or says
# ---------------------------------------------------------------------------------------------------


def test_a_customer_is_not_accepted_as_a_team_member(helpdesk):
    """An administrator adding members to a team expects to be offered agents, and a customer picked by
    mistake (same first name as an agent, say) to be refused: a team is a queue of agents (DESIGN §4:
    "agent = user with the Agent role and team memberships"). Instead the team's member picker offers
    customers and the admin saves the customer as a member of Support; the team's supervisors read
    "Carla Customer (Agent)" joined their team on the audit trail, while she still cannot open the desk."""
    admin = sign_in(ADMIN_EMAIL)
    offered = admin.get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "teammember", "field_name": "user", "term": "Carla"},
    ).json()["results"]
    response = change_page_post(
        admin,
        f"/admin/accounts/team/{helpdesk['team']}/change/",
        {"memberships": [{"user": str(helpdesk["customer"]), "role": "agent"}]},
    )
    assert response.status_code == 422, "a customer was saved as a member of team Support"
    assert offered == []


def test_a_skills_agents_are_picked_among_agents_in_a_search_box(helpdesk):
    """A skill's "agents" should be agents, picked by searching (README: "the pickers of users ... search
    as you type (a plain list would load every user and organisation)"). Instead the Skill page lists
    every account of the site in a two-pane menu, customers included, and saves a customer as an agent
    with the skill."""
    admin = sign_in(ADMIN_EMAIL)
    page = admin.get(f"/admin/accounts/skill/{helpdesk['skill']}/change/")
    field = re.search(r'<select name="agents"[^>]*>.*?</select>', page.content.decode(), re.S).group(0)
    response = change_page_post(
        admin,
        f"/admin/accounts/skill/{helpdesk['skill']}/change/",
        agents=[str(helpdesk["agent"]), str(helpdesk["customer"])],
    )
    assert "Carla Customer" not in field, "every user, customers included, is listed in the skill's menu"
    assert response.status_code == 422, "a customer was saved as an agent with the skill"


@pytest.mark.parametrize("path", ["/admin/accounts/invitation/add/", "/admin/tickets/ticketform/add/"])
def test_onboarding_pages_pick_the_organisation_in_a_search_box_not_a_menu_of_all(admin_client, path):
    """README: the pickers of organisations search as you type, as a menu of 10,000 organisations made the
    user page 1.4 s and half a megabyte (tests/helpdesk/test_admin_at_scale.py fixed it there). The
    invitation and ticket-form pages, both needed to onboard a customer, still render a <select> with
    every organisation of the site."""
    for n in range(3):
        created_pk(
            admin_add(
                admin_client, "/admin/accounts/organization/add/", name=f"Tenant {n}", slug=f"tenant-{n}"
            )
        )
    page = admin_client.get(path).content.decode()
    field = re.search(r'<select name="organization"[^>]*>.*?</select>', page, re.S).group(0)
    assert "admin-autocomplete" in field and "Tenant 1" not in field


def test_an_agent_in_no_team_is_told_why_the_desk_is_empty(admin_client):
    """Team memberships are set on the team's page, not the user's: an agent made on the user page alone
    signed in to "No tickets match" with nothing saying why. The admin's save says so, and so does the
    empty desk, until the agent is a member of a team."""
    response = admin_add(
        admin_client,
        "/admin/accounts/user/add/",
        email="lone@newdesk.example",
        name="Lone Agent",
        password1=PASSWORD,
        password2=PASSWORD,
    )
    pk = created_pk(response)
    role = autocomplete_id(admin_client, "accounts", "roleassignment", "role", "Agent")
    response = change_page_post(
        admin_client, f"/admin/accounts/user/{pk}/change/", {"role_assignments": [{"role": role}]}
    )
    assert any("works no team's queue yet" in said for said in messages_after(admin_client, response))
    lone = sign_in("lone@newdesk.example")
    assert "You are in no team yet" in visible_text(lone.get("/desk/"))
    admin_add(
        admin_client,
        "/admin/accounts/team/add/",
        {"memberships": [{"user": str(pk), "role": "agent"}]},
        name="Support",
        slug="support",
    )
    desk = visible_text(lone.get("/desk/"))
    assert "You are in no team yet" not in desk and "No tickets match" in desk
    response = change_page_post(admin_client, f"/admin/accounts/user/{pk}/change/", name="Lone Agent Two")
    assert not any("works no team's queue yet" in said for said in messages_after(admin_client, response))


def test_an_account_added_without_a_password_is_pending_and_claimed_with_a_reset(
    admin_client, immediate_tasks, mailoutbox
):
    """ "Password-based authentication: Disabled" on the add page saved an active account nobody could
    ever sign in to (no reset link is mailed to an active account without a password). It is pending, the
    admin says how its owner claims it, and the reset link comes."""
    response = admin_add(
        admin_client,
        "/admin/accounts/user/add/",
        email="later@newdesk.example",
        name="Later",
        usable_password="false",
    )
    pk = created_pk(response)
    assert any("has no password yet" in said for said in messages_after(admin_client, response))
    # The choice is on the page (the add form had it, its page did not show it).
    assert 'name="usable_password"' in admin_client.get("/admin/accounts/user/add/").content.decode()
    page = admin_client.get(f"/admin/accounts/user/{pk}/change/")
    assert page.context["adminform"].form.initial["status"] == "pending"
    Client().post("/accounts/password_reset/", {"email": "later@newdesk.example"})
    assert [mail.to for mail in mailoutbox] == [["later@newdesk.example"]]


def test_the_available_box_and_skills_promise_no_routing_that_does_not_exist(helpdesk):
    """Nothing assigns tickets to people by availability or skills (tickets go to teams): the team's page
    must not say "Takes new tickets from routing", which an administrator would rely on for someone away."""
    admin = sign_in(ADMIN_EMAIL)
    page = admin.get(f"/admin/accounts/team/{helpdesk['team']}/change/").content.decode()
    assert "Takes new tickets from routing" not in page
    assert "no routing assigns them to people yet" in page


def test_migrate_alone_makes_the_built_in_roles(client):
    """A site set up without the demo (README's production path: migrate, collectstatic, gunicorn) had no
    role at all: the admin offered none to make an agent with, and an invitation's sign-up answered 500
    (the Customer role missing). Migrating makes the four, with their permissions."""
    from django.contrib.auth.models import Group
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connection

    from accounts.models import Invitation, Organization, User

    with connection.cursor() as cursor:  # a database whose roles were never loaded
        cursor.execute("TRUNCATE auth_group CASCADE")
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default", plan=[])  # as `migrate` ends
    assert set(Group.objects.values_list("name", flat=True)) == {
        "Customer",
        "Agent",
        "Supervisor",
        "Administrator",
    }
    assert Group.objects.get(name="Agent").permissions.filter(codename="view_support_queue").exists()
    organization = Organization.objects.create(name="Customer Co", slug="customer-co")
    Invitation.objects.create(organization=organization, code="NEWCO-1")
    response = client.post(
        "/accounts/signup/",
        {
            "name": "Carla",
            "email": "carla@customerco.example",
            "password": PASSWORD,
            "invitation_code": "NEWCO-1",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="carla@customerco.example").organization == organization
