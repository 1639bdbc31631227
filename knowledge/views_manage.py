"""Article authoring for agents (/kb/manage/…): list and review queue, editor with preview, workflow
actions, and the article picker the ticket workspace uses to link an answer into a reply."""

import uuid
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import rbac
from accounts.decorators import agent_required
from audit.models import AuditEvent
from helpdesk.display import shown_time
from helpdesk.forms import add_service_errors, parse_id, query_text
from helpdesk.links import mail_link
from helpdesk.ratelimit import rate_limit
from knowledge import services
from knowledge.forms import ArticleForm, parse_loaded_at
from knowledge.models import Article
from knowledge.search import search_articles
from knowledge.views import opened_as_page, renamed_article_url

MANAGE_PAGE_SIZE = 50
MANAGE_LIST_COLUMNS = (
    "title", "slug", "status", "visibility", "helpful_count", "not_helpful_count", "updated_at",
    "review_note_at", "category__name", "author__name", "author__email",
)  # fmt: skip
REVISIONS_PER_PAGE = 20
NOTHING_CHANGED = "Nothing changed: the article is as it was, so nothing was saved."

ACTIONS = {  # name: (service, what the message says was done)
    "submit": (services.article_submit_for_review, "sent for review"),
    "publish": (services.article_publish, "published"),
    "archive": (services.article_archive, "archived"),
    "verify": (services.article_verify, "marked verified"),
}
# The ways back to draft (the "draft" action: services.article_return_to_draft), by where the article
# is and who asks (the editor's button for each is in manage/article_form.html): what was done.
DRAFT_WAYS = {
    "withdraw": "withdrawn from review: it is a draft again",
    "request_changes": "sent back to its author as a draft",
    "reopen": "is a draft again",
}


@agent_required
@require_safe
def article_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    query = query_text(request, "q", limit=200)
    articles = (
        Article.objects.visible_to(request.user)
        .select_related("category", "author")
        # What the list shows: an article's body, HTML and search vector would widen every row sorted.
        .only(*MANAGE_LIST_COLUMNS)
        .order_by("-updated_at", "-pk")  # the pk keeps pages apart when two articles share a time
    )
    if status in Article.Status.values:
        articles = articles.filter(status=status)
    else:
        status = ""
    if query:
        articles = articles.filter(title__icontains=query)
    page = Paginator(articles, MANAGE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "knowledge/manage/article_list.html",
        {
            "page": page, "status": status, "query": query, "statuses": Article.Status.choices,
            "may_write": rbac.has_permission(request.user, services.AUTHOR),
        },
    )  # fmt: skip


@agent_required
@require_http_methods(["GET", "HEAD", "POST"])
def article_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """The editor. Its Preview button posts here too when htmx is off: the page comes back with the
    text as typed and its preview, and nothing is saved."""
    if slug is None and not rbac.has_permission(request.user, services.AUTHOR):
        raise PermissionDenied(services.NOT_AUTHOR)  # before anyone types an article they cannot save
    if request.method == "POST":
        article = _article_at(request, slug) if slug else None
    else:
        article = Article.objects.visible_to(request.user).filter(slug=slug).first() if slug else None
        if slug and article is None:
            if not (moved := renamed_article_url(request, "knowledge:manage_edit", slug)):
                raise Http404("No such article.")
            return redirect(moved)  # a bookmark or a review-queue link from before a rename
    initial = _editor_initial(article)
    preview_html = None
    if request.method == "POST" and "preview" in request.POST:
        # Unbound, so a half-written article shows no errors; loaded_at stays the one the editor was
        # opened with, or a preview would let the next save overwrite someone else's change.
        form = ArticleForm(initial={**initial, **request.POST.dict()})
        preview_html = _preview_html(request)
    else:
        form = ArticleForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and preview_html is None and form.is_valid():
        fields = dict(form.cleaned_data)
        loaded_at, submission_key = fields.pop("loaded_at"), fields.pop("submission_key")
        try:
            if article is None:
                saved = services.article_create(actor=request.user, submission_key=submission_key, **fields)
            else:
                saved = services.article_update(
                    article, actor=request.user, loaded_at=loaded_at, submission_key=submission_key, **fields
                )
        except PermissionDenied as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            # An address taken meanwhile follows from the title: said beside it (the form has no slug).
            if hasattr(error, "error_dict") and "slug" in error.error_dict:
                error = ValidationError({"title": error.error_dict.pop("slug"), **error.error_dict})
            add_service_errors(form, error)
        else:
            # The service writes nothing for a save that changes nothing, so updated_at stays as it was.
            repeated = saved.repeated_submission
            if article is not None and saved.updated_at == article.updated_at and not repeated:
                messages.info(request, NOTHING_CHANGED)
            else:
                messages.success(request, f"Saved “{saved.title}”.")
            return redirect("knowledge:manage_edit", slug=saved.slug)
    status = 422 if form.is_bound else 200
    return _editor_page(request, article, form, status=status, preview_html=preview_html)


