"""User text is shown as text: XSS attempts in every rendered field, and link schemes."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.markdown import markdown_text, render_markdown
from tests.factories import TicketFormFactory, make_article, make_customer, make_ticket

pytestmark = pytest.mark.django_db

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        (PAYLOAD, "<script"),
        (PAYLOAD, "<img"),
        ("[click](javascript:alert(1))", "javascript:"),
        ("[click](JaVaScRiPt:alert(1))", 'alert(1)"'),
        ("[data](data:text/html;base64,PHNjcmlwdD4=)", "data:"),
        ("![pixel](https://tracker.example/p.gif)", "<img"),
        ('<a href="https://x" onclick="steal()">x</a>', '<a href="https://x" onclick'),
    ],
)
def test_markdown_rendering_strips_active_content(text, forbidden):
    assert forbidden.lower() not in render_markdown(text).lower()


def test_template_syntax_in_user_text_stays_literal(client):
    customer = make_customer()
    ticket = make_ticket(
        customer, subject="{{ request.user.email }}", description="{% debug %} {{ 7|add:1 }}"
    )
    client.force_login(customer)
    body = client.get(reverse("tickets:portal_detail", args=[ticket.number])).content.decode()
    assert "{{ request.user.email }}" in body and "{% debug %} {{ 7|add:1 }}" in body


def test_allowed_links_survive_with_safe_rel():
    html = render_markdown("[docs](https://example.com/a) and [mail](mailto:help@example.com)")
    assert 'href="https://example.com/a"' in html and 'href="mailto:help@example.com"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


def test_xss_in_subject_body_custom_field_and_file_name_renders_as_text(client):
    customer = make_customer(name=PAYLOAD)
    form = TicketFormFactory(schema=[{"name": "note", "label": "Note", "type": "text"}])
    ticket = make_ticket(
        customer,
        subject=PAYLOAD,
        description=PAYLOAD,
        form=form,
        custom_fields={"note": PAYLOAD},
        uploads=[SimpleUploadedFile(f"{PAYLOAD}.txt", b"hello")],
    )
    client.force_login(customer)
    for url in (reverse("tickets:portal_detail", args=[ticket.number]), reverse("tickets:portal_list")):
        body = client.get(url).content.decode()
        assert "<script>alert" not in body
        assert "<img src=x" not in body
        assert "&lt;script&gt;" in body


@pytest.mark.parametrize(
    "text",
    [
        "See ![Screenshot of the settings](https://files.example/s.png)",
        "See ![Screenshot of the settings][shot]\n\n[shot]: https://files.example/s.png",
    ],
)
def test_an_image_becomes_a_link_labelled_with_its_alt_text(text):
    html = render_markdown(text)
    assert "<img" not in html
    assert '<a href="https://files.example/s.png"' in html and ">Screenshot of the settings</a>" in html


def test_an_image_with_a_script_address_keeps_its_words_and_loses_the_address():
    html = render_markdown("![click me](javascript:alert(1))")
    assert "javascript" not in html and "click me" in html


def test_headings_in_markdown_sit_below_the_pages_own_title():
    html = render_markdown("# Resetting\n\n## Step one\n\n###### Fine print")
    assert "<h1>" not in html
    assert "<h2>Resetting</h2>" in html and "<h3>Step one</h3>" in html and "<h6>Fine print</h6>" in html


@pytest.mark.parametrize("text", ["[" * 50_000, "[" * 25_000 + "]" * 25_000, "![" * 25_000, "[a][b" * 10_000])
def test_a_message_of_brackets_renders_as_text_at_once(text):
    """Python-Markdown scanned the rest of the text for each "[" (minutes for 50,000 of them, while the
    ticket's row was locked); the parser now is linear, so these take well under a second each and a
    slow one would show as a slow suite."""
    html = render_markdown(text)
    assert html.startswith("<p>") and "<a" not in html and html.count("[") == text.count("[")


@pytest.mark.parametrize("use", ["[x] ", "![x][x] ", "[![x][x]](/y) ", "![][x] "])
@pytest.mark.parametrize("address", ["/" + "a" * 5_000, "/?" + "a=1&" * 1_250, "/" + "&" * 5_000])
def test_a_link_reference_used_thousands_of_times_cannot_make_megabytes_of_html(use, address):
    """Each use of a reference link repeats its definition's address: 17,000 characters of reply made
    15 MB of HTML, stored and sent with every view of the ticket. The addresses, as written into the
    HTML ("&" as "&amp;", an image without words labelled with its address too), are held to a multiple
    of the text's length; past that a link shows its words without its address."""
    text = "[x]: " + address + ' "a title"\n\n' + use * 3_000
    html = render_markdown(text)
    assert len(html) < 12 * len(text)
    assert 0 < html.count("<a ") == html.count("</a>")
    assert html.count("x") >= (0 if use == "![][x] " else 3_000)  # each use's words stay


def test_a_linked_image_reads_as_one_link_with_the_images_words():
    """A badge, "[![build status](/badge.png)](https://ci.example/)": the image drawn as a link of its own
    inside the writer's link split it in two, the first part empty (nothing to click, no name)."""
    html = render_markdown("[![build status](/badge.png)](https://ci.example/)")
    assert re.fullmatch(r'<p><a href="https://ci.example/"[^>]*>build status</a></p>', html)


def test_an_image_shown_as_its_words_keeps_the_space_of_a_line_break():
    filler = "[x]: /" + "a" * 5_000 + "\n\n" + "![x][x] " * 3_000
    html = render_markdown(filler + "\n\n![two\nwords](/picture.png)")
    assert html.endswith("<p>two words</p>")


def test_a_reference_used_a_few_times_keeps_its_address_every_time():
    html = render_markdown("See [the docs][d], then [the docs][d] again.\n\n[d]: https://example.org/docs")
    assert html.count('<a href="https://example.org/docs"') == 2


# Past markdown-it's nesting limit (20) the rest of a block used to vanish from the page while the stored
# body kept it: what an agent read was not what the customer wrote.
@pytest.mark.parametrize(
    "text, must_show",
    [
        (">" * 25 + " hidden words\n\nvisible", "hidden words"),
        ("".join("  " * i + "- a\n" for i in range(25)) + "\nwords after the list", "words after the list"),
        (
            "".join("  " * i + "- a\n" for i in range(22)) + "  " * 21 + "  hidden item text\n",
            "hidden item text",
        ),
    ],
    ids=["blockquotes", "list-then-paragraph", "list-item-text"],
)
def test_markdown_never_drops_text_beyond_the_nesting_limit(text, must_show):
    assert must_show in render_markdown(text)


def test_an_ordered_list_keeps_its_first_number():
    """Steps 2 and 3 after a code block go on from 2: the sanitiser dropped `start`, so they read 1 and 2."""
    html = render_markdown("1. Open settings\n\n```\nsudo reboot\n```\n\n2. Click save\n3. Done")
    assert '<ol start="2">' in html and html.count("<ol") == 2


def test_an_articles_headings_are_the_targets_of_its_in_page_links(client):
    body = (
        "[Jump](#step-two) · [Spelled as written](#Step%20two) · [Elsewhere](#nowhere)\n\n"
        "# Main\n\n## Step two\n\n## Step two\n\n## Привет мир\n\n## !!!"
    )
    article = make_article(title="Anchors", body=body)
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    # A prefix no id of the page's own has: a heading "Main" does not take the skip link's target.
    assert '<h2 id="h-main">Main</h2>' in page and 'id="main"' in page
    assert '<h3 id="h-step-two">Step two</h3>' in page and '<h3 id="h-step-two-2">Step two</h3>' in page
    assert '<h3 id="h-привет-мир">' in page and '<h3 id="h-section">!!!</h3>' in page
    assert page.count('href="#h-step-two"') == 2 and 'href="#nowhere"' in page


def test_repeated_headings_are_numbered_once_each_around_a_heading_that_spells_a_number():
    """Three "Step" headings around one written "Step 3": each id is given once, the next free number
    (the ids of 10,000 repeats are counted once each: counted up from 2 for every repeat, a preview of
    such an article took seconds)."""
    html = render_markdown("## Step\n\n## Step 3\n\n## Step\n\n## Step\n\n## Step", heading_ids=True)
    assert re.findall(r'id="h-([^"]+)"', html) == ["step", "step-3", "step-2", "step-4", "step-5"]
    many = render_markdown("## Step\n\n" * 3000, heading_ids=True)
    ids = re.findall(r'id="h-([^"]+)"', many)
    assert len(ids) == len(set(ids)) == 3000 and ids[-1] == "step-3000"


def test_a_tickets_messages_share_one_page_so_their_headings_take_no_ids():
    assert render_markdown("## Step two") == "<h3>Step two</h3>"


def test_a_heading_holding_a_link_or_long_words_is_still_reached_by_its_in_page_link():
    """The id came from the heading's markdown (a link's address in it) and was cut at 80 characters while
    the link's target was not: both links went nowhere."""
    long_words = "word " * 30
    html = render_markdown(
        f"[Install](#install-the-app) · [Long](#{long_words.strip().replace(' ', '-')})\n\n"
        f"## [Install](https://example.com/dl) the `app`\n\n## {long_words}",
        heading_ids=True,
    )
    assert '<h3 id="h-install-the-app">' in html and 'href="#h-install-the-app"' in html
    long_id = re.search(r'<h3 id="(h-word-word[^"]*)">word', html).group(1)
    assert f'href="#{long_id}"' in html


@pytest.mark.parametrize("title", ["Why &amp; shows up", "What does &nbsp; mean?", "Replace &copy; with (c)"])
def test_a_title_written_as_markdown_link_text_reads_as_itself(title):
    """The article picker inserts [title](address): a title naming an HTML entity reads as typed. Before
    the fix "&" was not escaped and markdown decoded the entity ("Why & shows up")."""
    rendered = render_markdown(f"[{markdown_text(title)}](/kb/articles/x/)")
    assert html.unescape(re.search(r"<a [^>]*>(.*?)</a>", rendered).group(1)) == title


def test_bodies_stored_before_the_link_budget_are_rendered_again_by_the_migrations():
    """Messages and articles saved before the budget kept the megabytes of HTML they were stored with:
    tickets 0026 and knowledge 0017 render again the bodies that can differ, and leave the rest."""
    from importlib import import_module

    from django.apps import apps

    from knowledge.models import Article
    from tickets.models import TicketMessage

    flood = "[x]: /" + "a" * 5_000 + "\n\n" + "[x] " * 3_000
    badge = "[![build status](/badge.png)](https://ci.example/)"
    ticket = make_ticket(make_customer(), description=flood)
    message = TicketMessage.objects.get(ticket=ticket)
    article = make_article(title="Badges", body=badge)
    plain = make_article(title="Plain", body="Nothing to change.")
    TicketMessage.objects.filter(pk=message.pk).update(body_html="<p>stale</p>")
    Article.objects.filter(pk__in=[article.pk, plain.pk]).update(body_html="<p>stale</p>")
    import_module("tickets.migrations.0026_messages_rendered_with_the_link_budget").render_again(apps, None)
    import_module("knowledge.migrations.0017_articles_rendered_with_the_link_budget").render_again(apps, None)
    assert TicketMessage.objects.get(pk=message.pk).body_html == render_markdown(flood)
    assert len(render_markdown(flood)) < 12 * len(flood)
    assert ">build status</a></p>" in Article.objects.get(pk=article.pk).body_html
    assert Article.objects.get(pk=plain.pk).body_html == "<p>stale</p>"  # no image, no reference: not read
