"""`{% options %}` renders what the equivalent template loop would, escaped."""

import pytest
from django.template import Context, Template

from tests.factories import TeamFactory
from tickets.selectors import choices


def render(source: str, **context) -> str:
    return Template("{% load form_markup %}" + source).render(Context(context))


def test_pairs_with_the_selected_value_marked_and_everything_escaped():
    choices = [("a", "Alpha"), ("b<", "Beta & <b>bold</b>")]
    html = render("{% options choices picked %}", choices=choices, picked="b<")
    assert html == (
        '<option value="a">Alpha</option>'
        '<option value="b&lt;" selected>Beta &amp; &lt;b&gt;bold&lt;/b&gt;</option>'
    )


def test_several_selected_values_and_numbers_compared_as_text():
    html = render(
        "{% options choices picked %}", choices=[(1, "One"), (2, "Two"), (3, "Three")], picked=["1", 3]
    )
    assert html.count(" selected") == 2 and '<option value="2">Two</option>' in html


@pytest.mark.django_db
def test_rows_as_choices_with_value_and_label_prefixes():
    team = TeamFactory(name="Billing & Co")
    html = render('{% options teams prefix="team:" label_prefix="Team: " %}', teams=choices([team]))
    assert html == f'<option value="team:{team.pk}">Team: Billing &amp; Co</option>'


def test_nothing_selected_and_no_choices():
    assert render("{% options choices %}", choices=[("x", "X")]) == '<option value="x">X</option>'
    assert render("{% options choices 'x' %}", choices=[]) == ""
