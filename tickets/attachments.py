"""Attachment intake: size limit, a type allow-list checked on the content, sha256, private storage;
files held for a form that came back (HeldUpload) until it is sent again."""

import codecs
import hashlib
import json
import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import NoReturn
from urllib.parse import quote

import puremagic
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Model
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from tickets.models import Attachment, HeldUpload

# Types recognised from the file's bytes (not its name). SVG and HTML are absent on purpose: both
# can carry script.
BINARY_TYPES = {
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jfif", ".jpe"},  # .jfif: Windows' name for a photo saved from the web
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "application/pdf": {".pdf"},
    # Screen recordings of a problem: what support asks for most after screenshots.
    "video/mp4": {".mp4", ".m4v"},
    "video/quicktime": {".mov"},
    "video/webm": {".webm"},
}
# ZIP and the Office formats built on it start with the same bytes, so the detector's pick among them
# is arbitrary (it names every ZIP a .docx): for a ZIP the extension says which of these it is.
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_CONTAINERS = {
    ".zip": "application/zip",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}
# Exported logs and browser network captures (.har) are JSON: served as plain text, like the others.
# A whole JSON document is not searched for markup: a capture of a web page holds the page's HTML in
# its strings, and a document that starts with { or [ is no page to a browser (served as text anyway).
JSON_EXTENSIONS = {".json", ".har"}
TEXT_EXTENSIONS = {
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".md": "text/plain",
    ".json": "text/plain",
    ".har": "text/plain",
}
# Markup a browser would act on, anywhere in a text file: a page or an SVG, a tag that loads or runs
# something, an event handler, a javascript: link. A log quoting "List<String>" or "a < b" is text.
# Attributes are looked for up to the next angle bracket and 500 characters: linear on any input.
# After a tag's name, browsers take a slash as they take a space ("<b/onclick=..."), and they drop tabs
# and line breaks inside a URL's scheme ("java<TAB>script:"). Runs of white space are searched as one
# (_holds), so a match is never longer than SCAN_OVERLAP. In an attribute a letter may be written as a
# character reference ("&#106;avascript:", "javascript&colon;", with any number of leading zeros), tabs
# and line breaks too ("&Tab;"), and control characters before the scheme are dropped as well
# ("\x01javascript:"): in a text file runs of them are searched as one space, as white space is, and
# long runs of zeros (a reference's leading ones) as one zero (_holds). Each alternative starts
# differently, so the unbounded runs stay linear.
_SEPARATOR = rb"(?:[\x00-\x20]|&(?:tab|newline);|&#(?:0*(?:9|10|13)(?![0-9])|x0*(?:9|a|d)(?![0-9a-f]));?)"
_DROPPED = _SEPARATOR + rb"*"
_DROPPED_RUN = re.compile(_SEPARATOR + rb"+", re.IGNORECASE)
_ZERO_RUN = re.compile(rb"0{64,}")  # no number written for people has as many


def _spelled(character: str) -> bytes:
    """`character` as an attribute may spell it: itself, or a character reference to either case."""
    codes = sorted({ord(character.lower()), ord(character.upper())})
    decimal, hexadecimal = "|".join(f"{code}" for code in codes), "|".join(f"{code:x}" for code in codes)
    named = "|&colon;" if character == ":" else ""
    reference = rf"&#(?:0*(?:{decimal})|x0*(?:{hexadecimal}));?"
    return rf"(?:{re.escape(character)}|{reference}{named})".encode()


