"""Ticket tags and knowledge-base article tags, typed, stored, filtered and shown.

The same tag typed differently must be one tag everywhere (inline edit, bulk, admin, the queue's
filter, the KB); refusals come back 422 with the input; odd filter values never give a 500."""

# ruff: noqa: RUF001, RUF002 (full-width letters on purpose)

import importlib
import unicodedata
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from knowledge import services as kb_services
from knowledge.models import Article
from tests.conftest import made_once_per_module
from tests.factories import (
    TagFactory,
    TeamFactory,
    article_form_data,
    make_administrator,
    make_agent,
    make_article,
    make_customer,
    make_ticket,
)
from tickets import services
from tickets.models import Tag, Ticket, TicketActivity

pytestmark = pytest.mark.django_db

QUEUE = "/desk/"


def text(response) -> str:
    return unescape(response.content.decode())


def fresh(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def tags_of(ticket) -> list[str]:
    return sorted(fresh(ticket).tags.values_list("name", flat=True))


def update_url(ticket) -> str:
    return reverse("tickets:desk_update", args=[ticket.number])


def edit_tags(client, ticket, value, **extra):
    return client.post(
        update_url(ticket), {"field": "tags", "value": value, "version": fresh(ticket).version}, **extra
    )


def bulk(client, tickets, action, value):
    return client.post(
        reverse("tickets:desk_bulk"),
        {"tickets": [f"{t.pk}:{fresh(t).version}" for t in tickets], "action": action, "value": value},
    )


def queue_pks(response) -> list[int]:
    return [t.pk for t in response.context["queue"].tickets]


def make_desk():
    support = TeamFactory(name="Support")
    agent = make_agent(support, name="Alex Agent")
    customer = make_customer(name="Carla Customer")
    ticket = make_ticket(customer, team=support, subject="Printer on fire")
    other = make_ticket(customer, team=support, subject="Untagged one")
    return {"agent": agent, "customer": customer, "support": support, "ticket": ticket, "other": other}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


# --- One tag however it is typed ---------------------------------------------------------------


@pytest.mark.parametrize(
    "first,second",
    [
        ("café", "Cafe\u0301"),  # NFC and NFD
        ("Big Customer", "  big   CUSTOMER "),
        ("vip", "V\u200bIP"),  # zero-width space inside
        ("vip", "vip\ufe0f"),  # variation selector
    ],
)
def test_inline_edit_stores_the_same_tag_typed_two_ways_once(client, desk, first, second):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = edit_tags(client, ticket, f"{first}, {second}")
    assert response.status_code == 302
    assert len(tags_of(ticket)) == 1
    assert Tag.objects.count() == 1


def test_full_width_letters_are_the_same_tag_as_ascii(client, desk):
    """An agent on a Japanese or Chinese keyboard types 'ＶＩＰ' (full-width letters, as an IME gives
    them); on screen it reads VIP. It is the existing tag 'vip' (one chip, found by ?tag=vip). Before
    the fix, a second tag 'ｖｉｐ' was created next to 'vip', and the filter for 'vip' missed the ticket."""
    ticket, other = desk["ticket"], desk["other"]
    services.ticket_set_tags(other, names=["vip"], actor=desk["agent"])
    client.force_login(desk["agent"])
    assert edit_tags(client, ticket, "ＶＩＰ").status_code == 302
    assert tags_of(ticket) == ["vip"]
    assert list(Tag.objects.values_list("name", flat=True)) == ["vip"]


def test_full_width_tag_in_the_queue_filter_finds_the_tag(client, desk):
    """Typing 'ＶＩＰ' in the queue's Tag filter should find the tickets tagged 'vip' (as 'VIP' does).
    Before the fix, no ticket found."""
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["vip"], actor=desk["agent"])
    client.force_login(desk["agent"])
    assert queue_pks(client.get(QUEUE, {"tag": "ＶＩＰ"})) == [ticket.pk]