def _article_at(request: HttpRequest, slug: str) -> Article:
    """The article a posted editor page is about, renamed since it was opened or not: the post then
    meets the article's own staleness check (its text kept), not a 404."""
    article = Article.objects.visible_to(request.user).at_address(slug).first()
    if article is None:
        raise Http404("No such article.")
    return article


def _editor_initial(article: Article | None) -> dict:
    if article is None:
        return {"submission_key": uuid.uuid4()}
    initial = {"submission_key": uuid.uuid4()}
    initial |= {name: getattr(article, name) for name in ("title", "tags", "excerpt", "visibility", "body")}
    initial["category"] = article.category_id
    initial["loaded_at"] = article.updated_at.isoformat()
    return initial


def _editor_page(
    request: HttpRequest, article: Article | None, form: ArticleForm, *, status: int, **extra
) -> HttpResponse:
    """The editor page for `article` (None: a new one), read-only where the user may not edit it."""
    actions = services.article_actions(article, request.user) if article is not None else ["edit"]
    read_only = "edit" not in actions
    if read_only:
        form.make_read_only()
    revisions = (
        Paginator(article.revisions.select_related("created_by"), REVISIONS_PER_PAGE).get_page(
            request.GET.get("versions")
        )
        # Earlier versions may hold what an editor took out: theirs to read and put back.
        if article is not None and rbac.has_permission(request.user, services.EDITOR)
        else []
    )
    context = {
        "form": form, "article": article, "revisions": revisions, "actions": actions,
        "read_only": read_only, "preview_html": None, "draft_note": "", "draft_error": "",
        "draft_way": _draft_way(article, request.user) if "draft" in actions else None,
        "note_max_length": services.NOTE_MAX_LENGTH,
        # The action buttons send it too: publishing from a page loaded before the author's last
        # change would publish words the editor never read.
        "loaded_at": article.updated_at.isoformat() if article is not None else "",
        **extra,
    }  # fmt: skip
    return render(request, "knowledge/manage/article_form.html", context, status=status)


@agent_required
@require_POST
@rate_limit("article_preview")
def article_preview(request: HttpRequest) -> HttpResponse:
    """Rendered markdown of the editor's text (changes nothing)."""
    return HttpResponse(_preview_html(request))


def _preview_html(request: HttpRequest) -> str:
    """The editor's posted text rendered as the article page would show it."""
    # Cut where the save's limit is counted: each line break one character, as browsers send two.
    posted = request.POST.get("body", "").replace("\r\n", "\n")
    return services.article_html(posted[: services.BODY_MAX_LENGTH])


def _draft_way(article: Article, user) -> str:
    if article.status == Article.Status.ARCHIVED:
        return "reopen"
    return "withdraw" if article.author_id is not None and article.author_id == user.pk else "request_changes"


@agent_required
@require_POST
def article_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    if action == "delete":
        return _delete(request, slug)
    article = _article_at(request, slug)
    if action == "draft":
        if (refused := _return_to_draft(request, article)) is not None:
            return refused
    elif action not in ACTIONS:
        raise Http404("No such action.")  # an address that names no action is no page
    else:
        service, done = ACTIONS[action]
        try:
            seen = {"verification_seen": request.POST.get("verified_at")} if action == "verify" else {}
            done_to = service(article, actor=request.user, loaded_at=_posted_loaded_at(request), **seen)
            if action == "verify" and done_to.verified_by_id != request.user.pk:
                # Verified by someone else since that page showed it: theirs stands, nothing recorded.
                when = shown_time(timezone.localtime(done_to.verified_at))
                messages.info(
                    request, f"“{article.title}” was verified already, by {done_to.verified_by} ({when})."
                )
            else:
                messages.success(request, f"“{article.title}” {done}.")
        except PermissionDenied as error:
            messages.error(request, str(error))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return redirect("knowledge:manage_edit", slug=article.slug)


