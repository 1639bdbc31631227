"""Fixtures for the site-wide tests: a Support team whose supervisor works a customer's ticket."""

import pytest

from tests.factories import TeamFactory, make_customer, make_supervisor, make_ticket


def make_desk() -> dict:
    team = TeamFactory(name="Support")
    agent = make_supervisor(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Printer on fire")
    return {"team": team, "agent": agent, "customer": customer, "ticket": ticket}


@pytest.fixture
def desk():
    """Made for each test; a module whose tests only start from it makes it once with
    `_desk_rows, desk = made_once_per_module(make_desk, "desk")`."""
    return make_desk()
