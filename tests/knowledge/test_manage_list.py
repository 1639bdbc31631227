"""The authoring list (/kb/manage/): pages, the title search beside the status filter, a query budget;
NUL bytes in the knowledge base's query strings."""

import re

import pytest
from django.urls import reverse

from knowledge import services
from tests.factories import TeamFactory, make_article, make_supervisor

pytestmark = pytest.mark.django_db

NEXT_PAGE = re.compile(r'href="\?([^"]*)" rel="next"')


def _drafts(count: int, *, title: str = "Draft {number:03}") -> None:
    for number in range(count):
        services.article_create(title=title.format(number=number), body="Text.", actor=None)


def test_every_article_is_reachable_a_page_at_a_time(client):
    _drafts(233)
    client.force_login(make_supervisor(TeamFactory()))
    url, seen, pages = reverse("knowledge:manage_list"), set(), 0
    query = ""
    while query is not None:
        page = client.get(f"{url}?{query.replace('&amp;', '&')}").content.decode()
        pages += 1
        seen |= set(re.findall(r">(Draft \d{3})</a>", page))
        following = NEXT_PAGE.search(page)
        query = following.group(1) if following else None
    assert pages == 5 and "Page 1 of 5 · 233 in all" in client.get(url).content.decode()
    assert len(seen) == 233 and "Draft 000" in seen  # the oldest draft used to be cut off at 200


def test_the_title_search_keeps_the_status_filter_and_the_pages_keep_both(client):
    _drafts(60, title="Printer setup {number:03}")
    _drafts(3, title="Scanner setup {number:03}")
    make_article(title="Printer setup (published)")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.get(reverse("knowledge:manage_list"), {"status": "draft", "q": "PRINTER"})
    page = response.content.decode()
    assert response.status_code == 200 and "Page 1 of 2 · 60 in all" in page
    assert "Scanner setup" not in page and "Printer setup (published)" not in page
    assert 'name="q" value="PRINTER"' in page and '<input type="hidden" name="status" value="draft">' in page
    assert 'href="?status=draft&amp;q=PRINTER&amp;page=2" rel="next"' in page
    second = client.get(reverse("knowledge:manage_list"), {"status": "draft", "q": "printer", "page": 2})
    assert second.content.decode().count("Printer setup") == 10
    empty = client.get(reverse("knowledge:manage_list"), {"q": "fax"}).content.decode()
    assert "No article title contains “fax”." in empty


# The session, the user, their roles, the page's count and its rows (with category and author).
LIST_QUERIES = 6


@pytest.mark.parametrize(("count", "shown"), [(3, 3), (120, 50)])
def test_the_article_list_query_count_is_constant(client, django_assert_max_num_queries, count, shown):
    _drafts(count)
    client.force_login(make_supervisor(TeamFactory()))  # an editor sees every article
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(reverse("knowledge:manage_list"), {"page": 2, "q": "draft"})
    assert response.status_code == 200
    assert len(re.findall(r">Draft \d{3}</a>", response.content.decode())) == shown


def test_a_nul_byte_in_the_title_search_is_ignored_not_a_server_error(client):
    _drafts(2, title="Printer setup {number:03}")
    client.force_login(make_supervisor(TeamFactory()))
    response = client.get(reverse("knowledge:manage_list"), {"q": "\x00"})
    assert response.status_code == 200 and response.content.decode().count("Printer setup") == 2
    response = client.get(reverse("knowledge:manage_list"), {"q": "Prin\x00ter", "status": "\x00"})
    assert response.status_code == 200 and response.content.decode().count("Printer setup") == 2


@pytest.mark.parametrize(
    ("name", "parameter"),
    [("knowledge:search", "q"), ("knowledge:suggest", "subject"), ("knowledge:manage_picker", "q")],
)
def test_a_nul_byte_in_a_search_is_ignored_not_a_server_error(client, name, parameter):
    make_article(title="Printer setup", body="Plug it in.")
    client.force_login(make_supervisor(TeamFactory()))
    for value in ("\x00", "\x00\x00\x00\x00\x00", "prin\x00ter setup"):
        response = client.get(reverse(name), {parameter: value})
        assert response.status_code == 200
        assert "\x00" not in response.content.decode()
    assert "Printer setup" in client.get(reverse(name), {parameter: "printer\x00 setup"}).content.decode()
