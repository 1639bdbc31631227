"""Downloads and file names: the Content-Disposition of odd names, methods a download does
not take, HEAD and Range from people who may not see the file, access lost after a bookmark."""

# ruff: noqa: RUF001, RUF002, RUF003 (full-width look-alikes on purpose)

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import rbac
from accounts.models import TeamMember
from tests.conftest import made_once_per_module
from tests.factories import PDF, make_administrator, make_customer, make_ticket
from tests.tickets.conftest import fresh, make_desk
from tickets import services
from tickets.attachments import WINDOWS_RESERVED, download_disposition, safe_filename
from tickets.models import Attachment

pytestmark = pytest.mark.django_db

_desk_rows, desk = made_once_per_module(make_desk, "desk")


def dl(attachment) -> str:
    return reverse("tickets:attachment_download", args=[attachment.pk])


def ascii_fallback(header: str) -> str:
    match = re.search(r'filename="((?:[^"\\]|\\.)*)"', header)
    assert match, header
    return match.group(1)


def count(attachment) -> int:
    return Attachment.objects.get(pk=attachment.pk).download_count


def customer_with_file(name: str = "a.txt", content: bytes = b"hello"):
    customer = make_customer()
    make_ticket(customer, uploads=[SimpleUploadedFile(name, content)])
    return customer, Attachment.objects.get()


# --- the ASCII fallback cleaned as the stored name was ----------------------------------------------

# Full-width and compatibility forms are printable, so safe_filename keeps them in the stored name (where
# they are harmless: "／" is not a separator anywhere). download_disposition then NFKD-normalises the name
# for its ASCII fallback, and NFKD turns them into the very characters safe_filename removes.
NFKD_HOSTILE = [
    ("．．／．．／．．／etc／passwd.txt", "path separators and '..'"),
    ("ｅｔｃ／cron.d／job.txt", "a path separator"),
    ("‥／‥／x.txt", "'..' from the two-dot leader and a separator"),
    ("report：Zone.Identifier.txt", "a colon (an NTFS alternate data stream)"),
    ("a＊b？c＜d＞e｜f.txt", "wildcards and redirections Windows refuses"),
]


@pytest.mark.parametrize(("uploaded", "why"), NFKD_HOSTILE)
def test_the_ascii_filename_fallback_carries_no_path_or_character_the_stored_name_was_cleaned_of(
    client, uploaded, why
):
    """Expected: the plain `filename="..."` of a download's Content-Disposition (the one curl -J, wget
    --content-disposition, mail clients and older download tools use) is as clean as the stored name:
    no '/', no leading '..', none of : * ? < > |, the characters safe_filename removes from every
    upload's name. Instead: a file uploaded as "．．／．．／．．／etc／passwd.txt" (full-width dots and
    solidus) is stored under that harmless name but downloads with filename="/../../etc/passwd.txt",
    and "report：Zone.Identifier.txt" with filename="report:Zone.Identifier.txt": the NFKD step that
    strips accents maps compatibility characters back onto ASCII path and reserved characters. A client
    that trusts the fallback writes outside the download folder or into an NTFS stream; the product
    promises names with path separators and '..' are made safe, and this is the header that reaches the
    tool that saves the file."""
    customer, attachment = customer_with_file(uploaded)
    assert attachment.filename == safe_filename(uploaded)
    client.force_login(customer)
    response = client.get(dl(attachment))
    assert response.status_code == 200
    fallback = ascii_fallback(response["Content-Disposition"])
    assert not set(fallback) & set('/\\:*?"<>|'), (why, fallback)
    assert not fallback.startswith(".") and "../" not in fallback, (why, fallback)


@pytest.mark.parametrize("uploaded", ["ＣＯＮ.txt", "ａｕｘ.pdf", "ｃｏｍ１.txt", "ＬＰＴ１.csv"])
def test_the_ascii_filename_fallback_is_not_a_windows_device_name(uploaded):
    """Expected: safe_filename prefixes a Windows device name ("CON.txt" becomes "_CON.txt") so the file
    can be saved and opened on Windows; the ASCII fallback of the download header should keep that
    promise too. Instead: "ＣＯＮ.txt" (full-width letters, not a device name, so kept as is) is served
    with filename="CON.txt" — a name Windows cannot create (the save fails or writes to the console
    device), for the clients that read only the plain filename parameter."""
    stored = safe_filename(uploaded)
    fallback = ascii_fallback(download_disposition(stored))
    assert not WINDOWS_RESERVED.fullmatch(fallback), (stored, fallback)


