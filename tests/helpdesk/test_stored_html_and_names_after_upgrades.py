"""Upgrading a database an older version made (2617bc7 and e529f6c, checked by hand, were migrated to
this one): each test runs a migration's step on rows as the older version wrote them, as
tests/helpdesk/test_case_clash_migrations.py does."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.management import _get_all_permissions
from django.contrib.auth.models import Permission
from django.db import connection

from accounts.models import Organization
from helpdesk.markdown import render_markdown
from tests.factories import make_customer, make_ticket
from tickets.models import TicketMessage

pytestmark = pytest.mark.django_db


def run_step(migration: str, function: str) -> None:
    editor = SimpleNamespace(connection=connection)
    getattr(importlib.import_module(migration), function)(apps, editor)


def run_every_message_rerender() -> None:
    """Every step of the tickets migrations since 2617bc7 that renders stored messages again."""
    run_step("tickets.migrations.0026_messages_rendered_with_the_link_budget", "render_again")
    run_step("tickets.migrations.0029_messages_rendered_with_list_starts_and_deep_text", "render_again")


def test_upgraded_database_names_organisation_permissions_as_a_new_one_does():
    """The wording change (e0e3a95) made Organization's verbose name "organisation" and renames, in
    databases made before, the permission names Django never renames itself. An administrator of an
    upgraded installation expects the role editor to read "Can add organisation", as a new database
    does, the four default permissions of Organization included."""
    organisation_permissions = dict(_get_all_permissions(Organization._meta))
    # As every database made before e0e3a95 holds them (Django named them after verbose_name "organization").
    for codename in organisation_permissions:
        if codename.endswith("_organization"):
            Permission.objects.filter(content_type__app_label="accounts", codename=codename).update(
                name=f"Can {codename.split('_')[0]} organization"
            )
    run_step("accounts.migrations.0021_british_names_and_plain_permission_names", "rename_permissions")
    stored = dict(
        Permission.objects.filter(
            content_type__app_label="accounts", codename__in=organisation_permissions
        ).values_list("codename", "name")
    )
    assert stored == organisation_permissions


OLD_RENDERINGS = {
    # Before b0c3e2c (2026-12-05) the sanitiser dropped <ol start>: steps 2 and 3 read 1 and 2.
    "list_start": (
        "1. Open settings\n\n```\nsudo reboot\n```\n\n2. Click save\n3. Done",
        "<ol>\n<li>Open settings</li>\n</ol>\n<pre><code>sudo reboot\n</code></pre>\n"
        "<ol>\n<li>Click save</li>\n<li>Done</li>\n</ol>",
    ),
    # Before 3881497 (2026-12-03 12:14) text nested past markdown-it's limit vanished from the HTML.
    "deep_nesting": (
        ">" * 25 + " deep words kept",
        "<blockquote>\n" * 19 + "<blockquote></blockquote>" + "\n</blockquote>" * 19,
    ),
}


@pytest.mark.parametrize("case", OLD_RENDERINGS)
def test_message_html_stored_by_an_older_renderer_is_rendered_again_on_upgrade(case):
    """A customer's message written before the renderer kept list numbers (or deeply nested text) is
    shown from its stored body_html. After an upgrade they expect their "2. Click save" to read 2 and
    their words to show, as the same text written today does (tickets 0026 rendered again only bodies
    with "![" or "]:")."""
    body, old_html = OLD_RENDERINGS[case]
    ticket = make_ticket(make_customer(), description=body)
    message = TicketMessage.objects.get(ticket=ticket)
    TicketMessage.objects.filter(pk=message.pk).update(body_html=old_html)
    assert old_html != render_markdown(body)
    run_every_message_rerender()
    assert TicketMessage.objects.get(pk=message.pk).body_html == render_markdown(body)


def test_an_article_with_text_nested_past_the_limit_is_rendered_again_on_upgrade():
    """Before 3881497 an article's words nested past twenty quotes vanished from its page; knowledge 0010
    rendered again only articles with headings or numbered lists."""
    from knowledge.models import Article
    from knowledge.services import article_html
    from tests.factories import make_article

    body, old_html = OLD_RENDERINGS["deep_nesting"]
    article = make_article(body=body)
    Article.objects.filter(pk=article.pk).update(body_html=old_html)
    run_step("knowledge.migrations.0018_articles_rendered_with_deep_text", "render_again")
    assert "deep words kept" in Article.objects.get(pk=article.pk).body_html == article_html(body)
