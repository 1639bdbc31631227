"""Public knowledge base (/kb/…): categories, articles, search with type-ahead, votes, and the
suggestions shown beside the ticket form (deflection)."""

from collections import defaultdict
from urllib.parse import urlencode, urlsplit

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from accounts import rbac
from helpdesk.forms import query_text
from helpdesk.ratelimit import rate_limit, rate_limited
from knowledge import services
from knowledge.models import Article, ArticleFeedback, Category
from knowledge.search import MIN_PREFIX, search_articles
from knowledge.signals import category_counts_key

ARTICLE_TEMPLATE = "knowledge/article_detail.html"
CATEGORY_COUNTS_SECONDS = 60
CATEGORY_PAGE_SIZE = 30
# The articles a session has been counted as viewing (article_viewed), the latest last. Bounded so the
# session stays small; a reader who opens more articles than this may count an early one twice.
VIEWED_SESSION_KEY = "kb_viewed"
VIEWED_REMEMBERED = 200
SEARCH_SHOWN = 20
ANONYMOUS_VOTER = "kb_anonymous_voter"


def _path_of(url: str | None) -> str:
    """The path of a URL a client sent (htmx's HX-Current-URL): "" for one that is not a URL."""
    try:
        return urlsplit(url or "").path
    except ValueError:  # "http://[::1": the header is the client's to write
        return ""


@require_safe
def kb_home(request: HttpRequest) -> HttpResponse:
    listed = Article.objects.publicly_listed_to(request.user)
    staff = rbac.is_agent(request.user)
    counts = _counts_by_category(listed, audience="staff" if staff else "public")
    categories = []
    for category in Category.objects.filter(parent__isnull=True):
        category.article_count = counts.get(category.pk, 0)
        # A topic holding nothing a visitor may read (internal articles, drafts) is a dead end for them,
        # and its name may be news they should not get; agents see every topic.
        if staff or category.article_count:
            categories.append(category)
    popular = listed.order_by("-helpful_count", "-views", "title").only("title", "slug", "visibility")[:8]
    context = {"categories": categories, "popular": popular, "other_count": counts.get(None, 0)}
    return render(request, "knowledge/kb_home.html", context)


def _counts_by_category(listed, *, audience: str) -> dict[int, int]:
    """Listed articles per category, its subcategories' included, for one audience (what it lists
    depends on nothing else), cached for CATEGORY_COUNTS_SECONDS, or until an article or category
    changes (knowledge.signals): with 100,000 articles counting them costs more than the page."""
    key = category_counts_key(audience)
    counts = cache.get(key)
    if counts is None:
        rows = listed.order_by().values_list("category_id").annotate(total=Count("pk"))
        parents = dict(Category.objects.values_list("pk", "parent_id"))
        counts = {}
        # A topic counts its subtopics' articles, or "Billing" says 0 when they all are in "Invoices".
        for category_id, total in rows:
            if category_id is None:  # under no topic: "Other articles" (other_articles)
                counts[None] = total
                continue
            node, seen = category_id, set()
            while node is not None and node not in seen:  # `seen`: the admin can save a parent loop
                counts[node] = counts.get(node, 0) + total
                seen.add(node)
                node = parents.get(node)
        cache.set(key, counts, CATEGORY_COUNTS_SECONDS)
    return counts


def _lists_any(listed, category: Category) -> bool:
    """Whether `listed` holds an article in `category` or in any of its subcategories, counted now: a 404
    must not come from counts a minute old."""
    children_of = defaultdict(list)
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children_of[parent_id].append(pk)
    subtree, todo = set(), [category.pk]
    while todo:
        node = todo.pop()
        if node not in subtree:  # `subtree` ends a parent loop saved before Category.clean refused them
            subtree.add(node)
            todo.extend(children_of[node])
    return listed.filter(category_id__in=subtree).exists()