def _delete(request: HttpRequest, slug: str) -> HttpResponse:
    """Delete the article the page showed (its id posted: the address may since lead to another, a new
    draft of the same title or one whose old link it was); to the list when done, or done already (a
    second click without JavaScript), else back to the article with the reason."""
    visible = Article.objects.visible_to(request.user)
    article = visible.at_address(slug).first()
    shown = parse_id(request.POST.get("article", ""))
    if shown is not None and (article is None or article.pk != shown):
        article = visible.filter(pk=shown).first()  # renamed since that page was loaded, or gone
    if article is None:
        if not _deleted(shown, slug, request.user):
            raise Http404("No such article.")
        messages.info(request, "That article was deleted already.")
        return redirect("knowledge:manage_list")
    try:
        deleted = services.article_delete(article, actor=request.user, loaded_at=_posted_loaded_at(request))
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        return redirect("knowledge:manage_edit", slug=article.slug)
    if deleted:
        messages.success(request, f"Deleted “{article.title}”.")
    else:
        messages.info(request, "That article was deleted already.")
    return redirect("knowledge:manage_list")


def _deleted(pk: int | None, slug: str, user) -> bool:
    """Whether the article with id `pk` was deleted (its audit event), told only to whom it was no secret:
    an editor, or someone who worked on it (wrote, changed or deleted it); anyone else posting an id gets
    the 404 of an id never used. Without an id (a page from before the delete form posted it), whether
    `user` deleted one at `slug`."""
    events = AuditEvent.objects.filter(object_type=ContentType.objects.get_for_model(Article))
    deletes = events.filter(action="delete")
    if pk is None:
        return deletes.filter(actor=user, changes__slug__0=slug).exists()
    about = events.filter(object_id=str(pk))
    if not rbac.has_permission(user, "knowledge.change_article") and not about.filter(actor=user).exists():
        return False
    return deletes.filter(object_id=str(pk)).exists()


def _return_to_draft(request: HttpRequest, article: Article) -> HttpResponse | None:
    """None when done; refused, the editor page again with the reviewer's note as typed beside the
    reason (a note is work too: 409 for an article changed since, 422 for a note too long)."""
    done = DRAFT_WAYS[_draft_way(article, request.user)]
    note = request.POST.get("note", "")
    try:
        services.article_return_to_draft(
            article, actor=request.user, note=note, loaded_at=_posted_loaded_at(request)
        )
    except (PermissionDenied, ValidationError) as error:
        reason = " ".join(getattr(error, "messages", [str(error)]))
        if not note.strip():  # nothing typed to keep: the reason, on the page as it is now
            messages.error(request, reason)
            return None
        article.refresh_from_db()
        status = (
            403 if isinstance(error, PermissionDenied) else 409 if services.STALE_ARTICLE in reason else 422
        )
        form = ArticleForm(initial=_editor_initial(article))
        return _editor_page(request, article, form, status=status, draft_note=note, draft_error=reason)
    with_note = ", with your note for the author" if note.strip() else ""
    messages.success(request, f"“{article.title}” {done}{with_note}.")
    return None


def _posted_loaded_at(request: HttpRequest) -> datetime:
    """The article's updated_at on the page whose button was pressed (see parse_loaded_at)."""
    return parse_loaded_at(request.POST.get("loaded_at", ""))


@agent_required
@require_POST
def revision_restore(request: HttpRequest, slug: str, revision_id: int) -> HttpResponse:
    article = _article_at(request, slug)
    revision = get_object_or_404(article.revisions, pk=revision_id)
    loaded_at = _posted_loaded_at(request)
    try:
        updated = services.article_restore_revision(
            article, revision, actor=request.user, loaded_at=loaded_at
        )
    except PermissionDenied as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        # Nothing written, asked from a page showing the article as it is: that version is the current
        # text. (From an older page, it is the restore that page made, sent twice.)
        if updated.updated_at == article.updated_at == loaded_at:
            messages.info(request, NOTHING_CHANGED)
        else:
            restored = timezone.localtime(revision.created_at)  # the reader's time zone, as listed
            messages.success(request, f"Restored the version of {shown_time(restored)}.")
    return redirect("knowledge:manage_edit", slug=article.slug)


@agent_required
@require_safe
def article_picker(request: HttpRequest) -> HttpResponse:
    """Articles to link into a reply: buttons that insert a markdown link (see static/js/desk.js). Opened
    as a page, the knowledge base's search for those words: the buttons work only in the composer."""
    query = query_text(request, "q", limit=300)
    if opened_as_page(request):
        return redirect(f"{reverse('knowledge:search')}?{urlencode({'q': query})}")
    hits = search_articles(request.user, query, limit=6)
    # The links go out in replies (the portal, mail): at the site's own address, as mailed links are.
    response = render(
        request, "knowledge/manage/_picker.html", {"hits": hits, "site": mail_link(request, "")}
    )
    patch_vary_headers(response, ["HX-Request"])
    return response