_JAVASCRIPT = _DROPPED + _DROPPED.join(_spelled(character) for character in "javascript:")
TEXT_MARKUP = re.compile(
    # Tags that act bare; those that load or run something only with an attribute ("<link rel=..."), so
    # that a log quoting "<math.h>", "List<Object>" or "<Link> outside a <Router>" stays text.
    rb"<(?:html|script|svg|!doctype|\?xml|body|style)\b"
    rb"|<(?:iframe|frame|img|object|embed|meta|form|link|base|math)[\s/]"
    rb"|<[a-z][a-z0-9-]{0,40}[\s/][^<>]{0,500}?\bon[a-z]{1,40}\s*="
    rb"|<[a-z][a-z0-9-]{0,40}[\s/][^<>]{0,500}?=\s*[\"']?" + _JAVASCRIPT,
    re.IGNORECASE,
)
# A page behind an image's or a PDF's signature (a polyglot): the tags a browser renders or runs.
# Narrower than TEXT_MARKUP: photos and PDFs carry XMP metadata, which is XML.
# XMP's tags are namespaced ("<rdf:Description"), so the handlers and links are looked for in plain
# tags only; an event's name of four letters at least keeps chance bytes of a photo from matching.
BINARY_MARKUP = re.compile(
    rb"<(?:html|script|iframe|frame|body|svg|img|object|embed|video|audio|details|math|input|marquee|form"
    rb"|meta|link|base|!doctype\s+html)\b"
    rb"|<[a-z][a-z0-9]{0,40}[\s/][^<>]{0,500}?\bon[a-z]{4,40}\s*="
    rb"|<[a-z][a-z0-9]{0,40}[\s/][^<>]{0,500}?=\s*[\"']?" + _JAVASCRIPT,
    re.IGNORECASE,
)
SCAN_CHUNK = 1024 * 1024
SCAN_OVERLAP = 2048
_WHITE_SPACE_RUN = re.compile(rb"\s+")
# Names Windows keeps for devices: a file saved as CON.txt or com1.pdf cannot be opened there.
WINDOWS_RESERVED = re.compile(r"(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(?:\..*)?", re.IGNORECASE)

TOO_LARGE = "{name} is {size}; files may be at most {limit}."
ALLOWED_EXTENSIONS = sorted(
    {*(extension for extensions in BINARY_TYPES.values() for extension in extensions), *ZIP_CONTAINERS,
     *TEXT_EXTENSIONS}
)  # fmt: skip
NOT_ALLOWED = "{name} is not an allowed type of file. Allowed: " + ", ".join(ALLOWED_EXTENSIONS) + "."
MISMATCH = "{name} does not look like a {extension} file."
HOLDS_MARKUP = (
    "{name} holds web-page markup (such as <html>, <script> or <svg>), which a text file may not carry: "
    "put it in a .zip and attach that, or remove the markup."
)
TOO_MANY = "Attach at most {limit} files at a time."
MAX_FILES = 10
MAX_FILENAME = 200  # characters kept of a file's name (Attachment.filename holds 255)


def safe_filename(name: str) -> str:
    """The user's file name without any path, control characters or quotes, for display and downloads."""
    base = PurePath(name.replace("\\", "/")).name
    core = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?').strip(" ").rstrip(" .")
    cleaned = core.lstrip(". ")  # no hidden file where it is saved
    if cleaned != core and "." not in cleaned:  # ".pdf": a name that is only a type keeps it
        cleaned = f"attachment.{cleaned}"
    if WINDOWS_RESERVED.fullmatch(cleaned):
        cleaned = f"_{cleaned}"
    if len(cleaned) > MAX_FILENAME:  # shortened before the extension, which says what the file is
        suffix = PurePath(cleaned).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        cleaned = cleaned[: MAX_FILENAME - len(suffix)].rstrip(" .") + suffix
    return cleaned or "attachment"


def download_disposition(name: str) -> str:
    """A Content-Disposition for a download: a plain ASCII ``filename`` every client reads, followed for
    a non-ASCII name by the exact ``filename*`` that current browsers prefer (RFC 6266, section 4.3)."""
    unaccented = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    # Cleaned again as the stored name was: decomposing brings back what it was cleaned of, from their
    # full-width forms (U+FF0F "/" before "etc", a full-width "CON.txt", a Windows device's name).
    ascii_name = safe_filename(re.sub(r"[^\x20-\x7e]|[\\\"%/]", "_", unaccented))
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(name, safe='')}"


