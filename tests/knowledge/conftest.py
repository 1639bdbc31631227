"""Fixtures the knowledge tests share: an author (an agent, who writes drafts) and an editor (a
supervisor, who publishes, sends back and deletes); helpers for the import and export commands."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.factories import TeamFactory, make_agent, make_supervisor


@pytest.fixture
def author():
    return make_agent(TeamFactory())


@pytest.fixture
def editor():
    return make_supervisor(TeamFactory())


def jsonl(path: Path, *records) -> Path:
    """`records` written to `path` as JSON Lines (non-ASCII as escapes: a lone surrogate too)."""
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n", "utf-8")
    return path


def run_command(command: str, *args, **options) -> tuple[str, str]:
    """What a management command wrote to stdout and to stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()
