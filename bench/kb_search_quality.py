"""Search quality on the StackFAQ collection: MRR@10 and Recall@5 of the site's own KB search.

    .venv/bin/python bench/kb_search_quality.py [--queries PATH] [--baseline] [--sensitivity] [--typos]

Creates a throw-away database (bench_kb_search_quality, dropped at the end), imports
../shared/data/stackfaq/articles.jsonl with `kb_import`,
runs every question through knowledge.search.search_articles (what /kb/search/ runs) and prints the
figures with a 95% bootstrap interval and the MRR@10 of two halves split by article. --baseline
also scores plain full-text search (websearch_to_tsquery, every word ANDed, ranked by ts_rank) for
comparison; --sensitivity scores the site search again with each ranking weight at zero, half and
double its value; --typos scores the questions again with one typing slip each (a letter dropped,
doubled, swapped with its neighbour or replaced, never the first), the same slips on every run.
"""

import argparse
import json
import os
import random
import re
import statistics
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
DATA = ROOT.parent / "shared" / "data" / "stackfaq"
WEIGHTS = ("COVERAGE_WEIGHT", "TITLE_WEIGHT", "DENSITY_WEIGHT", "PHRASE_BONUS")


def bootstrap_interval(values: list[float], resamples: int = 2000) -> tuple[float, float]:
    """The 95% bootstrap interval of the mean: how far the figure could move on another question set of
    the same kind and size."""
    pick = random.Random(0)
    means = sorted(statistics.mean(pick.choices(values, k=len(values))) for _ in range(resamples))
    return means[int(resamples * 0.025)], means[int(resamples * 0.975) - 1]


def with_typo(query_id: str, text: str) -> str:
    """`text` with one typing slip in one of its words of five letters or more (seeded by the question)."""
    pick = random.Random(query_id)
    words = [match for match in re.finditer(r"[A-Za-z]{5,}", text)]
    if not words:
        return text
    word = pick.choice(words)
    original = letters = word.group()
    while letters == original:  # swapping the two o's of "facebook" is no slip
        at = pick.randrange(1, len(original) - 1)
        slip = pick.choice(("drop", "double", "swap", "replace"))
        if slip == "drop":
            letters = original[:at] + original[at + 1 :]
        elif slip == "double":
            letters = original[:at] + original[at] + original[at:]
        elif slip == "swap":
            letters = original[:at] + original[at + 1] + original[at] + original[at + 2 :]
        else:
            letters = (
                original[:at]
                + pick.choice(string.ascii_lowercase.replace(original[at], ""))
                + original[at + 1 :]
            )
    return text[: word.start()] + letters + text[word.end() :]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=Path, default=DATA / "articles.jsonl")
    parser.add_argument("--queries", type=Path, default=DATA / "queries-tuning.jsonl")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--sensitivity", action="store_true")
    parser.add_argument("--typos", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.models import AnonymousUser
    from django.core.management import call_command
    from django.db import connection
    from django.utils.text import slugify

    from knowledge import search
    from knowledge.models import Article
    from knowledge.search import search_articles

    # A name of its own: the default test_<NAME> may be a test run's database on the same server.
    connection.settings_dict["TEST"]["NAME"] = "bench_kb_search_quality"
    test_database = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        call_command("kb_import", str(args.articles), verbosity=0)
        by_id = {}
        for line in args.articles.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            by_id[record["id"]] = slugify(record["title"])[:200]
        slug_to_pk = dict(Article.objects.values_list("slug", "pk"))
        queries = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line]
        visitor = AnonymousUser()
        # Two halves of the questions, split by the article they ask for: a weight chosen on one half
        # should score about as well on the other, whose articles it never saw.
        articles = sorted({query["relevant_article"] for query in queries}, key=str)
        half = {article: index % 2 for index, article in enumerate(articles)}

        def site_search(text: str) -> list[int]:
            return [hit.article.pk for hit in search_articles(visitor, text, limit=10)]

        def plain_search(text: str) -> list[int]:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM knowledge_article "
                    "WHERE search_vector @@ websearch_to_tsquery('english', %s) "
                    "ORDER BY ts_rank(search_vector, websearch_to_tsquery('english', %s)) DESC LIMIT 10",
                    [text, text],
                )
                return [row[0] for row in cursor.fetchall()]

        engines = [("site search", site_search)] + ([("plain FTS", plain_search)] if args.baseline else [])
        print(f"{len(slug_to_pk)} articles, {len(queries)} questions from {args.queries.name}")

        def score(engine, typos: bool = False) -> tuple[list[float], list[float], list[float]]:
            reciprocal, recall, timings = [], [], []
            for query in queries:
                wanted = slug_to_pk[by_id[query["relevant_article"]]]
                text = with_typo(query["query_id"], query["text"]) if typos else query["text"]
                started = time.perf_counter()
                found = engine(text)
                timings.append((time.perf_counter() - started) * 1000)
                rank = found.index(wanted) + 1 if wanted in found else None
                reciprocal.append(1 / rank if rank else 0.0)
                recall.append(1.0 if rank and rank <= 5 else 0.0)
            return reciprocal, recall, timings

        runs = [(name, engine, False) for name, engine in engines]
        runs += [(f"{name}, typos", engine, True) for name, engine in engines] if args.typos else []
        for name, engine, typos in runs:
            reciprocal, recall, timings = score(engine, typos)
            low, high = bootstrap_interval(reciprocal)
            halves = [
                statistics.mean(
                    value
                    for value, query in zip(reciprocal, queries, strict=True)
                    if half[query["relevant_article"]] == side
                )
                for side in (0, 1)
            ]
            print(
                f"{name:19}  MRR@10 {statistics.mean(reciprocal):.3f} (95% CI {low:.3f}-{high:.3f}; "
                f"halves {halves[0]:.3f} / {halves[1]:.3f})   "
                f"Recall@5 {statistics.mean(recall):.3f}   p50 {statistics.median(timings):.1f} ms"
            )
        if args.sensitivity:
            print("\nEach weight of knowledge.search at 0, half and double its value, the others unchanged:")
            for weight in WEIGHTS:
                chosen = getattr(search, weight)
                row = []
                for factor in (0, 0.5, 2):
                    setattr(search, weight, chosen * factor)
                    try:
                        row.append(f"x{factor:<3} {statistics.mean(score(site_search)[0]):.3f}")
                    finally:
                        setattr(search, weight, chosen)
                print(f"  {weight:16} = {chosen:<4} " + "   ".join(row))
    finally:
        connection.creation.destroy_test_db(test_database, verbosity=0)


if __name__ == "__main__":
    main()
