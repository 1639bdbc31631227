"""Two sign-ups with one e-mail address at the same moment (a double-clicked button)."""

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import User
from tests.concurrency import run_while_another_transaction_waits
from tests.factories import TEST_PASSWORD, ensure_roles


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_racing_another_with_the_same_email_is_refused_not_a_crash():
    ensure_roles()
    refused = []

    def second_sign_up() -> None:
        # The other request has inserted its row but not committed yet: the check before ours sees nothing.
        try:
            services.user_signup(
                email="race@example.org", name="Second", password=TEST_PASSWORD, open_signup=True, actor=None
            )
        except ValidationError as error:
            refused.append(error.message_dict)

    run_while_another_transaction_waits(
        lambda: User.objects.create_user("Race@example.org", TEST_PASSWORD), second_sign_up
    )
    assert services.EMAIL_TAKEN in refused[0]["email"]
    assert User.objects.filter(email__iexact="race@example.org").count() == 1
