"""Query budgets of the main pages and POSTs (DESIGN.md §3.7): each costs the same number of queries with
few or many of every row it could list. The two helpdesks, grown by few and by many, are made once for
the module (tests/helpdesk/test_query_budgets.py grows one per test where a test needs both)."""

import pytest
from django.test import Client
from django.urls import reverse

from knowledge.models import Article
from tests.conftest import rows_for_the_module
from tests.helpdesk.test_query_budgets import FEW, MANY, grow, make_helpdesk, queries, shown, signed_in
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", params=[FEW, MANY], ids=["few", "many"])
def grown(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """The helpdesk grown by FEW or MANY of every row, made once per count for the pages that only read."""
    with rows_for_the_module(django_db_blocker, tmp_path_factory.mktemp("media")):
        world = make_helpdesk()
        grow(world, request.param)
        yield world


GET_BUDGETS = [
    # (who, url name, args from the world, query, budget)
    ("visitor", "home", None, {}, 1),
    ("visitor", "knowledge:suggest", None, {"subject": "widget help"}, 5),
    ("visitor", "knowledge:article", "article", {}, 3),
    ("agent", "knowledge:article", "article", {}, 6),
    ("agent", "knowledge:manage_new", None, {}, 4),
    ("supervisor", "knowledge:manage_edit", "article", {}, 7),  # the published versions are paged
    ("agent", "knowledge:manage_picker", None, {"q": "widget"}, 7),
    ("manager", "tickets:portal_submit", None, {}, 4),
    ("manager", "tickets:portal_submit_form", "form", {}, 5),
    ("manager", "accounts:profile", None, {}, 7),  # two-factor on (an agent since demoted)? an address move?
    ("agent", "accounts:two_factor", None, {}, 6),
]


@pytest.mark.parametrize(("who", "name", "arg", "params", "budget"), GET_BUDGETS, ids=lambda v: str(v))
def test_page_query_count_is_constant(grown, settings, who, name, arg, params, budget):
    settings.RATE_LIMITS_ENABLED = False
    user = None if who == "visitor" else grown[who]
    client = signed_in(user)
    if name == "accounts:profile":
        for _ in range(grown["grown"]):  # as many other signed-in sessions, all listed on the page
            Client().force_login(user)
    args = []
    if arg is not None:
        obj = type(grown[arg]).objects.get(pk=grown[arg].pk)
        args = [obj.slug]
    url = reverse(name, args=args)
    client.get(url, params)
    status, sql = queries(client, "get", url, params)
    assert status == 200
    assert len(sql) <= budget, shown(sql)


def version(world) -> int:
    return Ticket.objects.get(pk=world["ticket"].pk).version


POST_BUDGETS = [
    # (who, what, budget)
    ("agent", "desk reply", 20),
    ("agent", "desk note", 19),
    ("agent", "desk tags (htmx)", 39),  # +1 past THREAD_WINDOW messages: the "earlier messages" count
    ("agent", "desk priority", 19),
    ("manager", "portal reply", 16),
    ("supervisor", "kb save", 28),  # + whether a published version was kept before (else the old text is)
    ("supervisor", "kb new", 28),
    ("administrator", "audit export", 15),
    ("supervisor", "audit export", 19),  # + which actions they may read, kept by what decides it
]


@pytest.mark.parametrize(("who", "what", "budget"), POST_BUDGETS, ids=lambda v: str(v))
def test_main_posts_cost_the_same_for_few_or_many_rows(grown, settings, who, what, budget):
    settings.RATE_LIMITS_ENABLED = False
    client = signed_in(grown[who])
    number = grown["ticket"].number
    article = Article.objects.get(pk=grown["article"].pk)
    url, data, extra = {
        "desk reply": (reverse("tickets:desk_reply", args=[number]),
                       {"kind": "reply", "body": "Hello", "version": version(grown)}, {}),
        "desk note": (reverse("tickets:desk_reply", args=[number]),
                      {"kind": "note", "body": "Psst", "version": version(grown)}, {}),
        "desk tags (htmx)": (reverse("tickets:desk_update", args=[number]),
                             {"field": "tags", "value": "a, b, common", "version": version(grown)},
                             {"headers": {"HX-Request": "true"}}),
        "desk priority": (reverse("tickets:desk_update", args=[number]),
                          {"field": "priority", "value": "urgent", "version": version(grown)}, {}),
        "portal reply": (reverse("tickets:portal_reply", args=[number]), {"body": "Thanks"}, {}),
        "kb save": (reverse("knowledge:manage_edit", args=[article.slug]),
                    {"title": "Main widget article", "body": "New words", "tags": "widget",
                     "visibility": "public", "category": grown["category"].pk,
                     "loaded_at": article.updated_at.isoformat()}, {}),
        "kb new": (reverse("knowledge:manage_new"),
                   {"title": "Brand new", "body": "Words", "tags": "a", "visibility": "public",
                    "category": grown["category"].pk}, {}),
        "audit export": (reverse("audit:event_export"), {}, {}),
    }[what]  # fmt: skip
    status, sql = queries(client, "post", url, data, **extra)
    assert status in (200, 302), status
    assert len(sql) <= budget, shown(sql)
