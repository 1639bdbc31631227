"""Edges across the apps: the flash-message cookie in production, pending accounts after a suspension,
custom numbers typed exactly, UTF-16 text and files chosen again after a refusal, the article editor,
kb_import / kb_export of categories and folders, and the desk queue's assignee menus."""

import re
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services as account_services
from accounts.models import TeamMember, User
from knowledge.importing import export_articles, import_articles, parse_front_matter
from knowledge.models import Article, ArticleRevision, Category
from tests.admin_pages import post_change
from tests.factories import (
    TicketFormFactory,
    article_form_data,
    make_administrator,
    make_article,
    make_customer,
    make_pending_account,
    make_ticket,
)
from tests.tickets.conftest import desk, page_text, submission  # noqa: F401 (desk: the shared fixture)
from tickets import schema
from tickets import services as ticket_services
from tickets.attachments import detect_content_type
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

SUBMIT = reverse("tickets:portal_submit")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def held_tokens(response) -> list[str]:
    return re.findall(r'name="held" value="([^"]+)"', response.content.decode())


# === Refusals and leftovers ===========================================================================

# --- (e) kb_export -------------------------------------------------------------------------------


def test_kb_export_never_deletes_hand_written_files_it_reported_as_left_alone(tmp_path):
    """The first export into a folder that already holds a hand-written .md file reports it as "not
    written by kb_export and left as it is". Exporting again into the same folder must still leave that
    file alone: only files an earlier export wrote may be removed (here the second export deletes it,
    because the first export's .kb-export marker makes every .md file there count as the export's)."""
    make_article(title="Printer guide", body="Turn it off and on.")
    folder = tmp_path / "kb"
    folder.mkdir()
    mine = folder / "my-notes.md"
    mine.write_text("---\ntitle: My notes\n---\n\nPrivate notes.\n", encoding="utf-8")

    first = export_articles(folder, Article.objects.all())
    assert first.foreign == ["my-notes.md"]
    export_articles(folder, Article.objects.all())

    assert mine.exists(), "the second export deleted a file the first one promised to leave alone"


def test_kb_export_again_into_a_folder_holding_a_subfolder_named_like_a_markdown_file(tmp_path):
    """kb_import walks a folder named like a file ("drafts.md") for its files. Exporting again into an
    earlier export's folder that holds such a subfolder must work and leave it alone, not fail with
    "Cannot write …: Is a directory." trying to delete the folder as a stale export file."""
    make_article(title="Printer guide", body="Turn it off and on.")
    folder = tmp_path / "kb"
    export_articles(folder, Article.objects.all())
    (folder / "drafts.md").mkdir()
    (folder / "drafts.md" / "idea.md").write_text("---\ntitle: Idea\n---\n\nText\n", encoding="utf-8")

    out = StringIO()
    call_command("kb_export", str(folder), stdout=out, stderr=StringIO())

    assert "Exported 1 article" in out.getvalue()
    assert (folder / "drafts.md" / "idea.md").exists()


# --- (e) kb_import -------------------------------------------------------------------------------


def test_import_category_slug_with_parents_named_without_slugs(tmp_path):
    """A file giving the category's slug and its parents by name only (category_parents, no
    category_parent_slugs) imports: the article lands in that category, under the parent named. (Before
    today such a record imported into the category at the root; now it is skipped with "This field
    cannot be blank.", as the name-only parent is looked up and created with an empty slug.)"""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "refunds.md").write_text(
        "---\ntitle: Refunds\ncategory: Refunds\ncategory_slug: refunds\ncategory_parents: [Billing]\n---\n\n"
        "How refunds work.\n",
        encoding="utf-8",
    )
    report = import_articles(folder)
    assert report.created == ["refunds"], report.skipped
    category = Article.objects.get(slug="refunds").category
    assert category.slug == "refunds"
    assert category.parent is not None and category.parent.name == "Billing"


# --- (d) files chosen again after a refusal ------------------------------------------------------


def pngs(count: int) -> list[SimpleUploadedFile]:
    return [upload(f"shot{n}.png", PNG + bytes([n])) for n in range(count)]


def test_six_kept_files_chosen_again_are_attached_once_each(client):
    """A form that came back keeps its six files, ticked, and the browser has emptied its file input; the
    customer chooses the same six files again, the very case the dedupe is for. That is 6 distinct
    files, within the limit of 10: the ticket is created with each once, not refused with "Attach at
    most 10 files at a time." (the limit is checked on held + new before the duplicates are dropped)."""
    client.force_login(make_customer())
    first = client.post(SUBMIT, submission(subject="", attachments=pngs(6)))
    assert first.status_code == 422
    tokens = held_tokens(first)
    assert len(tokens) == 6
    again = client.post(SUBMIT, submission(held=tokens, attachments=pngs(6)))
    assert again.status_code == 302, again.context["form"].errors
    assert Attachment.objects.count() == 6


