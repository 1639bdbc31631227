"""Migrating back past tickets 0024 and accounts 0018 builds the subject's search column and the name
index as the release before them did: a migration's state keeps the expression's class, not its SQL, so the
states before them name a frozen SearchWords (SearchWordsBeforeCJK), not the live one, whose SQL changed."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from helpdesk.accents import SearchWords, SearchWordsBeforeCJK

# SearchWords.template as the release before CJK characters became words compiled it (commit b6479c3).
RELEASED = (
    "translate(regexp_replace(normalize(regexp_replace(normalize(%(expressions)s, NFD), '[\\u0300-\\u036f]',"
    " '', 'g'), NFKC), '[!-/:-@\\[-`{-~]', ' ', 'g'), '\u03c2', '\u03c3')"
)


def words_expression(state, app: str, model: str):
    """The SearchWords-like expression inside the model's search column or name index, in `state`."""
    model_state = state.models[app, model]
    if app == "tickets":
        vector = model_state.fields["search_vector"].expression
    else:
        (vector,) = next(i for i in model_state.options["indexes"] if i.name == "user_name_words").expressions
    return vector.source_expressions[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "app, model, before, after",
    [
        ("tickets", "ticket", "0023_recently_solved_saved_as_a_period", "0024_ticket_search_words_cjk"),
        ("accounts", "user", "0017_alphabetical_order", "0018_user_name_words_cjk"),
    ],
)
def test_the_state_before_the_cjk_migrations_compiles_to_the_released_sql(app, model, before, after):
    loader = MigrationLoader(connection)
    released = words_expression(loader.project_state((app, before)), app, model)
    current = words_expression(loader.project_state((app, after)), app, model)
    assert type(released) is SearchWordsBeforeCJK and released.template == RELEASED
    assert type(current) is SearchWords and current.template != RELEASED
