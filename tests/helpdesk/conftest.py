"""Fixtures for the site-wide tests: a Support team whose supervisor works a customer's ticket."""

import pytest

from tests.factories import TeamFactory, make_customer, make_supervisor, make_ticket


@pytest.fixture
def desk():
    team = TeamFactory(name="Support")
    agent = make_supervisor(team, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=team, subject="Printer on fire")
    return {"team": team, "agent": agent, "customer": customer, "ticket": ticket}
