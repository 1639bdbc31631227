"""Fixtures the ticket tests share: a team, a customer and an agent of that team."""

import pytest

from tests.factories import TeamFactory, make_agent, make_customer


@pytest.fixture
def team():
    return TeamFactory(name="Support")


@pytest.fixture
def customer():
    return make_customer()


@pytest.fixture
def agent(team):
    return make_agent(team, name="Alex Agent")
