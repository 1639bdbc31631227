"""The per-lexeme document counts that KB search reads are kept exact by the database itself."""

from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.db import connection

from knowledge.models import Article, SearchTerm
from knowledge.search import search_articles
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def counts(*lexemes: str) -> dict[str, int]:
    found = dict(SearchTerm.objects.filter(lexeme__in=lexemes).values_list("lexeme", "documents"))
    return {lexeme: found.get(lexeme, 0) for lexeme in lexemes}


def test_counts_follow_inserts_edits_status_changes_and_deletes():
    printer = make_article("Printer jams", body="Paper jams in the printer tray.")
    make_article("Printer drivers", body="Install the printer driver.")
    make_article("Draft about printers", body="printer", status="draft")
    assert counts("", "printer", "jam", "driver") == {"": 2, "printer": 2, "jam": 1, "driver": 1}

    printer.body, printer.title, printer.excerpt = "Paper is stuck in the tray.", "Paper stuck", ""
    printer.save()
    assert counts("printer", "jam", "stuck") == {"printer": 1, "jam": 0, "stuck": 1}

    Article.objects.filter(pk=printer.pk).update(status="archived")
    assert counts("", "stuck") == {"": 1, "stuck": 0}

    Article.objects.filter(title="Printer drivers").delete()
    assert counts("", "printer", "driver") == {"": 0, "printer": 0, "driver": 0}


def public_counts(*lexemes: str) -> dict[str, int]:
    found = dict(SearchTerm.objects.filter(lexeme__in=lexemes).values_list("lexeme", "public_documents"))
    return {lexeme: found.get(lexeme, 0) for lexeme in lexemes}


def test_public_counts_follow_visibility_changes_as_well():
    notes = make_article("Escalation notes", body="Printer escalations.", visibility="internal")
    make_article("Printer jams", body="Paper jams in the printer tray.")
    assert counts("", "printer", "escal") == {"": 2, "printer": 2, "escal": 1}
    assert public_counts("", "printer", "escal") == {"": 1, "printer": 1, "escal": 0}

    Article.objects.filter(pk=notes.pk).update(visibility="public")
    assert public_counts("", "printer", "escal") == {"": 2, "printer": 2, "escal": 1}
    assert counts("", "printer", "escal") == {"": 2, "printer": 2, "escal": 1}

    Article.objects.filter(pk=notes.pk).update(status="draft")
    assert public_counts("", "printer", "escal") == {"": 1, "printer": 1, "escal": 0}
    Article.objects.filter(pk=notes.pk).update(status="published", visibility="internal")
    assert public_counts("", "printer", "escal") == {"": 1, "printer": 1, "escal": 0}
    assert counts("", "printer", "escal") == {"": 2, "printer": 2, "escal": 1}

    Article.objects.all().delete()
    assert (
        public_counts("", "printer", "jam") == counts("", "printer", "jam") == {"": 0, "printer": 0, "jam": 0}
    )


def test_views_counter_updates_leave_the_counts_alone():
    article = make_article("Printer jams", body="Paper jams in the printer tray.")
    Article.objects.filter(pk=article.pk).update(views=5)
    assert counts("", "printer") == {"": 1, "printer": 1}


def test_common_words_still_rank_articles_found_through_a_rare_word(monkeypatch):
    monkeypatch.setattr("knowledge.search.CANDIDATE_BUDGET", 2)
    for number in range(4):
        make_article(f"Account settings {number}", body="Your account page.")
    wanted = make_article("Delete your account", body="Deleting an account is final.")
    hits = search_articles(AnonymousUser(), "how do I delete my account")
    assert hits[0].article == wanted


def test_kb_reindex_moves_every_article_to_the_configured_language(settings):
    article = make_article(title="Running backups", body="The runner keeps running.")
    settings.KB_SEARCH_CONFIG = "simple"
    out = StringIO()
    call_command("kb_reindex", stdout=out)
    assert out.getvalue().strip() == "Re-indexed 1 article for 'simple'."
    article.refresh_from_db()
    assert article.search_config == "simple"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(search_vector) FROM knowledge_article WHERE id = %s", [article.pk]
        )
        (lexemes,) = cursor.fetchone()
    assert "running" in lexemes and "run" not in lexemes  # unstemmed, as "simple" keeps words
    call_command("kb_reindex", stdout=StringIO())  # nothing left to do
    settings.KB_SEARCH_CONFIG = "klingon"
    with pytest.raises(CommandError, match="no text-search configuration 'klingon'"):
        call_command("kb_reindex", stdout=StringIO())
