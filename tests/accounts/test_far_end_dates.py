"""Ends typed at the calendar's end ("for good": 31 December 9999) would be the year 10,000 in a time
zone ahead of where they were typed, which neither Python nor PostgreSQL reads back: a suspension's, a
role's and an invitation's end are refused past the year 9000, in the admin and in the services."""

from datetime import UTC, datetime
from html import unescape

import pytest
from django.core.exceptions import ValidationError

from accounts import roles, services
from accounts.models import Invitation, User
from helpdesk.dates import TOO_LATE
from tests.admin_pages import change_url, changelist_url, post_change
from tests.factories import InvitationFactory, make_administrator, make_customer, make_user_with_role

pytestmark = pytest.mark.django_db

FAR = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)


@pytest.fixture
def admin_west_of_utc(client):
    client.force_login(make_administrator(is_superuser=True, timezone="America/New_York"))
    return client


def refused(response) -> bool:
    return response.status_code == 422 and TOO_LATE in unescape(response.content.decode())


def test_a_suspension_to_the_calendars_end_is_a_form_error_and_the_pages_still_open(admin_west_of_utc):
    customer = make_customer()
    response = post_change(
        admin_west_of_utc, customer, status="suspended", suspension_reason="Abuse",
        suspended_until_0="31/12/9999", suspended_until_1="20:00:00",
    )  # fmt: skip
    assert refused(response)
    assert User.objects.get(pk=customer.pk).status == User.Status.ACTIVE
    assert admin_west_of_utc.get(changelist_url(User)).status_code == 200


def test_an_invitation_to_the_calendars_end_is_a_form_error(admin_west_of_utc):
    invitation = InvitationFactory()
    response = post_change(admin_west_of_utc, invitation, expires_at_0="31/12/9999", expires_at_1="20:00:00")
    assert refused(response)
    assert Invitation.objects.get(pk=invitation.pk).expires_at is None
    assert admin_west_of_utc.get(changelist_url(Invitation)).status_code == 200


def test_a_role_to_the_calendars_end_is_a_form_error(admin_west_of_utc):
    person = make_user_with_role(roles.AGENT)
    response = post_change(
        admin_west_of_utc, person,
        **{"role_assignments-0-expires_at_0": "31/12/9999", "role_assignments-0-expires_at_1": "20:00:00"},
    )  # fmt: skip
    assert refused(response)
    assert person.role_assignments.get().expires_at is None
    assert admin_west_of_utc.get(change_url(person)).status_code == 200


def test_the_services_refuse_an_end_past_the_year_9000():
    customer, admin = make_customer(), make_administrator(is_superuser=True)
    with pytest.raises(ValidationError) as suspension:
        services.user_suspend(customer, until=FAR, reason="Abuse", actor=admin)
    assert suspension.value.message_dict == {"suspended_until": [TOO_LATE]}
    with pytest.raises(ValidationError) as role:
        services.role_assign(customer, roles.AGENT, expires_at=FAR, actor=admin)
    assert role.value.message_dict == {"expires_at": [TOO_LATE]}
    until = datetime(8999, 12, 31, tzinfo=UTC)
    assert services.role_assign(customer, roles.AGENT, expires_at=until, actor=admin).expires_at == until
