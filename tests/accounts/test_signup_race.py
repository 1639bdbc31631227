"""Two sign-ups with one e-mail address at the same moment (a double-clicked button)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from accounts import services
from accounts.models import User
from tests.factories import TEST_PASSWORD, ensure_roles


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_racing_another_with_the_same_email_is_refused_not_a_crash():
    ensure_roles()
    inserted, release = threading.Event(), threading.Event()

    def first_sign_up() -> None:
        # The other request has inserted its row but not committed yet: the check before ours sees nothing.
        try:
            with transaction.atomic():
                User.objects.create_user("Race@example.org", TEST_PASSWORD)
                inserted.set()
                release.wait(timeout=1)
        finally:
            connection.close()

    racer = threading.Thread(target=first_sign_up)
    racer.start()
    assert inserted.wait(timeout=10)
    threading.Timer(0.5, release.set).start()  # commits while our insert waits on the unique index
    with pytest.raises(ValidationError) as refused:
        services.user_signup(
            email="race@example.org", name="Second", password=TEST_PASSWORD, open_signup=True, actor=None
        )
    racer.join()
    assert services.EMAIL_TAKEN in refused.value.message_dict["email"]
    assert User.objects.filter(email__iexact="race@example.org").count() == 1