def test_a_file_chosen_again_on_a_second_refusal_is_attached_once(client):
    """The form is refused and keeps shot.png; the customer chooses shot.png again and the form is
    refused a second time (another mistake). When it finally goes, the ticket has shot.png once, not
    twice: the second refusal holds the re-chosen copy beside the kept one, and held files are never
    compared with each other."""
    client.force_login(make_customer())
    first = client.post(SUBMIT, submission(subject="", attachments=[upload("shot.png", PNG)]))
    second = client.post(
        SUBMIT, submission(subject="", held=held_tokens(first), attachments=[upload("shot.png", PNG)])
    )
    assert second.status_code == 422
    third = client.post(SUBMIT, submission(held=held_tokens(second)))
    assert third.status_code == 302
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["shot.png"]


# --- (d) UTF-16 markup scan ----------------------------------------------------------------------


def test_ascii_markup_behind_a_utf16_byte_order_mark_is_still_refused():
    """A .txt whose bytes spell <html><script> is refused as holding markup. The same bytes behind a
    two-byte FF FE prefix are not UTF-16 text (decoded as UTF-16 they are CJK gibberish): the file must
    still be refused, as it was before today, not accepted as text/plain because only the decoded text
    is searched."""
    markup = b"<html><script>alert(1)</script></html>"
    with pytest.raises(ValidationError, match="markup"):
        detect_content_type(upload("plain.txt", markup))  # the check as it stands
    with pytest.raises(ValidationError):
        detect_content_type(upload("notes.txt", b"\xff\xfe" + markup))


# --- (f) desk: the assignee kept in the filter leaks into the bulk menu --------------------------