@require_safe
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category.objects.select_related("parent"), slug=slug)
    listed = Article.objects.publicly_listed_to(request.user)
    articles = listed.filter(category=category).order_by("title_order", "title", "pk")
    page = Paginator(articles.only("slug", "title", "excerpt", "visibility"), CATEGORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    children = list(category.children.all())
    if not rbac.is_agent(request.user):
        # As on the home page: visitors get no topic that holds nothing for them, here or below it.
        own = page.paginator.count
        counts = _counts_by_category(listed, audience="public") if children or not own else {}
        children = [child for child in children if counts.get(child.pk)]
        if not own and not counts.get(category.pk) and not _lists_any(listed, category):
            raise Http404("No such category.")
    return render(
        request, "knowledge/category_detail.html",
        {"category": category, "page": page, "children": children},
    )  # fmt: skip


@require_safe
def other_articles(request: HttpRequest) -> HttpResponse:
    """The articles filed under no topic, which browsing by topic would never reach."""
    articles = Article.objects.publicly_listed_to(request.user).filter(category__isnull=True)
    page = Paginator(
        articles.order_by("title_order", "title", "pk").only("slug", "title", "excerpt", "visibility"),
        CATEGORY_PAGE_SIZE,
    )
    return render(request, "knowledge/other_articles.html", {"page": page.get_page(request.GET.get("page"))})


@require_safe
@rate_limit("search", methods=("GET",))
def kb_search(request: HttpRequest) -> HttpResponse:
    query = query_text(request, "q", limit=300)
    # The best matches only: past them a search is narrowed with a word more, and the page says so
    # rather than giving the number shown as the number found.
    hits = search_articles(request.user, query, limit=SEARCH_SHOWN + 1) if query else []
    more, hits = len(hits) > SEARCH_SHOWN, hits[:SEARCH_SHOWN]
    template = "knowledge/search.html"
    if request.htmx:
        template += "#results"
    retitle = bool(request.htmx) and _path_of(request.htmx.current_url) == request.path
    context = {"query": query, "hits": hits, "more": more, "retitle": retitle}
    response = render(request, template, context)
    # One address, two answers (the type-ahead fragment, the whole page): caches must keep them apart,
    # or Back or Enter after typing can show the bare fragment as the page.
    patch_vary_headers(response, ["HX-Request"])
    return response


def opened_as_page(request: HttpRequest) -> bool:
    """Whether the browser opened this address as a page (typed in, from its history, a shared link)
    rather than fetched it into one: browsers say so in Sec-Fetch-Dest, htmx's requests carry HX-Request.
    A fragment's address opened so answers a page, since a fragment alone is none."""
    return not request.htmx and request.headers.get("Sec-Fetch-Dest") == "document"


@require_safe
@rate_limit("search", methods=("GET",))
def suggest(request: HttpRequest) -> HttpResponse:
    """Articles matching what a customer is typing as a ticket subject (htmx fragment). Opened as a page
    (typed in, from the history), the search page for those words: a fragment alone is no page."""
    query = query_text(request, "subject", limit=200)
    if opened_as_page(request):
        return redirect(f"{reverse('knowledge:search')}?{urlencode({'q': query})}")
    # A subject as short as "VPN" is a word, not the start of one: "res" would suggest "Reset", "Restore"...
    searched = len(query) >= MIN_PREFIX
    hits = (
        search_articles(request.user, query, limit=5, whole_words=len(query) <= MIN_PREFIX)
        if searched
        else []
    )
    response = render(request, "knowledge/_suggestions.html", {"hits": hits, "searched": searched})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _article_or_redirect(request: HttpRequest, slug: str):
    article = (
        Article.objects.visible_to(request.user)
        .select_related("category__parent", "author")
        .filter(slug=slug)
        .first()
    )
    if article is not None:
        return article
    if moved := renamed_article_url(request, "knowledge:article", slug):
        # Permanent for search engines, but asked again each time by browsers: a rename can be undone
        # (A to B to A) or the old address taken by another article, and a browser that kept the first
        # redirect would then loop or never reach it. Private: where it leads depends on who asks.
        response = redirect(moved, permanent=True)
        patch_cache_control(response, private=True, no_cache=True)
        return response
    raise Http404("No such article.")


def renamed_article_url(request: HttpRequest, view_name: str, slug: str) -> str | None:
    """The address of `view_name` for the article that had `slug` before a rename, with the request's
    query string (a suggestion's ?from=ticket still counts); None when no article the user may see
    had it."""
    renamed = Article.objects.visible_to(request.user).filter(old_slugs__slug=slug).only("slug").first()
    if renamed is None:
        return None
    query = request.GET.urlencode()
    return reverse(view_name, kwargs={"slug": renamed.slug}) + (f"?{query}" if query else "")


def _listed_at(request: HttpRequest, slug: str):
    """The article the user may read at `slug`, or at a slug it had before a rename: a page opened
    before the rename still votes and counts its view."""
    return Article.objects.publicly_listed_to(request.user).at_address(slug)


def _vote_of(request: HttpRequest, article: Article) -> tuple[bool | None, bool]:
    """The visitor's vote on `article` (None: none yet), and whether it says the article answered what
    they came from the ticket form with (a deflection)."""
    if request.user.is_authenticated:
        votes = ArticleFeedback.objects.filter(article=article, user=request.user)
        if earlier := request.session.get(ANONYMOUS_VOTER):  # cast before signing in: theirs too
            votes = ArticleFeedback.objects.filter(
                Q(user=request.user) | Q(user=None, session_key=earlier), article=article
            ).order_by("user_id")  # their account's first
    elif request.session.session_key:
        voter = services.session_voter(request.session.session_key)
        votes = ArticleFeedback.objects.filter(article=article, user=None, session_key=voter)
    else:
        return None, False
    return votes.values_list("helpful", "from_ticket_form").first() or (None, False)


@require_safe
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article_or_redirect(request, slug)
    if isinstance(article, HttpResponse):
        return article
    related = (
        Article.objects.publicly_listed_to(request.user)
        .filter(category_id=article.category_id)
        .exclude(pk=article.pk)
        .only("title", "slug", "visibility")[:5]
        if article.category_id
        else []
    )
    vote, deflected = _vote_of(request, article)
    context = {
        "article": article,
        "related": related,
        "vote": vote,
        "vote_deflected": deflected,
        "from_ticket_form": request.GET.get("from") == "ticket",
    }
    return render(request, ARTICLE_TEMPLATE, context)


@require_POST
# Vote stuffing: each anonymous vote without a session cookie starts a new session, so those count per
# IP. A signed-in vote is one per account: counted per account only, so that the anonymous votes of an
# office behind one address do not stop its signed-in customers voting.
@rate_limit("vote", per_ip=lambda request: not request.user.is_authenticated)
def article_vote(request: HttpRequest, slug: str) -> HttpResponse:
    article = _listed_at(request, slug).first()
    if article is None:
        raise Http404("No such article.")
    choice = request.POST.get("helpful")
    if choice not in ("yes", "no"):  # anything else is not a vote, least of all a "not helpful" one
        return render(request, "400.html", status=400)
    helpful = choice == "yes"
    from_ticket_form = request.POST.get("from") == "ticket"
    if not request.session.session_key:
        request.session.save()
    if not request.user.is_authenticated:
        # Kept in the session's data, which signing in carries over (the key changes): the visitor's
        # vote becomes the account's, not a second one (services.article_vote).
        request.session[ANONYMOUS_VOTER] = services.session_voter(request.session.session_key)
    services.article_vote(
        article,
        helpful=helpful,
        user=request.user,
        session_key=request.session.session_key,
        from_ticket_form=from_ticket_form,
        earlier_voter=request.session.get(ANONYMOUS_VOTER, ""),
    )
    article.refresh_from_db()
    if request.htmx:
        context = {
            "article": article,
            "vote": helpful,
            "vote_deflected": helpful and from_ticket_form,
            "from_ticket_form": from_ticket_form,
            "just_voted": True,
        }
        return render(request, ARTICLE_TEMPLATE + "#vote", context)
    url = reverse("knowledge:article", args=[article.slug])
    # Keep "from=ticket" so a changed vote still counts as a deflection; back at the vote, whose thanks
    # would otherwise lie below the fold of a long article.
    return redirect((url + "?from=ticket" if from_ticket_form else url) + "#vote")


@require_POST
def article_viewed(request: HttpRequest, slug: str) -> HttpResponse:
    """Counted by a POST the page sends once loaded, so reading stays free of side effects; once per
    article per session, so reloading a page cannot push it up "Popular articles". The page sends its
    article's id, so a view counted already costs no query."""
    viewed = request.session.get(VIEWED_SESSION_KEY, [])
    posted = request.POST.get("article", "")
    article_id = int(posted) if posted.isascii() and posted.isdigit() and len(posted) <= 18 else None
    if article_id is not None and article_id in viewed:
        return HttpResponse(status=204)
    # A script that drops its session cookie starts a new session each time: bounded per IP, quietly
    # (a reader behind a busy office address sees no error for a counter).
    if rate_limited(request, "article_view") is not None:
        return HttpResponse(status=204)
    listed = _listed_at(request, slug)
    if article_id is None:  # a page from before the id was sent: find it by its slug
        article_id = listed.values_list("pk", flat=True).first()
        if article_id is None or article_id in viewed:
            return HttpResponse(status=204)
    # Both the slug and the id must match: a made-up id counts nothing and is not remembered.
    if listed.filter(pk=article_id).update(views=F("views") + 1):
        request.session[VIEWED_SESSION_KEY] = [*viewed, article_id][-VIEWED_REMEMBERED:]
    return HttpResponse(status=204)
