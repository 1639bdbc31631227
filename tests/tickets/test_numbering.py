"""Ticket numbers come from a database sequence: concurrent creation never repeats one."""

import threading

import pytest
from django.db import connection

from tests.factories import make_customer, make_ticket
from tickets.models import Ticket


@pytest.mark.django_db(transaction=True)
def test_two_hundred_concurrent_tickets_get_two_hundred_distinct_numbers():
    customer = make_customer()
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create(batch: int) -> None:
        try:
            for _ in range(batch):
                ticket = make_ticket(customer)
                with lock:
                    numbers.append(ticket.number)
        except BaseException as error:  # reported below, with the count
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(25,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(numbers) == 200 and len(set(numbers)) == 200
    assert Ticket.objects.count() == 200
