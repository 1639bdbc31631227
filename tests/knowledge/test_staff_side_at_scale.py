"""The knowledge base's staff side at 100,000 articles: the manage list and the article admin read only
the columns they show and page along an index, the admin's article page lists the latest revisions
only, and the category pickers name each category by its path. At 20,425 articles the manage list's
last page took 150 ms (its sort spilled 12 MB to disk), the admin's list 200 ms at page 200 and an
article with 500 revisions 420 ms in the admin (591 kB) before these changes."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from knowledge.models import Article, ArticleRevision
from tests.factories import CategoryFactory, TeamFactory, make_administrator, make_article, make_supervisor

pytestmark = pytest.mark.django_db

WIDE_COLUMNS = (
    '"knowledge_article"."body"',
    '"knowledge_article"."body_html"',
    '"knowledge_article"."search_vector"',
    '"knowledge_article"."title_vector"',
)


def listed_rows_sql(client, url: str) -> list[str]:
    """The queries that read the listed articles' rows (not the count)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith('SELECT "knowledge_article"."id"') and "ORDER BY" in query["sql"]
    ]


@pytest.mark.parametrize(
    ("url", "who"),
    [("knowledge:manage_list", make_supervisor), ("admin:knowledge_article_changelist", make_administrator)],
)
def test_the_article_lists_read_no_bodies(client, url, who):
    """The manage list and the admin's list show titles, categories, states, votes and dates: not a
    body, its HTML or search vector is read for the rows they sort and page."""
    for number in range(3):
        make_article(title=f"Listed {number}", body="Long text. " * 500)
    client.force_login(who(TeamFactory()) if who is make_supervisor else who())
    rows = listed_rows_sql(client, reverse(url))
    assert rows
    assert not [column for sql in rows for column in WIDE_COLUMNS if column in sql]
    page = client.get(reverse(url)).content.decode()
    assert all(f"Listed {number}" in page for number in range(3))


def test_the_most_recently_changed_articles_are_paged_along_an_index():
    """Both lists order by (-updated_at, -id): an index of that order gives the page without sorting the
    table (the planner finds a plan with no Sort even when sorting is all but forbidden)."""
    make_article(title="One")
    make_article(title="Two")
    sql, params = Article.objects.order_by("-updated_at", "-pk").values("pk")[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Sort" not in plan, plan


def test_the_admins_article_page_lists_its_latest_fifty_revisions(client):
    """An article edited hundreds of times: its admin page shows the latest 50 revisions and says the
    editor pages through them all."""
    article = make_article(title="Often edited")
    now = timezone.now()
    ArticleRevision.objects.bulk_create(
        ArticleRevision(article=article, title=f"Version {number}", body="Text.", created_at=now)
        for number in range(60)
    )
    client.force_login(make_administrator())
    response = client.get(reverse("admin:knowledge_article_change", args=[article.pk]))
    (revisions,) = [
        inline for inline in response.context["inline_admin_formsets"] if inline.opts.model is ArticleRevision
    ]
    assert len(revisions.formset.forms) == 50
    page = response.content.decode()
    assert "Version 59" in page and "Version 5<" not in page
    assert "the editor pages through them all" in page


def option_labels(page: str, *pks: int) -> list[str]:
    return [re.search(rf'<option value="{pk}"[^>]*>([^<]*)</option>', page).group(1).strip() for pk in pks]


def test_the_category_pickers_name_each_category_by_its_path_depth_first(client):
    """ "Setup" under Printers and "Setup" under Scanners read apart (by their paths), and each parent
    is followed by its children, in the editor, the article admin and the category admin's parent."""
    printers, scanners = (
        CategoryFactory(name="Printers", position=1),
        CategoryFactory(name="Scanners", position=2),
    )
    one, two = CategoryFactory(name="Setup", parent=printers), CategoryFactory(name="Setup", parent=scanners)
    expected = ["Printers", "Printers \u203a Setup", "Scanners", "Scanners \u203a Setup"]

    client.force_login(make_supervisor(TeamFactory()))
    editor = client.get(reverse("knowledge:manage_new")).content.decode()
    assert option_labels(editor, printers.pk, one.pk, scanners.pk, two.pk) == expected
    positions = [editor.index(f'<option value="{pk}"') for pk in (printers.pk, one.pk, scanners.pk, two.pk)]
    assert positions == sorted(positions)

    client.force_login(make_administrator())
    for url in (reverse("admin:knowledge_article_add"), reverse("admin:knowledge_category_add")):
        page = client.get(url).content.decode()
        assert option_labels(page, one.pk, two.pk) == expected[1::2]


def test_an_article_saved_with_a_category_picked_by_its_path_is_filed_there(client):
    """The picker's labels are labels: the value posted is the category's id, as before."""
    printers = CategoryFactory(name="Printers")
    setup = CategoryFactory(name="Setup", parent=printers)
    client.force_login(make_supervisor(TeamFactory()))
    response = client.post(
        reverse("knowledge:manage_new"),
        {"title": "Set up the printer", "body": "Plug it in.", "visibility": "public", "category": setup.pk},
    )
    assert response.status_code == 302
    assert Article.objects.get(title="Set up the printer").category == setup


def test_the_category_picker_draws_a_tree_deeper_than_pythons_recursion_limit(client):
    """Nothing bounds how deep the admin nests categories: the picker walks the tree without recursion."""
    from knowledge.models import Category

    base, depth = 10_000, 1_100
    Category.objects.bulk_create(
        Category(
            pk=base + level, parent_id=base + level - 1 if level else None, name=f"c{level}", slug=f"c{level}"
        )
        for level in range(depth)
    )  # fmt: skip
    client.force_login(make_supervisor(TeamFactory()))
    response = client.get(reverse("knowledge:manage_new"))
    assert response.status_code == 200
    assert option_labels(response.content.decode(), base + 2) == ["c0 \u203a c1 \u203a c2"]