def detect_content_type(upload: UploadedFile) -> str:
    """The MIME type the content shows, if on the allow-list; otherwise ValidationError."""
    name = safe_filename(upload.name or "")
    extension = PurePath(name).suffix.lower()
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    try:
        detected = puremagic.from_string(head, mime=True) if head else ""
    except puremagic.PureError:
        detected = ""
    if head.startswith(ZIP_SIGNATURES):
        if extension and extension not in ZIP_CONTAINERS:
            # A ZIP under a name we do not take (.xlsm, .jar): not allowed, rather than "not a .xlsm";
            # under one we take for something else (.pdf): not what its name says.
            _refuse_as_named(name, extension)
        return ZIP_CONTAINERS.get(extension, "application/zip")
    if detected in BINARY_TYPES:
        if extension and extension not in BINARY_TYPES[detected]:
            _refuse_as_named(name, extension)
        if _holds(upload, BINARY_MARKUP):
            raise ValidationError(
                MISMATCH.format(name=name, extension=extension or "." + detected.split("/")[1])
            )
        return detected
    # Text has no magic number; what the detector guesses from its first bytes (JSON, a mail header)
    # does not make a UTF-8 file without markup any less plain text, and it is served as text/plain.
    if extension in TEXT_EXTENSIONS and _is_plain_text(head):
        # UTF-16 (Windows PowerShell's `>`, Notepad's and Excel's "Unicode") is searched as the text it
        # holds, whose bytes never match the markup patterns, and as bytes too: markup written in ASCII
        # behind a byte-order mark is still markup to a program that ignores the mark.
        encoding = _utf16(head)
        if extension in JSON_EXTENSIONS and _is_json(upload):
            return TEXT_EXTENSIONS[extension]
        if _holds(upload, TEXT_MARKUP, text=True) or (
            encoding and _holds(upload, TEXT_MARKUP, encoding=encoding, text=True)
        ):
            raise ValidationError(HOLDS_MARKUP.format(name=name))
        return TEXT_EXTENSIONS[extension]
    _refuse_as_named(name, extension)


