"""A date-time the admin's page shows to the second and the form sends back untouched is not written back:
cut to the second, over the microseconds stored, or over what a job wrote meanwhile (a timed suspension
lifted while an administrator corrected the account's name)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from tests.admin_pages import change_url, form_data
from tests.concurrency import run_while_another_transaction_waits
from tests.factories import ensure_roles, make_administrator, make_customer


def suspended(until) -> User:
    ensure_roles()
    user = make_customer(name="Old Name")
    account_services.user_suspend(user, until=timezone.now() + timedelta(days=1), reason="Cooling off",
                                  actor=make_administrator())  # fmt: skip
    User.objects.filter(pk=user.pk).update(suspended_until=until)
    return User.objects.get(pk=user.pk)


@pytest.mark.django_db
def test_an_unrelated_edit_keeps_a_suspensions_end_to_the_microsecond(client):
    end = (timezone.now() + timedelta(days=3)).replace(microsecond=123456)
    user = suspended(end)
    client.force_login(make_administrator(is_superuser=True))
    response = client.post(change_url(user), form_data(client.get(change_url(user)), name="New Name"))
    assert response.status_code == 302
    stored = User.objects.get(pk=user.pk)
    assert (stored.name, stored.suspended_until) == ("New Name", end)


@pytest.mark.django_db(transaction=True)
def test_a_name_corrected_while_the_suspension_lifts_keeps_the_lift():
    user = suspended(timezone.now() - timedelta(seconds=5))
    client = Client()
    client.force_login(make_administrator(is_superuser=True))
    data = form_data(client.get(change_url(user)), name="New Name")
    responses = []
    run_while_another_transaction_waits(
        account_services.suspensions_lift_expired,
        lambda: responses.append(client.post(change_url(user), data)),
    )
    assert responses[0].status_code == 302
    stored = User.objects.get(pk=user.pk)
    assert (stored.name, stored.status, stored.suspended_until, stored.suspension_reason) == (
        "New Name", User.Status.ACTIVE, None, "",
    )  # fmt: skip
