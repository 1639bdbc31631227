"""Knowledge-base search: natural questions in, ranked articles with highlighted snippets out.

Plain full-text search ANDs every word, so a question like "how do I reset my password when the
email never arrives" finds nothing. Here the question's stemmed words are ORed, and the rank
rewards how many of them an article covers, where they occur (title A > tags/excerpt B > body C),
the whole phrase, and rare words over common ones (document frequencies come from SearchTerm, which
the database keeps current). The last word also matches as a prefix, for type-ahead, when it could be
the start of a word that matters: three letters or more, and not a stop word. A word no article
holds nor begins with is taken as a typing slip and replaced by the closest word the articles hold
("accont" finds "account"; see close_lexemes). The ranking runs in one SQL query on core PostgreSQL.
"""

import html
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from rapidfuzz import process
from rapidfuzz.distance import OSA

from accounts import rbac
from helpdesk.accents import MAY_FOLD, folded_sql, unaccented
from helpdesk.forms import unwidened
from knowledge.models import Article

MAX_TERMS = 12
# Candidates come from the rarest query terms until they cover this many articles (see search_articles),
# and no question ranks more than CANDIDATE_LIMIT articles.
CANDIDATE_BUDGET = 1_000
CANDIDATE_LIMIT = 2_000
# Besides, the articles with a word of the question in their title, up to this many: at 100,000 articles
# a one-word question held by half of them took 38 ms without them, 44 ms with 200 and 54 ms with 1,000
# (bench/README.md, the 2026-12-06 session).
TITLE_CANDIDATE_LIMIT = 200
# Words, and words joined by dots or "@" as PostgreSQL's parser keeps them whole (a host name, an
# address, a version, a file name: "vpn.example.com", "4.2.17", "config.yaml"), as the index holds them.
WORD = re.compile(r"[\w'-]+(?:[.@][\w'-]+)*", re.UNICODE)
# A shorter last word is no prefix: "refund a" would match every article with a word starting with "a".
MIN_PREFIX = 3
# How far a word being typed may run past its stem ("configurati" past "configur"); see _stem_typed_past.
STEM_OVERSHOOT = 4
# The score: the share of the question's (IDF-weighted) terms an article covers, the share found in
# its title, cover density, and a bonus for the whole phrase. A knowledge-base title usually is the
# question, so its coverage weighs most: on the StackFAQ tuning questions MRR@10 rises from 0.739
# (coverage 2, title 1) to 0.799, equally on two halves split by article, and stays flat from 4 to 10
# (bench/README.md; bench/kb_search_quality.py --sensitivity).
COVERAGE_WEIGHT = 1.0
TITLE_WEIGHT = 4.0
DENSITY_WEIGHT = 0.5
PHRASE_BONUS = 0.5
# A slip is a letter dropped, added, replaced or swapped with its neighbour: one in a word of four to
# seven letters, two in a longer one (shorter words are left alone: too many others lie one slip away).
MIN_CORRECTED = 4
LONG_WORD = 8


@dataclass
class SearchHit:
    article: Article
    rank: float
    snippet: str


def documents_column(public_only: bool) -> str:
    """The SearchTerm column that counts the articles a reader may read: one of two names, no input."""
    return "public_documents" if public_only else "documents"


