"""Template source rules the engine does not enforce."""

import re
from pathlib import Path

from django.conf import settings

TEMPLATE_DIRS = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]


def test_no_one_line_comment_tag_runs_over_lines():
    """`{# … #}` ends at the line's end: the rest of a longer comment is printed on the page, as it once
    was at the top of every agent's queue. Longer comments take {% comment %}."""
    unclosed = [
        f"{path.relative_to(folder)}:{number}"
        for folder in TEMPLATE_DIRS
        for path in sorted(folder.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\{#(?!.*#\})", line)
    ]
    assert TEMPLATE_DIRS and not unclosed, unclosed