def test_a_sharp_s_stays_as_typed(client, desk):
    """'Straße' is the tag 'straße', as typed: case-folding would make it 'strasse' (and a Greek word's
    final ς a σ), a tag the agent did not write. 'STRASSE' in capitals is then another tag, as in other
    helpdesks that lower-case tags."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    edit_tags(client, ticket, "Straße, ΟΔΟΣ")
    assert tags_of(ticket) == ["straße", "οδος"]


def test_turkish_capital_dotted_i_is_the_same_tag_as_lower_case(client, desk):
    """'İzmir' (Turkish capital dotted I) in lower case is 'izmir'. One tag, and ?tag=izmir finds
    the ticket tagged 'İzmir'. Before the fix, str.lower() gives 'i' + U+0307 COMBINING DOT ABOVE, stored as
    a separate tag that reads 'i̇zmir' and that the filter for 'izmir' does not find."""
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    edit_tags(client, ticket, "İzmir")
    assert queue_pks(client.get(QUEUE, {"tag": "izmir"})) == [ticket.pk]


def test_bulk_add_of_a_tag_typed_otherwise_reuses_the_tag(client, desk):
    ticket, other = desk["ticket"], desk["other"]
    services.ticket_set_tags(ticket, names=["key account"], actor=desk["agent"])
    client.force_login(desk["agent"])
    response = bulk(client, [ticket, other], "add_tag", "  KEY\u200b  Account ")
    assert response.status_code == 302
    assert tags_of(ticket) == tags_of(other) == ["key account"]
    assert Tag.objects.count() == 1


def test_bulk_tag_with_a_comma_or_quotes_is_refused_422_with_the_ticks(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = bulk(client, [ticket], "add_tag", '"a, b"')
    assert response.status_code == 422
    assert '"a, b"' in text(response)
    assert tags_of(ticket) == []


def test_the_admin_refuses_a_tag_typed_differently_from_an_existing_one(superuser_client):
    TagFactory(name="café")
    response = superuser_client.post(reverse("admin:tickets_tag_add"), {"name": " CAFE\u0301 "})
    assert response.status_code in (200, 422)
    assert Tag.objects.count() == 1


def test_the_admin_refuses_a_full_width_tag_next_to_the_ascii_one(superuser_client):
    """An administrator adds 'ＶＩＰ' while 'vip' exists: expected refused as the same tag (the admin
    already refuses 'VIP'). Before the fix, a second tag that reads the same is created."""
    TagFactory(name="vip")
    superuser_client.post(reverse("admin:tickets_tag_add"), {"name": "ＶＩＰ"})
    assert Tag.objects.count() == 1


# --- Limits and refusals -----------------------------------------------------------------------


def test_a_fifty_letter_tag_typed_decomposed_is_accepted(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    typed = "e\u0301" * 50  # 100 characters as typed, 50 as stored
    assert edit_tags(client, ticket, typed).status_code == 302
    assert tags_of(ticket) == ["é" * 50]


def test_a_too_long_tag_is_refused_422_and_the_input_refilled(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    typed = "billing, " + "x" * 51
    response = edit_tags(client, ticket, typed)
    assert response.status_code == 422
    assert f'value="{typed}"' in text(response)
    assert tags_of(ticket) == []


def test_a_10000_character_tag_edit_is_refused_not_a_500(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    response = edit_tags(client, ticket, "a" * 10_000, HTTP_HX_REQUEST="true")
    assert response.status_code == 422


def test_a_nul_character_in_a_tag_is_refused(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    assert edit_tags(client, ticket, "vi\x00p").status_code == 422
    assert tags_of(ticket) == []


def test_many_tags_on_one_ticket_save_and_show(client, desk):
    ticket = desk["ticket"]
    client.force_login(desk["agent"])
    names = [f"tag {n}" for n in range(300)]
    assert edit_tags(client, ticket, ", ".join(names)).status_code == 302
    assert len(tags_of(ticket)) == 300
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    assert page.status_code == 200 and "tag 299" in text(page)


def test_a_legacy_blank_tag_on_a_ticket_does_not_block_editing_its_tags(client, desk):
    """A tag of only an invisible letter (the Hangul filler U+3164) was accepted once. The workspace fills
    the tags box with the ticket's tags, so a blank one left there would be sent back and refused, about
    a tag the agent cannot see: the migration that spells tags alike removes it."""
    ticket = desk["ticket"]
    blank = Tag.objects.create(name="\u3164")  # stored before blank tags were refused
    ticket.tags.add(blank)
    respell_stored_tags()
    assert not Tag.objects.filter(pk=blank.pk).exists()
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    shown = page.content.decode().split('id="edit-tags"')[1].split('value="')[1].split('"')[0]
    response = edit_tags(client, ticket, unescape(shown) + ", billing")
    assert response.status_code == 302
    assert "billing" in tags_of(ticket)


def test_a_legacy_tag_with_an_invisible_character_is_removed_by_its_visible_name(client, desk):
    """'vip' followed by a combining grapheme joiner was stored as its own tag before invisible characters
    were dropped. It shows as 'vip': once the migration has merged it into 'vip', bulk 'remove tag vip'
    removes it, and ?tag=vip finds the ticket."""
    ticket = desk["ticket"]
    other = make_ticket(desk["customer"], team=desk["support"])
    ticket.tags.add(Tag.objects.create(name="vip\u034f"))
    other.tags.add(Tag.objects.create(name="vip"), Tag.objects.create(name="ＶＩＰ"))
    respell_stored_tags()
    assert tags_of(other) == ["vip"]
    client.force_login(desk["agent"])
    assert sorted(queue_pks(client.get(QUEUE, {"tag": "vip"}))) == sorted([ticket.pk, other.pk])
    bulk(client, [ticket], "remove_tag", "vip")
    assert tags_of(ticket) == []


def respell_stored_tags() -> None:
    from django.apps import apps

    importlib.import_module("tickets.migrations.0019_tags_spelled_alike").respell(apps, None)


# --- The queue's tag filter ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["\x00", "%00", "a" * 10_000, "\u200b", "<script>", "'; --", "é" * 51])
def test_odd_tag_filter_values_never_give_a_500(client, desk, value):
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"tag": value})
    assert response.status_code == 200
    if value == "<script>":
        assert 'value="<script>"' not in response.content.decode()


def test_a_long_tag_filter_value_says_it_was_not_applied(client, desk):
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"tag": "a" * 10_000})
    assert response.status_code == 200
    assert "Tag" in " ".join(response.context["queue"].filterset.problems)


def test_the_filter_finds_a_fifty_letter_tag_typed_decomposed(client, desk):
    """A tag of 50 accented letters is accepted when typed decomposed (macOS, copy-paste): stored as 50
    characters. Typed the same way into the queue's Tag filter, the user expects the ticket. Before the
    fix, the filter checked max_length=50 on the raw text (100 characters), refused it as too long and
    showed every ticket instead."""
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["é" * 50], actor=desk["agent"])
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"tag": "e\u0301" * 50})
    assert queue_pks(response) == [ticket.pk]


def test_a_tag_that_does_not_exist_finds_nothing(client, desk):
    services.ticket_set_tags(desk["ticket"], names=["vip"], actor=desk["agent"])
    client.force_login(desk["agent"])
    assert queue_pks(client.get(QUEUE, {"tag": "nobody-has-this"})) == []


def test_a_saved_view_with_a_tag_filter_finds_the_tag(client, desk):
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["vip"], actor=desk["agent"])
    client.force_login(desk["agent"])
    response = client.post(reverse("tickets:desk_view_create"), {"name": "VIPs", "query": "tag=VIP"})
    assert response.status_code == 302
    assert queue_pks(client.get(response["Location"])) == [ticket.pk]


# --- Timeline, portal, admin -------------------------------------------------------------------


def test_the_timeline_shows_old_and_new_tags_escaped(client, desk):
    ticket = desk["ticket"]
    ticket.tags.add(Tag.objects.create(name="<b>legacy</b>"))  # stored by an older rule or a fixture
    services.ticket_set_tags(fresh(ticket), add=["billing"], actor=desk["agent"])
    client.force_login(desk["agent"])
    page = client.get(reverse("tickets:desk_ticket", args=[ticket.number]))
    body = page.content.decode()
    assert "<b>legacy</b>" not in body and "&lt;b&gt;legacy&lt;/b&gt;" in body
    entry = TicketActivity.objects.filter(ticket=ticket, action="tags").latest("pk")
    assert entry.old_value == ["<b>legacy</b>"] and "billing" in entry.new_value


def test_the_requester_does_not_see_internal_tags_on_the_portal(client, desk):
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["angry customer"], actor=desk["agent"])
    client.force_login(desk["customer"])
    page = client.get(reverse("tickets:portal_detail", args=[ticket.number]))
    assert page.status_code == 200
    assert "angry customer" not in text(page)
    listing = client.get(reverse("tickets:portal_list"))
    assert "angry customer" not in text(listing)


def test_the_admin_cannot_delete_a_tag_in_use_and_the_ticket_keeps_it(superuser_client, desk):
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["vip"], actor=desk["agent"])
    tag = Tag.objects.get(name="vip")
    superuser_client.post(reverse("admin:tickets_tag_delete", args=[tag.pk]), {"post": "yes"})
    assert tags_of(ticket) == ["vip"]


def test_double_click_on_save_tags_typed_differently_is_answered_saved(client, desk):
    ticket = desk["ticket"]
    seen = ticket.version
    client.force_login(desk["agent"])
    url = update_url(ticket)
    assert client.post(url, {"field": "tags", "value": "VIP, Billing", "version": seen}).status_code == 302
    again = client.post(url, {"field": "tags", "value": "VIP, Billing", "version": seen}, follow=True)
    assert again.status_code == 200 and "Saved." in text(again)


def test_the_tag_admin_changelist_with_many_tags_answers(superuser_client):
    Tag.objects.bulk_create([Tag(name=f"tag {n:05}") for n in range(3000)])
    response = superuser_client.get(reverse("admin:tickets_tag_changelist"), {"q": "tag 0299"})
    assert response.status_code == 200


# --- Knowledge-base tags -----------------------------------------------------------------------


@pytest.fixture
def editor(client):
    client.force_login(make_administrator(is_superuser=True))
    return client


def test_kb_tags_typed_composed_and_decomposed_in_the_editor_are_one_tag(editor):
    """An editor saves tags 'Café, cafe\u0301' (one typed on macOS or pasted). One tag 'café'
    (article_create already composes first). Happens on an edit: clean_tags de-duplicates before the
    text is composed (article_update composes after), so the article shows 'café, café'."""
    article = make_article(title="Opening hours", body="We open at nine.")
    data = article_form_data(article, tags="Café, cafe\u0301")
    response = editor.post(reverse("knowledge:manage_edit", args=[article.slug]), data)
    assert response.status_code == 302
    assert Article.objects.get(pk=article.pk).tag_list == ["café"]


def test_kb_tags_with_an_invisible_character_are_one_tag(editor):
    """'vip' and 'vip' with a zero-width space read alike as two badges. Ticket tags drop such characters
    (tag_name); KB clean_tags keeps them, so the article shows two identical 'vip' badges."""
    article = make_article(title="Priority support", body="For key accounts.")
    data = article_form_data(article, tags="vip, vi\u200bp")
    editor.post(reverse("knowledge:manage_edit", args=[article.slug]), data)
    assert Article.objects.get(pk=article.pk).tag_list == ["vip"]


def test_kb_create_tags_normalised(editor):
    article = kb_services.article_create(
        title="Reset", body="Steps.", tags="  VPN ,vpn, Cafe\u0301 , café,, ", actor=None
    )
    assert article.tag_list == ["vpn", "café"]


def test_kb_tags_of_only_invisible_characters_are_dropped():
    article = kb_services.article_create(title="Blank", body="Body.", tags="\u3164, \u034f, ok", actor=None)
    assert article.tag_list == ["ok"]


def test_kb_tags_are_escaped_on_the_article_page(client):
    article = make_article(title="Escaping", body="Body.", tags="<img src=x onerror=alert(1)>")
    assert article.status == Article.Status.PUBLISHED
    page = client.get(reverse("knowledge:article", args=[article.slug]))
    assert page.status_code == 200
    assert "<img src=x" not in page.content.decode()


def test_kb_search_finds_an_article_by_its_tag(client):
    article = kb_services.article_create(
        title="Working from home",
        body="Connect before opening the intranet.",
        tags="vpn",
        actor=None,
        status=Article.Status.PUBLISHED,
    )
    make_article(title="Network basics", body="Plain text.", status=Article.Status.PUBLISHED)
    response = client.get(reverse("knowledge:search"), {"q": "vpn"})
    assert response.status_code == 200
    assert article.title in text(response)


def test_kb_import_front_matter_tags_are_cleaned(tmp_path):
    from django.core.management import call_command

    (tmp_path / "a.md").write_text(
        "---\ntitle: Imported\ntags: [VPN, \"Cafe\u0301\", vpn, ' spaced   out ']\nstatus: published\n"
        "---\nBody text.\n",
        encoding="utf-8",
    )
    call_command("kb_import", str(tmp_path), verbosity=0)
    article = Article.objects.get(title="Imported")
    assert article.tag_list == ["vpn", unicodedata.normalize("NFC", "café"), "spaced out"]


def test_retyping_the_same_tags_differently_records_no_change(client, desk):
    ticket = desk["ticket"]
    services.ticket_set_tags(ticket, names=["vip", "café"], actor=desk["agent"])
    before = (fresh(ticket).version, TicketActivity.objects.filter(ticket=ticket).count())
    client.force_login(desk["agent"])
    assert edit_tags(client, ticket, " Cafe\u0301 ,VIP, vip,").status_code == 302
    assert (fresh(ticket).version, TicketActivity.objects.filter(ticket=ticket).count()) == before


def test_article_tags_stored_before_are_spelled_alike_by_the_migration():
    from django.apps import apps

    from knowledge.models import Article

    article = make_article(title="Refunds", body="Words")
    Article.objects.filter(pk=article.pk).update(tags="Café, cafe\u0301, ＶＩＰ, vi\u200bp")
    importlib.import_module("knowledge.migrations.0011_tags_spelled_alike").respell(apps, None)
    assert Article.objects.get(pk=article.pk).tags == "café, vip"


@pytest.mark.parametrize("name", ["نرم\u200cافزار", "می\u200cخواهم", "क्\u200dष"])
def test_a_tag_spelled_with_a_zero_width_joiner_or_non_joiner_between_letters_is_taken(name):
    """Persian spells everyday words with the non-joiner ("نرم‌افزار", software); Indic scripts shape
    conjuncts with the joiner: both kept, between letters."""
    assert services.clean_tag_names([name]) == [name]


@pytest.mark.parametrize("name", ["\u200cprinter", "printer\u200c", "a\u200c-b", "a\u200c\u200cb"])
def test_a_joiner_that_joins_no_two_letters_is_refused_in_a_tag(name):
    with pytest.raises(ValidationError):
        services.clean_tag_names([name])