def query_lexemes(
    text: str, last_word: str, config: str, *, public_only: bool = False
) -> tuple[list[str], list[str], list[str]]:
    """The distinct stemmed, stop-word-free lexemes of `text` (at most MAX_TERMS: the rarest words the
    articles hold, then words they do not hold in the order typed, so a long question keeps the words
    that tell articles apart), those of `last_word` alone (none for a stop word), and those of the
    first that no published article holds or begins with (typing slips, or words never used). For a
    reader of public articles only (`public_only`), only those count: a word that only internal
    articles hold is to them a word no article holds, and the words it would crowd out are theirs."""
    documents = documents_column(public_only)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.lexemes, t.last_lexemes, ARRAY(
                SELECT l FROM unnest(t.lexemes) AS l
                WHERE length(l) >= %s AND NOT EXISTS (
                    SELECT 1 FROM knowledge_searchterm s
                    WHERE s.lexeme >= l AND s.lexeme < l || chr(1114111) AND starts_with(s.lexeme, l)
                      AND s.{documents} > 0 AND s.lexeme <> ''
                )
            )
            FROM (
                SELECT ARRAY(
                    SELECT v.lexeme FROM unnest(knowledge_search_vector(%s::regconfig, %s)) AS v
                    LEFT JOIN knowledge_searchterm s ON s.lexeme = v.lexeme AND s.{documents} > 0
                    ORDER BY s.{documents} IS NULL, s.{documents}, v.positions[1]
                    LIMIT %s
                ) AS lexemes,
                ARRAY(SELECT lexeme FROM unnest(knowledge_search_vector(%s::regconfig, %s))) AS last_lexemes
            ) t
            """,  # noqa: S608 (a column name of two constants)
            [MIN_CORRECTED, config, text, MAX_TERMS, config, last_word],
        )
        lexemes, last_lexemes, unknown = cursor.fetchone()
    return lexemes or [], last_lexemes or [], unknown or []


def close_lexemes(unknown: list[str], visible: QuerySet) -> dict[str, str]:
    """For each unknown lexeme, the lexeme one slip away (two for a long word) that begins with the same
    letter and that an article of `visible` (those the reader may see) holds: the most used one where
    several are as close. SearchTerm counts every published article, internal ones too, so a candidate
    is confirmed against `visible`: a customer's "acount" must not become a word only internal articles
    use ("amount"), which would find them nothing.

    The candidates are read by first letter (an index range) and length, so a slip in the first
    letter goes uncorrected: few are, and it keeps the read to a few thousand short rows at worst."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT u.term, s.lexeme, s.documents FROM unnest(%s::text[]) AS u(term)
            JOIN knowledge_searchterm s
              ON s.lexeme >= left(u.term, 1) AND s.lexeme < left(u.term, 1) || chr(1114111)
             AND starts_with(s.lexeme, left(u.term, 1))
             AND length(s.lexeme) BETWEEN length(u.term) - 2 AND length(u.term) + 2
             AND s.documents > 0
            """,
            [unknown],
        )
        candidates: dict[str, dict[str, int]] = {}
        for term, lexeme, documents in cursor.fetchall():
            candidates.setdefault(term, {})[lexeme] = documents
    ranked: dict[str, list[str]] = {}
    for term, documents in candidates.items():
        slips = 1 if len(term) < LONG_WORD else 2
        close = process.extract(term, list(documents), scorer=OSA.distance, score_cutoff=slips, limit=None)
        ranked[term] = [lexeme for lexeme, *_ in sorted(close, key=lambda m: (m[1], -documents[m[0]], m[0]))]
    seen = _seen_lexemes({lexeme for lexemes in ranked.values() for lexeme in lexemes}, visible)
    return {
        term: next(lexeme for lexeme in lexemes if lexeme in seen)
        for term, lexemes in ranked.items()
        if any(lexeme in seen for lexeme in lexemes)
    }


def _stem_typed_past(prefix: str, visible: QuerySet) -> str | None:
    """The longest word stem an article of `visible` holds that `prefix` begins with, at most
    STEM_OVERSHOOT letters shorter. A word still being typed runs past its stored stem before the
    stemmer would cut it back ("billin" is neither "billing", stored as "bill", nor a prefix of it):
    without this, type-ahead found "bill" and "billing" but nothing in between."""
    shortest = max(MIN_PREFIX + 1, len(prefix) - STEM_OVERSHOOT)
    stems = _seen_lexemes({prefix[:end] for end in range(shortest, len(prefix))}, visible)
    return max(stems, key=len, default=None)


def _seen_lexemes(lexemes: set[str], visible: QuerySet) -> set[str]:
    """Those of `lexemes` that some article of `visible` holds (one GIN look-up each)."""
    if not lexemes:
        return set()
    visible_sql, visible_params = visible.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c FROM unnest(%s::text[]) AS c WHERE EXISTS (
                SELECT 1 FROM knowledge_article a
                WHERE a.search_vector @@ quote_literal(c)::tsquery AND a.id IN ({visible_sql})
            )
            """,  # noqa: S608 (only the queryset's own SQL is formatted in)
            [sorted(lexemes), *visible_params],
        )
        return {row[0] for row in cursor.fetchall()}


