"""What someone had typed when their session ended: kept in the session (which signing in keeps) for
the page it was typed on, and given back once, on that page, to the account that typed it. The page
names its account (`drafted_by`, signed), so a draft never goes to whoever signs in next on a shared
computer. Files do not wait over a sign-in."""

from django.core import signing
from django.http import HttpRequest

DRAFT_SESSION_KEY = "submission_draft"
DRAFT_SALT = "tickets.portal.draft"
DRAFT_MAX_AGE = 7 * 24 * 3600  # a page left open over a week-end still keeps its draft


def drafted_by(user) -> str:
    """What a form carries to name the account its draft is kept for (nothing for a visitor)."""
    return signing.dumps(user.pk, salt=DRAFT_SALT) if user.is_authenticated else ""


def keep_draft(request: HttpRequest, *, path: str, typed: dict[str, list[str]]) -> bool:
    """Keep `typed` (field: values as posted) for the page at `path`, for the account the posted form
    names; whether it was kept (a form that names none, or a forged name, keeps nothing)."""
    try:
        owner = signing.loads(request.POST.get("drafted_by", ""), salt=DRAFT_SALT, max_age=DRAFT_MAX_AGE)
    except signing.BadSignature:
        return False
    request.session[DRAFT_SESSION_KEY] = {"path": path, "typed": typed, "owner": owner}
    return True


def kept_draft(request: HttpRequest) -> dict | None:
    """The draft kept for this page and this account, as a form's initial values, once."""
    draft = request.session.get(DRAFT_SESSION_KEY)
    if request.method == "POST" or not draft or not request.user.is_authenticated:
        return None
    if draft.get("owner") != request.user.pk:  # someone else signed in here: it is not theirs to read
        del request.session[DRAFT_SESSION_KEY]
        return None
    if draft.get("path") != request.path:
        return None
    del request.session[DRAFT_SESSION_KEY]
    typed = draft["typed"].items()
    return {name: values if len(values) > 1 else values[0] for name, values in typed if values}