def test_bulk_assign_menu_offers_only_agents_of_the_teams(client, desk):  # noqa: F811
    """A queue filtered by an assignee who has left the agent's teams keeps that filter chosen (the
    Assignee filter menu offers them). The bulk "Assign to" menu must still offer only agents of the
    agent's teams: offering "Assign to Casey Colleague (not in your teams)" proposes an action the
    service then refuses for every ticket of the team ("The person chosen is not an agent who can see
    this ticket"). _queue_page_extras adds the person to the `agents` list both menus share."""
    colleague = desk["colleague"]
    ticket_services.ticket_assign(desk["ticket"], assignee=colleague, actor=None)
    TeamMember.objects.filter(user=colleague, team=desk["support"]).delete()
    TeamMember.objects.create(user=colleague, team=desk["billing"])
    client.force_login(desk["agent"])
    html = page_text(client.get(reverse("tickets:desk_queue"), {"assignee": colleague.pk}))
    assignee_filter = re.search(r'<select id="queue-assignee"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert f'value="{colleague.pk}" selected' in assignee_filter  # the intended part holds
    bulk = re.search(r'<select id="bulk-action"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert f'value="assign:{colleague.pk}"' not in bulk, re.findall(r"<option[^>]*assign:[^<]*", bulk)


# --- (b) admin: activating an account without a password -----------------------------------------


def test_admin_change_form_activating_an_account_without_a_password_says_it_stays_pending(client):
    """An administrator sets Status: Active on the change page of a suspended account nobody set a
    password for. The account becomes pending (user_activate), and the page says why, as the "Activate
    selected users" action now does ("… have no password yet, so they stay pending …"), instead of only
    "changed successfully" while the status silently reads Pending."""
    visitor = make_pending_account("visitor@example.org")
    account_services.user_suspend(visitor, until=None, reason="Spam", actor=None)
    client.force_login(make_administrator())
    response = post_change(client, User.objects.get(pk=visitor.pk), status="active")
    assert response.status_code == 302
    visitor.refresh_from_db()
    assert visitor.status == User.Status.PENDING
    page = client.get(response["Location"]).content.decode()
    assert "no password yet" in page, "the administrator is not told the account stays pending"


# === What holds ==========================================================================================


@pytest.fixture
def production(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME = "__Host-sessionid", "__Host-csrftoken"
    return settings


def test_flash_message_survives_the_redirect_and_is_then_deleted_in_production(client, production):
    """With secure cookies, "Your profile is saved." set before a redirect shows on the next page once,
    and that page deletes the __Host-messages cookie (Secure, Path=/, no Domain, as the prefix needs)."""
    client.force_login(make_customer())
    data = {"save_profile": "1", "name": "New name", "timezone": "UTC"}
    saved = client.post(reverse("accounts:profile"), data, secure=True)
    assert "__Host-messages" in saved.cookies and "messages" not in saved.cookies
    shown = client.get(saved["Location"], secure=True)
    assert "Your profile is saved." in shown.content.decode()
    gone = shown.cookies["__Host-messages"]
    assert gone["max-age"] == 0 and gone["secure"] and gone["path"] == "/" and not gone["domain"]
    assert "Your profile is saved." not in client.get(saved["Location"], secure=True).content.decode()


def test_large_flash_messages_fall_back_to_the_session_in_production(rf, production):
    """Messages too large for the __Host-messages cookie go to the session and all read back, in order."""
    from django.contrib.messages import constants
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse

    from helpdesk.message_storage import DistinctMessageStorage

    request = rf.get("/", secure=True)
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    storage = DistinctMessageStorage(request)
    texts = [f"{n} " + "x" * 1500 for n in range(3)]
    for text in texts:
        storage.add(constants.INFO, text)
    response = HttpResponse()
    storage.update(response)
    request.COOKIES["__Host-messages"] = response.cookies["__Host-messages"].value
    assert [message.message for message in DistinctMessageStorage(request)] == texts


def test_a_pending_account_claims_itself_with_a_reset_link_once_its_timed_suspension_ended(client, clock):
    """A no-password account whose timed suspension has ended (the scheduler has not stored it yet) is
    pending; its reset link works and leaves it active with the address confirmed."""
    visitor = make_pending_account("visitor@example.org")
    until = timezone.now() + timedelta(hours=1)
    account_services.user_suspend(visitor, until=until, reason="x", actor=None)
    clock.shift(timedelta(hours=1, seconds=5))
    visitor.refresh_from_db()
    assert visitor.effective_status() == User.Status.PENDING
    uid = urlsafe_base64_encode(force_bytes(visitor.pk))
    token = default_token_generator.make_token(visitor)
    link = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    password = "a-fresh-long-passphrase"
    assert client.post(form_url, {"new_password1": password, "new_password2": password}).status_code == 302
    visitor.refresh_from_db()
    assert visitor.is_active and visitor.email_verified_at is not None


@pytest.mark.parametrize(
    ("places", "typed", "stored"),
    [
        (0, "-0", 0),
        (0, "0.000", 0),
        (0, "1E+2", 100),
        (0, "100", 100),
        (1, "1.50", 1.5),
        (2, "-12.50", -12.5),
        (6, "123456789012345", 123456789012345),
        (6, "-123456.789", -123456.789),
    ],
)
def test_custom_numbers_are_stored_as_the_number_typed(places, typed, stored):
    """Trailing zeros are not extra places, -0 is 0, exponents are read exactly, 15 digits are taken
    however they split."""
    definition = {"name": "n", "label": "N", "type": "number", "decimal_places": places}
    assert schema.clean_values([definition], {"n": typed}) == {"n": stored}


def test_desk_edit_keeps_a_custom_number_shown_with_padding(client, desk):  # noqa: F811
    """49.9 in a field of 2 places shows as 49.90; editing another field on the desk keeps it as 49.9."""
    form = TicketFormFactory(
        schema=[
            {"name": "ref", "label": "Ref", "type": "text"},
            {"name": "amount", "label": "Amount", "type": "number", "decimal_places": 2},
        ]
    )
    ticket = make_ticket(
        desk["customer"], team=desk["support"], form=form, custom_fields={"ref": "A", "amount": "49.9"}
    )
    client.force_login(desk["agent"])
    url = reverse("tickets:desk_update", args=[ticket.number])
    data = {"field": "custom_fields", "version": ticket.version, "cf-ref": "B", "cf-amount": "49.90"}
    assert client.post(url, data).status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {"ref": "B", "amount": 49.9}


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe", "\ufeffhello\r\n".encode("utf-16-le") + b"x", "\ufeffhello\r\n".encode("utf-16-be")],
)
def test_utf16_text_is_text(content):
    """A BOM-only file, an odd byte count, big-endian UTF-16: plain text."""
    assert detect_content_type(upload("a.txt", content)) == "text/plain"


@pytest.mark.parametrize(
    "content",
    [
        "\ufeffbell\x07 and \x00".encode("utf-16-le"),
        b"\xff\xfe\x00\x00" + "hello".encode("utf-32-le"),
        b"\xff\xfe" + bytes(range(256)) * 8,
        ("\ufeff" + "a" * (1024 * 1024 // 2 - 3) + "<script>x</script>").encode("utf-16-le"),
    ],
)
def test_utf16_junk_and_deep_markup_are_refused(content):
    """UTF-16 with control characters, UTF-32, binary behind a BOM, and markup split across the 1 MB
    scan chunks of a UTF-16 file are all refused."""
    with pytest.raises(ValidationError):
        detect_content_type(upload("a.txt", content))


def test_same_name_or_same_bytes_are_distinct_files(client):
    """Two files of one name but different bytes, and the same bytes under another name, are three
    attachments."""
    client.force_login(make_customer())
    files = [upload("a.png", PNG + b"1"), upload("a.png", PNG + b"2"), upload("b.png", PNG + b"1")]
    assert client.post(SUBMIT, submission(attachments=files)).status_code == 302
    assert Attachment.objects.count() == 3


def test_a_kept_file_chosen_again_on_a_portal_reply_is_attached_once(client):
    """The reply form refused (empty message) keeps its file; chosen again, it is attached once."""
    customer = make_customer()
    ticket = make_ticket(customer)
    client.force_login(customer)
    url = reverse("tickets:portal_reply", args=[ticket.number])
    key = str(uuid.uuid4())
    first = client.post(url, {"body": "", "submission_key": key, "attachments": [upload("a.png", PNG)]})
    assert first.status_code == 422
    data = {"body": "Here", "submission_key": str(uuid.uuid4()), "held": held_tokens(first)}
    assert client.post(url, {**data, "attachments": [upload("a.png", PNG)]}).status_code == 302
    assert Attachment.objects.count() == 1


def test_an_untouched_save_of_an_article_opening_with_a_code_block_writes_no_revision(client):
    """The editor sends the stored body back with CRLF line breaks and its opening indentation: nothing
    changed, no revision."""
    article = make_article(title="Restart", body="    $ sudo restart cups\n\nThen print.")
    revisions = ArticleRevision.objects.filter(article=article).count()
    client.force_login(make_administrator())
    data = article_form_data(article, body="    $ sudo restart cups\r\n\r\nThen print.")
    data["loaded_at"] = article.updated_at.isoformat()
    response = client.post(reverse("knowledge:manage_edit", args=[article.slug]), data, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert ArticleRevision.objects.filter(article=article).count() == revisions


def test_kb_export_removes_files_of_articles_gone_since_and_jsonl_touches_none(tmp_path):
    """An article deleted since the last export into the same folder loses its file there; a .jsonl
    export written into that folder removes nothing."""
    make_article(title="Printer guide", body="Turn it off and on.")
    gone = make_article(title="Old fax guide", body="Fax it.")
    folder = tmp_path / "kb"
    export_articles(folder, Article.objects.all())
    gone.delete()
    assert export_articles(folder, Article.objects.all()).removed == ["old-fax-guide.md"]
    Article.objects.all().delete()
    export_articles(folder / "all.jsonl", Article.objects.all())
    assert sorted(path.name for path in folder.glob("*.md")) == ["printer-guide.md"]


def test_import_parents_by_name_avoid_reserved_and_taken_slugs(tmp_path):
    """Two categories named "Search" under parents named by name get two slugs, neither the search
    page's address; importing again changes nothing."""
    folder = tmp_path / "in"
    folder.mkdir()
    for parent, slug in (("Billing", "a"), ("Accounts", "b")):
        (folder / f"{slug}.md").write_text(
            f"---\ntitle: T {slug}\ncategory: Search\ncategory_parents:\n  - {parent}\n---\n\nBody\n",
            encoding="utf-8",
        )
    assert len(import_articles(folder).created) == 2
    slugs = set(Category.objects.filter(name="Search").values_list("slug", flat=True))
    assert len(slugs) == 2 and "search" not in slugs
    assert import_articles(folder).unchanged == ["a", "b"]
    assert Category.objects.filter(name="Search").count() == 2


def test_front_matter_block_lists_and_nulls():
    """ "- item" lines under a key give a list; null and ~ give None."""
    text = "---\ntitle: T\ntags:\n  - a\n  - 'b c'\ncategory: null\nexcerpt: ~\n---\n\nX\n"
    assert parse_front_matter(text) == (
        {"title": "T", "tags": ["a", "b c"], "category": None, "excerpt": None},
        "X",
    )
