"""How long the text checks take on the longest input a form takes, and KB search on hostile questions:
speed targets that once were timed assertions in the test suite (which asserts behaviour only).

    .venv/bin/python bench/input_speed.py

Prints one line per check with its median of five runs and its target. Needs no database for the text
checks; the KB part searches the database of DATABASE_URL (or the embedded one) as an anonymous visitor.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import AnonymousUser  # noqa: E402

from helpdesk import markdown  # noqa: E402
from helpdesk.forms import as_tag, reads_as, shows_text  # noqa: E402
from knowledge.search import search_articles  # noqa: E402
from knowledge.services import BODY_MAX_LENGTH, article_html  # noqa: E402

HOSTILE_QUESTIONS = [
    "the a of", "how do i", "a", "?!.,;:", "''''", "& | ! <-> : * ( ) ' \"", "password & reset",
    " ".join(["password"] * 1000), "x" * 10_000,
]  # fmt: skip


def median_seconds(check, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        check()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    spaces = " " * 200_000 + "\u200b" * 1000
    long_text = "Grüße aus Köln \u200b\U000e0041 " * 40_000  # ~720,000 characters
    checks = [
        ("shows_text, 200,000 spaces and 1,000 zero-width", lambda: shows_text(spaces), 0.5),
        ("reads_as and as_tag, 720,000 characters", lambda: (reads_as(long_text), as_tag(long_text)), 2.0),
        # The editor's preview of the longest body, of nothing but opening brackets (nested link syntax),
        # rendered afresh each run (a rendering is kept for the same request's second look).
        (
            "article_html, the longest body of '['",
            lambda: (markdown._rendered.cache_clear(), article_html("[" * BODY_MAX_LENGTH)),
            10.0,
        ),
    ]
    checks += [
        (f"KB search {question[:30]!r}", lambda q=question: search_articles(AnonymousUser(), q), 2.0)
        for question in HOSTILE_QUESTIONS
    ]
    for name, check, target in checks:
        seconds = median_seconds(check)
        verdict = "ok" if seconds <= target else "OVER"
        print(f"{name:<55} {seconds * 1000:9.1f} ms   target {target * 1000:6.0f} ms   {verdict}")


if __name__ == "__main__":
    main()