# --- methods, outsiders, lost access ---------------------------------------------------------------


def test_the_fallback_of_ordinary_accented_and_ascii_names_is_unchanged():
    assert download_disposition("a;b=c.pdf") == 'attachment; filename="a;b=c.pdf"'
    assert download_disposition("it's.pdf") == 'attachment; filename="it\'s.pdf"'
    header = download_disposition("Ünïcödé.pdf")
    assert ascii_fallback(header) == "Unicode.pdf"
    assert "filename*=utf-8''%C3%9Cn%C3%AFc%C3%B6d%C3%A9.pdf" in header


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_on_a_download_are_405_with_allow_and_count_nothing(client, method):
    customer, attachment = customer_with_file()
    client.force_login(customer)
    response = getattr(client, method)(dl(attachment))
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    assert "hello" not in response.content.decode(errors="replace")
    assert "Content-Disposition" not in response
    assert count(attachment) == 0
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    ok = client.get(dl(attachment))
    assert ok.status_code == 200 and b"".join(ok.streaming_content) == b"hello"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Range": "bytes=0-2"},
        {"If-None-Match": "*"},
        {"If-Modified-Since": "Wed, 21 Oct 2099 07:28:00 GMT"},
    ],
)
def test_head_range_and_conditional_requests_by_an_outsider_leak_nothing(client, headers):
    _, attachment = customer_with_file("secret.txt", b"top secret")
    client.force_login(make_customer())
    for call in (client.get, client.head):
        response = call(dl(attachment), headers=headers)
        assert response.status_code == 404
        assert "Content-Disposition" not in response
        assert "secret.txt" not in response.content.decode()
    assert count(attachment) == 0


def test_an_agent_who_left_the_team_gets_the_sites_404_for_a_bookmarked_download(client, desk):
    reply = services.ticket_reply(
        desk["ticket"], body="Here", actor=desk["agent"], uploads=[SimpleUploadedFile("log.txt", b"x")]
    )
    attachment = Attachment.objects.get(owner_id=reply.pk)
    client.force_login(desk["agent"])
    assert client.get(dl(attachment)).status_code == 200
    TeamMember.objects.filter(user=desk["agent"]).delete()
    rbac.forget(desk["agent"])
    response = client.get(dl(attachment))
    assert response.status_code == 404
    body = response.content.decode()
    assert "<html" in body and "log.txt" not in body
    assert "no-store" in response.get("Cache-Control", "") or "no-cache" in response.get("Cache-Control", "")
    assert count(attachment) == 1


def test_a_download_is_private_and_no_store_for_staff_too(client, desk):
    note = services.ticket_add_note(
        desk["ticket"], body="n", actor=desk["agent"], uploads=[SimpleUploadedFile("n.pdf", PDF)]
    )
    attachment = Attachment.objects.get(owner_id=note.pk)
    client.force_login(desk["colleague"])
    response = client.get(dl(attachment))
    assert response.status_code == 200
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache and "public" not in cache
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "ETag" not in response and "Last-Modified" not in response


def test_a_file_merged_into_a_ticket_that_is_then_deleted_is_404_for_the_customer(client, desk):
    customer = desk["customer"]
    source = make_ticket(customer, team=desk["support"], uploads=[SimpleUploadedFile("moved.txt", b"m")])
    attachment = Attachment.objects.get()
    services.ticket_merge(fresh(source), into=fresh(desk["ticket"]), actor=desk["supervisor"])
    client.force_login(customer)
    assert client.get(dl(attachment)).status_code == 200
    services.ticket_delete(fresh(desk["ticket"]), actor=make_administrator())
    assert client.get(dl(attachment)).status_code == 404
    assert client.head(dl(attachment)).status_code == 404
    assert count(attachment) == 1
