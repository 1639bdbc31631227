"""Knowledge-base search: natural questions in, ranked articles with highlighted snippets out.

Plain full-text search ANDs every word, so a question like "how do I reset my password when the
email never arrives" finds nothing. Here the question's stemmed words are ORed, and the rank
rewards how many of them an article covers, where they occur (title A > tags/excerpt B > body C),
the whole phrase, and rare words over common ones. The last word also matches as a prefix, for
type-ahead. Everything runs in one SQL query on core PostgreSQL.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from knowledge.models import Article

MAX_TERMS = 12
WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass
class SearchHit:
    article: Article
    rank: float
    snippet: str


def query_lexemes(text: str, config: str) -> list[str]:
    """The distinct stemmed, stop-word-free lexemes of `text`, in order."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))", [config, text])
        lexemes = cursor.fetchone()[0] or []
    return lexemes[:MAX_TERMS]


def search_articles(user, text: str, *, limit: int = 10, config: str | None = None) -> list[SearchHit]:
    config = config or settings.KB_SEARCH_CONFIG
    text = " ".join(WORD.findall(text or ""))[:300]
    if not text:
        return []
    lexemes = query_lexemes(text, config)
    last_word = WORD.findall(text)[-1].lower()
    if not lexemes and len(last_word) < 2:
        return []
    visible = Article.objects.publicly_listed_to(user).order_by().values("id")
    visible_sql, visible_params = visible.query.sql_with_params()
    # One tsquery per lexeme: coverage counts how many of them an article matches; rarity weighs each
    # by an inverse document frequency computed over the visible articles in the same query.
    prefix = re.sub(r"[^\w]", "", last_word)
    # Only the queryset's own SQL is interpolated; every value travels as a parameter.
    sql = f"""
    WITH visible AS ({visible_sql}),
    terms AS (
        SELECT term, query FROM (
            SELECT term, to_tsquery(%s::regconfig, quote_literal(term)) AS query
            FROM unnest(%s::text[]) AS term
        ) parsed WHERE numnode(query) > 0
    ),
    corpus AS (SELECT count(*)::float AS total FROM visible),
    weights AS (
        SELECT terms.term, terms.query,
               ln(1 + (SELECT total FROM corpus) / (1 + count(a.id))) AS idf
        FROM terms LEFT JOIN knowledge_article a
             ON a.id IN (SELECT visible.id FROM visible) AND a.search_vector @@ terms.query
        GROUP BY terms.term, terms.query
    ),
    any_query AS (
        SELECT coalesce(
            (SELECT string_agg(query::text, ' | ') FROM weights)
            || CASE WHEN %s <> '' THEN ' | ' || quote_literal(%s) || ':*' ELSE '' END,
            quote_literal(%s) || ':*'
        )::tsquery AS query
    ),
    candidates AS (
        SELECT a.id, a.search_vector,
               (SELECT coalesce(sum(w.idf), 0) FROM weights w
                 WHERE a.search_vector @@ w.query) AS matched_idf,
               (SELECT coalesce(sum(w.idf), 0) FROM weights w) AS total_idf,
               (SELECT coalesce(sum(w.idf), 0) FROM weights w
                 WHERE ts_rank('{{0,0,0,1}}', a.search_vector, w.query) > 0) AS title_idf
        FROM knowledge_article a, any_query
        WHERE a.id IN (SELECT visible.id FROM visible) AND a.search_vector @@ any_query.query
    )
    SELECT c.id,
           (CASE WHEN c.total_idf > 0 THEN c.matched_idf / c.total_idf ELSE 0 END) * 2.0
           + (CASE WHEN c.total_idf > 0 THEN c.title_idf / c.total_idf ELSE 0 END) * 1.0
           + ts_rank_cd('{{0.1,0.2,0.4,1.0}}', c.search_vector, any_query.query, 1) * 0.5
           + CASE WHEN c.search_vector @@ phraseto_tsquery(%s::regconfig, %s) THEN 0.5 ELSE 0 END AS score
    FROM candidates c, any_query
    ORDER BY score DESC, c.id
    LIMIT %s
    """  # noqa: S608
    params = [
        *visible_params, config, lexemes, prefix, prefix, prefix or "zzzz", config, text, limit,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    if not ranked:
        return []
    ids = [row[0] for row in ranked]
    articles = Article.objects.in_bulk(ids)
    snippets = _snippets(ids, text, config)
    return [SearchHit(articles[pk], score, snippets.get(pk, "")) for pk, score in ranked if pk in articles]


def _snippets(ids: list[int], text: str, config: str) -> dict[int, str]:
    """Highlighted excerpts (ts_headline) for the articles found; the markers are HTML-escaped later."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, ts_headline(%s::regconfig, body,
                   replace(plainto_tsquery(%s::regconfig, %s)::text, '&', '|')::tsquery,
                   'StartSel=[[[, StopSel=]]], MaxWords=30, MinWords=12, MaxFragments=2, '
                   'FragmentDelimiter=" … "')
            FROM knowledge_article WHERE id = ANY(%s)
            """,
            [config, config, text, ids],
        )
        return dict(cursor.fetchall())
