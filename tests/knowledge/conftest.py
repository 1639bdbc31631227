"""Fixtures the knowledge tests share: an author (an agent, who writes drafts) and an editor (a
supervisor, who publishes, sends back and deletes)."""

import pytest

from tests.factories import TeamFactory, make_agent, make_supervisor


@pytest.fixture
def author():
    return make_agent(TeamFactory())


@pytest.fixture
def editor():
    return make_supervisor(TeamFactory())