def search_articles(
    user, text: str, *, limit: int = 10, config: str | None = None, whole_words: bool = False
) -> list[SearchHit]:
    """The articles `user` may read that best answer `text`, best first. Its last word is also read as
    the start of a longer one (type-ahead) unless `whole_words`."""
    config = config or settings.KB_SEARCH_CONFIG
    typed = " ".join(WORD.findall(text or ""))[:300]
    if not typed:
        return []
    if (plain := unwidened(typed)) != typed:
        # A word typed in full-width letters (an East Asian input method): the article's tag is stored in
        # plain ones (as_tag), while its text may hold the full-width word as written; both are looked for.
        typed = f"{typed} {plain}"
    # The question's words are parsed as the articles' are (knowledge_search_vector: accents folded);
    # the typed prefix and the phrase are folded here alike.
    typed_last_word = WORD.findall(typed)[-1].lower()
    public_only = not rbac.is_agent(user)  # as Article.objects.publicly_listed_to reads the user
    lexemes, last_lexemes, unknown = query_lexemes(typed, typed_last_word, config, public_only=public_only)
    text, last_word = unaccented(typed), unaccented(typed_last_word)
    visible = Article.objects.publicly_listed_to(user).order_by().values("id")
    corrected = close_lexemes(unknown, visible) if unknown else {}
    # The typed prefix (for type-ahead), unless it is too short or a stop word ("the", "and", "it's"):
    # either would match a large share of the articles and bury the question's real words.
    # Of a joined word being typed ("two-fac"), the part being typed: squeezed ("twofac"), it finds nothing.
    prefix = re.sub(r"[^\w]", "", last_word.rsplit("-", 1)[-1])
    # A joined token ("4.2.17") is matched as a whole: squeezed into one prefix it would find nothing.
    if whole_words or len(prefix) < MIN_PREFIX or not last_lexemes or re.search(r"[.@]", last_word):
        prefix = ""
    elif all(lexeme in unknown and lexeme not in corrected for lexeme in last_lexemes):
        stem = _stem_typed_past(prefix, visible)
        if stem:
            corrected.update(dict.fromkeys(last_lexemes, stem))
            prefix = stem
    lexemes = list(dict.fromkeys(corrected.get(lexeme, lexeme) for lexeme in lexemes))
    if not lexemes and not prefix:
        return []
    visible_sql, visible_params = visible.query.sql_with_params()
    # A term's rarity among the articles the reader may read: counted over internal ones too, a public
    # article's place in a customer's results would move with what internal articles say.
    documents = documents_column(public_only)
    # One tsquery per lexeme: coverage counts how many of them an article matches; rarity weighs each
    # by an inverse document frequency read from the maintained per-lexeme counts (SearchTerm). The
    # rarest terms (and the typed prefix, when it is rare enough or no word typed is held whole) pick the
    # candidates until they reach CANDIDATE_BUDGET articles (the rarest always picks), and the articles
    # with any of the words in their title join them; the common ones still score every candidate. An
    # article matching only common words scores through low-weight words alone, so it seldom belongs
    # in the top ten, and a question of common words costs bounded ranking work.
    # Only the queryset's own SQL is interpolated; every value travels as a parameter.
    sql = f"""
    WITH terms AS (
        SELECT term, query, coalesce(s.{documents}, 0) AS documents FROM (
            -- The terms are lexemes already: parsed as they are, not stemmed again ("univers" would
            -- become "univ", "other" a stop word).
            SELECT term, quote_literal(term)::tsquery AS query
            FROM unnest(%s::text[]) AS term
        ) parsed LEFT JOIN knowledge_searchterm s ON s.lexeme = parsed.term
        WHERE numnode(query) > 0
    ),
    corpus AS (
        SELECT coalesce((SELECT {documents} FROM knowledge_searchterm WHERE lexeme = ''), 0)::float AS total
    ),
    weights AS (
        SELECT term, query, documents, ln(1 + (SELECT total FROM corpus) / (1 + documents)) AS idf,
               sum(documents) OVER (ORDER BY documents, term) - documents AS rarer_documents
        FROM terms
    ),
    prefix_documents AS (
        SELECT coalesce(sum({documents}), 0) AS documents FROM knowledge_searchterm
        WHERE %s <> '' AND lexeme >= %s AND lexeme < %s || chr(1114111) AND starts_with(lexeme, %s)
    ),
    any_query AS (
        SELECT coalesce(
            (SELECT string_agg(query::text, ' | ') FROM weights)
            || CASE WHEN %s <> '' THEN ' | ' || quote_literal(%s) || ':*' ELSE '' END,
            quote_literal(%s) || ':*'
        )::tsquery AS query
    ),
    candidate_query AS (
        SELECT coalesce(
            (SELECT string_agg(query::text, ' | ') FROM weights
              WHERE rarer_documents = 0 OR rarer_documents + documents <= %s)
            || CASE WHEN %s <> '' AND ((SELECT documents FROM prefix_documents) < %s
                                       OR NOT EXISTS (SELECT 1 FROM weights WHERE documents > 0))
                    THEN ' | ' || quote_literal(%s) || ':*' ELSE '' END,
            quote_literal(%s) || ':*'
        )::tsquery AS query
    ),
    -- `|| ''` detoasts each candidate's vector once, here: kept as stored (compressed, most of them out
    -- of line), it was read back and decompressed by each of the four tests below that use it, two
    -- thirds of the ranking's time for a question of several common words (72 -> 48 ms at 100,000).
    main AS MATERIALIZED (
        SELECT a.id, a.search_vector || ''::tsvector AS search_vector
        FROM knowledge_article a, candidate_query
        WHERE a.id IN ({visible_sql}) AND a.search_vector @@ candidate_query.query
        LIMIT %s
    ),
    picked AS (
        SELECT id, search_vector FROM main
        UNION ALL
        -- Any word of the question in the title, whatever the candidates above left out (the first
        -- CANDIDATE_LIMIT articles holding a common word are any of them), from the title's own index.
        (SELECT a.id, a.search_vector || ''::tsvector FROM knowledge_article a, any_query
         WHERE a.id IN ({visible_sql}) AND a.title_vector @@ any_query.query
           AND a.id NOT IN (SELECT id FROM main)
         LIMIT %s)
    ),
    candidates AS (
        SELECT a.id, a.search_vector,
               (SELECT coalesce(sum(w.idf), 0) FROM weights w
                 WHERE a.search_vector @@ w.query) AS matched_idf,
               (SELECT coalesce(sum(w.idf), 0) FROM weights w) AS total_idf,
               (SELECT coalesce(sum(w.idf), 0) FROM weights w
                 WHERE ts_rank('{{0,0,0,1}}', a.search_vector, w.query) > 0) AS title_idf
        FROM picked a
    )
    SELECT c.id,
           (CASE WHEN c.total_idf > 0 THEN c.matched_idf / c.total_idf ELSE 0 END) * %s
           + (CASE WHEN c.total_idf > 0 THEN c.title_idf / c.total_idf ELSE 0 END) * %s
           + ts_rank_cd('{{0.1,0.2,0.4,1.0}}', c.search_vector, any_query.query, 1) * %s
           + CASE WHEN c.search_vector @@ phraseto_tsquery(%s::regconfig, %s) THEN %s ELSE 0 END AS score
    FROM candidates c, any_query
    ORDER BY score DESC, c.id
    LIMIT %s
    """  # noqa: S608
    fallback = prefix or "zzzz"
    params = [
        lexemes,
        prefix, prefix, prefix, prefix,
        prefix, prefix, fallback,
        CANDIDATE_BUDGET, prefix, CANDIDATE_BUDGET, prefix, fallback,
        *visible_params, CANDIDATE_LIMIT, *visible_params, TITLE_CANDIDATE_LIMIT,
        COVERAGE_WEIGHT, TITLE_WEIGHT, DENSITY_WEIGHT, config, text, PHRASE_BONUS, limit,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    if not ranked:
        return []
    ids = [row[0] for row in ranked]
    articles = Article.objects.in_bulk(ids)
    snippets = _snippets(ids, typed, config, list(corrected.values()), lexemes, prefix)
    return [SearchHit(articles[pk], score, snippets.get(pk, "")) for pk, score in ranked if pk in articles]


# The article's text with its accents folded (as knowledge_search_vector folds what it indexes).
FOLDED_TEXT = folded_sql("text")

# ts_headline's match markers: private-use characters, taken out of the text before it runs, so
# that no "[[[" or "]]]" an article holds can pass for one.
MATCH_START, MATCH_END = "\ue000", "\ue001"
NO_MARKERS = dict.fromkeys(map(ord, MATCH_START + MATCH_END))


# Inline tags come out before ts_headline runs, which reads each tag as a token and puts a space in its
# place ("use Change password . Enter"); block tags stay, as the breaks between paragraphs they are.
INLINE_TAG = r"</?(a|abbr|b|cite|code|del|em|i|ins|kbd|mark|q|s|small|span|strong|sub|sup|u)(\s[^>]*)?>"


def _word_starts(lexemes: list[str]) -> list[str]:
    """How the words of `lexemes` begin in a text (a stem is mostly a word's start: "delet", "account";
    "happi" loses its last letter to find "happy" too), for where an excerpt is cut from: ts_headline
    still decides what matches. Found with strpos, which a regular expression was 10 ms slower than."""
    return sorted({lexeme[: max(MIN_PREFIX, len(lexeme) - 1)] for lexeme in lexemes if lexeme})


SNIPPETS_SQL = r"""
WITH article AS MATERIALIZED (  -- its regular expression runs once, not once per use below
    SELECT id, regexp_replace(
        translate(coalesce(nullif(body_html, ''), body), %s, ''), %s, '', 'gi'
    ) AS text
    FROM knowledge_article WHERE id = ANY(%s)
), starts AS (
    SELECT %s::text[] AS word_starts
), plain AS MATERIALIZED (
    -- Materialised, as `windowed` is: inlined, each use of a column below copied its sub-selects into
    -- the plan (some ninety of them, 2 ms of planning) and ran them again (half the statement's time).
    -- Where the words searched for first occur as written, and whether some may occur only with
    -- accents (the question folded finds "Café" for "cafe"): then the window is found in the text
    -- folded, and the words as written are marked (below).
    SELECT id, text, regexp_replace(text, '<[^>]*>', ' ', 'g') AS words,
           (SELECT min(CASE
                WHEN found = 0 THEN NULL
                WHEN found = 1 OR substr(lowered, found - 1, 1) !~ '[[:alnum:]_]' THEN found
                -- Inside another word ("log" in "blog"): where it starts a word, if it does: after the
                -- first mark that precedes it (a regular expression, for the few words found so;
                -- regexp_instr would be PostgreSQL 15+).
                ELSE (SELECT strpos(lowered, before[1] || start_of) + 1 FROM regexp_match(
                    lowered, '([^[:alnum:]_])' || regexp_replace(start_of, '([^[:alnum:]_])', '\\\1', 'g')
                ) AS before)
            END) - 1
            FROM unnest(starts.word_starts) AS start_of, LATERAL (SELECT strpos(lowered, start_of) AS found) f
           ) AS before_match,
           text ~ '{MAY_FOLD}' AND EXISTS (
               SELECT 1 FROM unnest(starts.word_starts) AS start_of WHERE strpos(lowered, start_of) = 0
           ) AS may_be_folded
    FROM (SELECT id, text, lower(text) AS lowered FROM article) a, starts
), windowed AS MATERIALIZED (
    SELECT id, words, text, may_be_folded,
           greatest(1, coalesce(
               before_match,
               CASE WHEN may_be_folded THEN (
                   SELECT min(nullif(strpos(lower({FOLDED_TEXT}), start_of), 0)) - 1
                   FROM unnest(starts.word_starts) AS start_of
               ) END,
               0
           ) + 1 - %s) AS start
    FROM plain, starts
), part AS (
    -- ts_headline parses all it is given: a long article gives it a window from a little
    -- before its first match, cut at whole words and tags (nothing cut at an end it keeps).
    SELECT id, words, may_be_folded, CASE
        WHEN length(text) <= %s THEN text
        ELSE (SELECT CASE WHEN start + %s > length(text) THEN cut
                          ELSE regexp_replace(cut, '(?:<[^>]*|\s\S*)$', '') END
              FROM (SELECT CASE WHEN start = 1 THEN piece
                                ELSE regexp_replace(piece, '^(?:[^<]*>)?\S*\s', '') END AS cut
                    FROM (SELECT substr(text, start, %s) AS piece) p) c)
    END AS text
    FROM windowed
)
SELECT id, ts_headline(%s::regconfig, text,
       concat_ws(' | ',
                 nullif(replace(plainto_tsquery(%s::regconfig, %s)::text, '&', '|'), ''),
                 (SELECT string_agg(quote_literal(c), ' | ') FROM unnest(%s::text[]) AS c),
                 CASE WHEN %s <> '' THEN quote_literal(%s) || ':*' END,
                 written.terms
       )::tsquery,
       %s), left(words, %s), right(words, %s)
FROM part, LATERAL (
    -- The words as written that fold to a word searched for ("Café" for "cafe"): their
    -- places in the text are those of the folded words, found in the text folded. Only where some
    -- word searched for is not in the text as written (checked first, once, without parsing).
    SELECT string_agg(DISTINCT quote_literal(w.lexeme), ' | ') AS terms
    FROM unnest(to_tsvector(%s::regconfig, text)) w
    WHERE may_be_folded AND w.positions && ARRAY(
        SELECT unnest(v.positions) FROM unnest(to_tsvector(%s::regconfig, {FOLDED_TEXT})) v
        WHERE v.lexeme = ANY(%s::text[])
    )
) written
""".replace("{FOLDED_TEXT}", FOLDED_TEXT).replace("{MAY_FOLD}", MAY_FOLD)


def _snippets(
    ids: list[int], text: str, config: str, corrected: list[str], lexemes: list[str] = (), prefix: str = ""
) -> dict[int, str]:
    """Highlighted excerpts (ts_headline) of the articles found (matching the question's words, the
    corrections of its slips and the word being typed, `prefix`), as plain text with the matches between
    MATCH_START and MATCH_END; the template's `highlight` filter escapes them and turns the markers into
    <mark>.

    They are cut from the rendered body, not the markdown, whose syntax they showed ("**Sign in**",
    "2. Wait"), its inline tags taken out first (INLINE_TAG); the entities the sanitiser wrote ("&lt;",
    "&amp;") are decoded here, so that the filter escapes the text exactly once. An excerpt that starts
    or ends inside the article says so with "…"."""
    searched = sorted({*corrected, *lexemes})
    with connection.cursor() as cursor:
        cursor.execute(
            SNIPPETS_SQL,
            [
                MATCH_START + MATCH_END,
                INLINE_TAG,
                ids,
                _word_starts([*lexemes, prefix]),
                HEADLINE_LEAD,
                HEADLINE_WINDOW,
                HEADLINE_WINDOW,
                HEADLINE_WINDOW,
                config,
                config,
                text,
                searched,
                prefix,
                prefix,
                # ShortWord=0: "To read a cell…" keeps its "To" (the default drops words of 3 letters).
                f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=30, MinWords=12, MaxFragments=2, "
                f'ShortWord=0, FragmentDelimiter="{FRAGMENTS}"',
                ENDS,
                ENDS,
                config,
                config,
                searched,
            ],
        )
        return {pk: _cut_marked(snippet, head, tail) for pk, snippet, head, tail in cursor.fetchall()}


FRAGMENTS = " … "
# The characters of an article ts_headline reads: all of one up to HEADLINE_WINDOW long, else a window
# that starts HEADLINE_LEAD before its first match. ts_headline's time grows with what it parses (13
# ms for the 20 results of a page, 55 kB, on a slow VM), and two fragments of 30 words fit well inside.
HEADLINE_WINDOW = 1_500
HEADLINE_LEAD = 300


# How much of the article's text, at each end, tells whether an excerpt starts or ends it: an excerpt
# is at most 30 words, so one that starts (ends) the article lies within this many characters of it.
ENDS = 300


def _unescaped(snippet: str) -> str:
    """The snippet's text unescaped but for its match markers: one an article spells as an entity
    ("&#xE000;") would otherwise become a marker, a highlight around words nobody searched for."""
    pieces = re.split(f"([{MATCH_START}{MATCH_END}])", snippet)
    return "".join(
        piece if piece in (MATCH_START, MATCH_END) else html.unescape(piece).translate(NO_MARKERS)
        for piece in pieces
    )


def _cut_marked(snippet: str, head: str, tail: str) -> str:
    """The snippet single-spaced (the line breaks between the page's blocks mean nothing in one line),
    with "…" before it when it does not start the article and after it when it does not end it (and the
    closing punctuation ts_headline leaves out put back when it does). `head` and `tail` are the ends
    of the article's text (its tags made spaces), read instead of all of it: fetching and rewriting
    every article found cost more than the rest of the search page's Python. The whole first (last)
    fragment is compared with the article's start (end), not a few words: an article that repeats its
    closing words ("Thanks again.") must not pass an excerpt from its middle for its end."""
    snippet = " ".join(_unescaped(snippet).split())
    fragments = snippet.replace(MATCH_START, "").replace(MATCH_END, "").split(FRAGMENTS.strip())
    first, last = " ".join(fragments[0].split()), " ".join(fragments[-1].split())
    head, tail = " ".join(html.unescape(head).split()), " ".join(html.unescape(tail).split())
    if first and not _overlaps(head.lstrip(EDGE), first.lstrip(EDGE), at_start=True):
        snippet = "… " + snippet
    if last:
        text, trimmed = tail.rstrip(EDGE), last.rstrip(EDGE)
        if _overlaps(text, trimmed, at_start=False):
            snippet = snippet.rstrip(EDGE) + tail[len(text) :]  # the closing punctuation, put back
        else:
            snippet += " …"
    return snippet


# What ts_headline may leave off an excerpt's ends: spaces and punctuation, no word characters.
EDGE = (
    " .,;:!?…()[]{}\"'«»-"
    + "\N{LEFT SINGLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
    + ("\N{LEFT DOUBLE QUOTATION MARK}\N{RIGHT DOUBLE QUOTATION MARK}")
)


def _overlaps(text: str, fragment: str, *, at_start: bool) -> bool:
    """Whether `fragment` starts (ends) `text`, as far as the shorter of them reaches."""
    size = min(len(text), len(fragment))
    if size == 0:
        return False
    return text[:size] == fragment[:size] if at_start else text[-size:] == fragment[-size:]