def _is_json(upload: UploadedFile) -> bool:
    """Whether the whole file is one JSON document (UTF-8, perhaps behind a byte-order mark)."""
    upload.seek(0)
    try:
        json.loads(upload.read().decode("utf-8-sig"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False
    finally:
        upload.seek(0)
    return True


def _refuse_as_named(name: str, extension: str) -> NoReturn:
    """Refuse a file whose content is not what its name says: as not what it claims, if the name is one
    we take (a .pdf that is not a PDF); else as a type we do not take at all."""
    if extension in ALLOWED_EXTENSIONS:
        raise ValidationError(MISMATCH.format(name=name, extension=extension))
    raise ValidationError(NOT_ALLOWED.format(name=name))


def _holds(
    upload: UploadedFile, pattern: re.Pattern, encoding: str | None = None, *, text: bool = False
) -> bool:
    """Whether `pattern` occurs anywhere in the file (decoded from `encoding` and searched as UTF-8, if
    given): read in chunks that overlap, so a match that straddles two chunks is found too. In `text`,
    runs of what a URL's scheme drops, and of a reference's leading zeros, are searched as one."""
    upload.seek(0)
    tail = pending = b""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace") if encoding else None
    try:
        while read := upload.read(SCAN_CHUNK):
            chunk = pending + (decoder.decode(read).encode() if decoder is not None else read)
            if text:
                # A reference cut in two by the chunk's end is searched whole, with the next chunk.
                start = chunk.rfind(b"&", max(0, len(chunk) - 16))
                pending = chunk[start:] if start != -1 and b";" not in chunk[start:] else b""
                chunk = chunk[: len(chunk) - len(pending)]
                chunk = _DROPPED_RUN.sub(b" ", _ZERO_RUN.sub(b"0", chunk))
            else:
                chunk = _WHITE_SPACE_RUN.sub(b" ", chunk)
            if pattern.search(tail + chunk):
                return True
            # Of all read so far: a chunk that shrank to a few bytes (a run searched as one) keeps the
            # start of a match the chunks before it began.
            tail = (tail + chunk)[-SCAN_OVERLAP:]
        return bool(pending) and pattern.search(tail + pending) is not None
    finally:
        upload.seek(0)


def _utf16(head: bytes) -> str | None:
    """ "utf-16" for a file that starts with a UTF-16 byte-order mark, else None."""
    return "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None


def _is_plain_text(head: bytes) -> bool:
    if _utf16(head):
        # An even number of bytes (the sample may end inside a character); text if it decodes there and
        # holds no control characters but tabs and line ends.
        try:
            text = head[: len(head) - len(head) % 2].decode("utf-16")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # not just a pair of surrogates cut at the end
                return False
            text = head[: error.start].decode("utf-16")
        return not any(character < " " and character not in "\t\r\n\f" for character in text)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The 8 KB sample may end inside a multi-byte character.
        if error.start >= len(head) - 3:
            return True
        # Excel on Windows saves CSV in Windows-1252 ("Müller;Köln"): text too, if it decodes there and
        # holds no control characters but tabs and line ends (a binary file holds many).
        try:
            text = head.decode("cp1252")
        except UnicodeDecodeError:
            return False
        return not any(character < " " and character not in "\t\r\n\f" for character in text)
    return True


def validate_uploads(uploads: list[UploadedFile | HeldUpload]) -> list[str]:
    """Check every upload; return their content types or raise one ValidationError listing all problems
    (for the form's attachments field, so they show beside the file input)."""
    # Too many, and each file checked still: the refused ones are named along with the limit.
    problems: list[str] = [TOO_MANY.format(limit=MAX_FILES)] if len(uploads) > MAX_FILES else []
    types: list[str] = []
    limit = settings.ATTACHMENT_MAX_BYTES
    for upload in uploads:
        if isinstance(upload, HeldUpload):  # checked when it was held
            types.append(upload.content_type)
            continue
        name = safe_filename(upload.name or "")
        if upload.size > limit:
            size, most = filesizeformat(upload.size), filesizeformat(limit)
            if size == most:  # "10.0 MB; at most 10.0 MB" says nothing: in bytes, then
                size, most = f"{upload.size:,} bytes", f"{limit:,} bytes"
            problems.append(TOO_LARGE.format(name=name, size=size, limit=most))
            continue
        try:
            types.append(detect_content_type(upload))
        except ValidationError as error:
            problems.extend(error.messages)
    if problems:
        raise ValidationError({"attachments": problems})
    return types


def attachments_store(owner: Model, uploads: list, types: list[str], *, actor) -> None:
    """Save validated uploads (validate_uploads gave their `types`) as attachments of `owner`, inside the
    service: held files first, handed over in two queries whatever their number (their stored files
    become the attachments'), then each new upload through the storage API. A new upload of the same
    name and content as one before it is attached once (see distinct_uploads; the forms leave such
    uploads out before they count them)."""
    held = [upload for upload in uploads if isinstance(upload, HeldUpload)]
    if held:
        _attachments_from_held(owner, held, actor=actor)
    attached = {(kept.filename, kept.sha256) for kept in held}
    for upload, content_type in zip(uploads, types, strict=True):
        if isinstance(upload, HeldUpload):
            continue
        row = _stored(
            Attachment(owner=owner, uploaded_by=actor), upload, content_type=content_type, unless=attached
        )
        if row is not None:
            row.save()
            attached.add((row.filename, row.sha256))


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def upload_key(upload) -> tuple[str, str]:
    """What tells one file from another: its (stored) name and content."""
    if isinstance(upload, HeldUpload):
        return upload.filename, upload.sha256
    return safe_filename(upload.name or ""), _sha256(upload)


def same_files(owner: Model, uploads: list) -> bool:
    """Whether `uploads` are among the files `owner` (a message) was stored with: a form sent again that
    brings another file is another request. One that brings fewer is the same (a file kept from a
    refused sending went with the first, so the second no longer holds it)."""
    if not uploads:
        return True
    attached = set(owner.attachments.values_list("filename", "sha256"))
    return {upload_key(upload) for upload in uploads} <= attached


def distinct_uploads(uploads: list) -> list:
    """`uploads` (held files, then new ones) without the new ones of the same name and content as one
    before them: after a refused form the page offers the files chosen before, ticked, and the browser
    has emptied its file input, so people choose them again."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for upload in uploads:
        key = upload_key(upload)
        if key in seen and not isinstance(upload, HeldUpload):
            continue
        seen.add(key)
        kept.append(upload)
    return kept


def _stored(row, upload: UploadedFile, *, content_type: str, unless: set[tuple[str, str]] = frozenset()):
    """`row` (an unsaved Attachment or HeldUpload) with the upload's name, type, size and digest, its file
    saved through the storage API; None, and nothing saved, if its (name, digest) is among `unless`."""
    row.filename, row.sha256 = safe_filename(upload.name or ""), _sha256(upload)
    if (row.filename, row.sha256) in unless:
        return None
    row.content_type, row.size = content_type, upload.size
    row.file.save("upload", upload, save=False)
    return row


def _attachments_from_held(owner: Model, held: list[HeldUpload], *, actor) -> None:
    # Held for someone else: a page's token sent by another account (the form checks it too).
    holder = actor.pk if actor is not None else None
    if stranger := next((kept for kept in held if kept.held_for_id != holder), None):
        raise ValidationError({"attachments": HELD_GONE.format(name=stranger.filename)})
    # The rows are taken under the transaction's locks: the same held file sent by two forms at once
    # becomes one attachment, and the second form is told.
    claimed = {pk for pk, _ in _held_claim("id = ANY(%s)", [[kept.pk for kept in held]])}
    if gone := next((kept for kept in held if kept.pk not in claimed), None):
        raise ValidationError({"attachments": HELD_GONE.format(name=gone.filename)})
    Attachment.objects.bulk_create(
        Attachment(
            owner=owner,
            file=kept.file.name,
            filename=kept.filename,
            content_type=kept.content_type,
            size=kept.size,
            sha256=kept.sha256,
            uploaded_by=actor,
        )
        for kept in held
    )


HOLD_FOR = timedelta(days=1)
HOLD_SALT = "tickets.attachments.held"
HELD_GONE = "{name} is no longer kept: choose it again."
HELD_ELSEWHERE = "{name} was chosen before a sign-in or sign-out: choose it again."
HOLD_LIMIT = 30  # files kept for one account at a time: the oldest go first
HELD_EXPIRED = "A file kept from before is no longer kept (files wait a day): choose it again."


def uploads_passing(uploads: list[UploadedFile]) -> list[tuple[UploadedFile, str]]:
    """The uploads that pass the checks one by one, with their content types (those that do not, the
    form names with the reason)."""
    passing = []
    for upload in uploads:
        try:
            [content_type] = validate_uploads([upload])
        except ValidationError:
            continue
        passing.append((upload, content_type))
    return passing


def uploads_hold(uploads: list[UploadedFile], *, holder, visitor: str = "") -> list[HeldUpload]:
    """Keep each upload that passes the checks, for the form that comes back with it; those that do
    not are left out (the form says why). For `holder`, or for a visitor (no account: `visitor`, their
    browser session as visitor_key() names it)."""
    return passing_uploads_hold(uploads_passing(uploads), holder=holder, visitor=visitor)


def passing_uploads_hold(
    passing: list[tuple[UploadedFile, str]], *, holder, visitor: str = ""
) -> list[HeldUpload]:
    """uploads_hold for uploads checked already (uploads_passing: each with its content type)."""
    visitor = "" if holder is not None else visitor
    held = [
        _stored(HeldUpload(held_for=holder, held_for_visitor=visitor), upload, content_type=content_type)
        for upload, content_type in passing
    ]
    held = HeldUpload.objects.bulk_create(held)  # one query, ids set (PostgreSQL returns them)
    # Forms refused again and again (each sending new files) must not fill the disk. (A visitor who
    # starts a new browser session each time is held back by the submission's rate limit per address.)
    if held and holder is not None:
        _held_delete(
            "id IN (SELECT id FROM {table} WHERE held_for_id = %s"
            " ORDER BY created_at DESC, id DESC OFFSET %s)",
            [holder.pk, HOLD_LIMIT],
        )
    elif held and visitor:
        _held_delete(
            "id IN (SELECT id FROM {table} WHERE held_for_visitor = %s AND held_for_id IS NULL"
            " ORDER BY created_at DESC, id DESC OFFSET %s)",
            [visitor, HOLD_LIMIT],
        )
    return held


def held_token(held: HeldUpload, *, visitor: str = "") -> str:
    """What the page sends back for a held file: signed, naming the file and whom it is held for (for a
    visitor, no account: their browser session, `visitor` being visitor_key())."""
    return signing.dumps([held.pk, held.held_for_id, held.filename, visitor], salt=HOLD_SALT)


def visitor_key(session) -> str:
    """A visitor's browser session, as held files name it: a digest (the token is signed, not hidden,
    and a session key is a credential). Makes the session if there is none yet."""
    if session.session_key is None:
        session.save()
    session.modified = True  # so the session cookie goes out with this answer
    return hashlib.sha256(f"held-files:{session.session_key}".encode()).hexdigest()[:32]


def held_read(tokens: list[str], *, holder, visitor: str = "") -> tuple[list[HeldUpload], list[str]]:
    """The held files the tokens name that are still kept for `holder` (and, for a visitor, this browser
    session), and what is wrong with the others (a token altered or for someone else is not a file of
    theirs: it is left out unsaid). Another visitor's token names no account either: the session tells."""
    wanted: dict[int, str] = {}
    problems = []
    for token in dict.fromkeys(tokens):
        try:
            pk, held_for, name, held_visitor = signing.loads(token, salt=HOLD_SALT, max_age=HOLD_FOR)
        except signing.SignatureExpired:
            problems.append(HELD_EXPIRED)
            continue
        except (signing.BadSignature, ValueError, TypeError):
            continue
        if held_for == (holder.pk if holder is not None else None) and held_visitor == visitor:
            wanted[pk] = name
        else:  # a session that ended, or began, since the page: not this holder's file
            problems.append(HELD_ELSEWHERE.format(name=name))
    found = {held.pk: held for held in HeldUpload.objects.filter(pk__in=wanted, held_for=holder)}
    problems += [HELD_GONE.format(name=name) for pk, name in wanted.items() if pk not in found]
    return [found[pk] for pk in wanted if pk in found], list(dict.fromkeys(problems))


def held_remove(*, now: datetime | None = None) -> int:
    """Delete held files older than HOLD_FOR, rows and stored files; returns how many.

    The rows are claimed first (deleted, in one statement) and only their files removed, after the
    commit: one handed over to an attachment meanwhile keeps the file it now points at."""
    return _held_delete("created_at < %s", [(now or timezone.now()) - HOLD_FOR])


def _held_claim(condition: str, params: list) -> list[tuple[int, str]]:
    """Delete the held rows that meet `condition` (SQL, {table} for the table) in one statement, which
    takes each row once whoever else asks at the same moment; their ids and stored file names."""
    table = HeldUpload._meta.db_table
    with connection.cursor() as cursor:
        # `condition` is always this module's own SQL; values travel as parameters.
        sql = f"DELETE FROM {table} WHERE {condition.format(table=table)} RETURNING id, file"  # noqa: S608
        cursor.execute(sql, params)
        return cursor.fetchall()


def _held_delete(condition: str, params: list) -> int:
    """Delete the held files whose rows meet `condition`: the rows claimed (_held_claim), and only
    their files removed, once that commits."""
    with transaction.atomic():
        names = [name for _, name in _held_claim(condition, params)]
        storage = HeldUpload._meta.get_field("file").storage
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
    return len(names)


def attachments_delete(attachments) -> int:
    """Delete the `attachments` rows, and their files once the deletion is committed: the orphan sweep
    looks only in the last two months' folders (for uploads rolled back), so a file of an older row
    would stay on disk for good. Rolled back, the rows and their files stay."""
    storage = Attachment._meta.get_field("file").storage
    names = list(attachments.values_list("file", flat=True))
    deleted, _ = attachments.delete()

    def remove_files() -> None:
        for name in names:
            storage.delete(name)  # a file gone already is no error to FileSystemStorage

    transaction.on_commit(remove_files)
    return deleted


ORPHAN_GRACE = timedelta(hours=1)  # a file younger may belong to a transaction still running


def orphans_remove(*, now: datetime | None = None) -> list[str]:
    """Delete stored files no attachment (nor held file) points at, written more than ORPHAN_GRACE ago:
    left by a transaction that stored a file and then rolled back (a refusal after the upload, a crash
    before the commit). Looks in this month's and last month's folders (attachment_path), where such
    files land when the sweep runs daily; returns the names deleted."""
    now = now or timezone.now()
    storage = Attachment._meta.get_field("file").storage
    previous_month = now.replace(day=1) - timedelta(days=1)
    removed = []
    for folder in sorted({f"attachments/{now:%Y/%m}", f"attachments/{previous_month:%Y/%m}"}):
        if not storage.exists(folder):
            continue
        names = [f"{folder}/{name}" for name in storage.listdir(folder)[1]]
        for start in range(0, len(names), 1000):
            batch = names[start : start + 1000]
            # One statement, so one snapshot: a held file handed over to its attachment in between two
            # reads would be in neither.
            attached = Attachment.objects.filter(file__in=batch).order_by().values_list("file", flat=True)
            held = HeldUpload.objects.filter(file__in=batch).order_by().values_list("file", flat=True)
            kept = set(attached.union(held).order_by())
            for name in batch:
                if name in kept:
                    continue
                try:
                    # Gone since the listing (a held file discarded, a sweep on another worker): done.
                    if now - storage.get_modified_time(name) > ORPHAN_GRACE:
                        storage.delete(name)
                        removed.append(name)
                except FileNotFoundError:
                    continue
    return removed
