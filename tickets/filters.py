"""The agent queue's filters and sort orders. Only declared keys reach the ORM; unknown ones are ignored."""

import operator
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, reduce

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import rbac
from accounts.models import Organization, Team, User, email_key
from helpdesk.accents import CJK_WITH_MARKS, SearchWords, words_of
from helpdesk.dates import REVERSED, start_of
from helpdesk.forms import as_tag, nfc, parse_id
from helpdesk.models import Priority
from tickets.models import Channel, Ticket, number_from
from tickets.workflow import Status

# Sort keys offered in the UI → ORM ordering. Anything else falls back to the default.
SORTS = {
    "updated": ("-updated_at", "-id"),
    "-updated": ("updated_at", "id"),
    "created": ("-created_at", "-id"),
    "-created": ("created_at", "id"),
    "priority": ("-priority_order", "-updated_at", "-id"),
    "number": ("-number",),
    "-number": ("number",),
}
DEFAULT_SORT = "updated"
# A search term matching more people than this (say "a") finds the rows of the first ones only.
PEOPLE_MATCHES = 1_000
MENTIONS = 1_000  # tickets holding searched digits, read first as ids below this many (filter_search)
SORT_LABELS = {
    "updated": "Recently updated",
    "-updated": "Least recently updated",
    "created": "Newest",
    "-created": "Oldest",
    "priority": "Priority",
    "number": "Number (high to low)",
    "-number": "Number (low to high)",
}


def sort_key(raw: str | None) -> str:
    return raw if raw in SORTS else DEFAULT_SORT


# "carla's printer": the possessive names Carla; as a word of its own, "s" would have to be in her name.
POSSESSIVE = re.compile("['\u2019]s\\b", re.IGNORECASE)
CJK_CHARACTER = re.compile(CJK_WITH_MARKS)


def _raw_query(raw: str) -> SearchQuery:
    """A tsquery written here, of letters and digits only (so never malformed), in the 'simple' config."""
    return SearchQuery(raw, config="simple", search_type="raw")


def _person(text: str, *, by_email: bool = True) -> Q:
    """People whose e-mail address starts with `text` (an internationalised domain typed as people read
    it compared in the xn-- form it is stored in) or whose name has words starting with each of its
    words ("jo smi" finds Jo Smith, "jose" finds José, "schmidt" finds Anna.Schmidt), as index look-ups
    (accounts.User's user_email_prefix and user_name_words) rather than a scan of every user. Not by
    the address unless `by_email`: to a reader who may not see addresses, one letter after another
    typed would spell them out."""
    email = Q(email_lower__startswith=email_key(text)) if by_email else Q(pk__in=[])
    words = words_of(POSSESSIVE.sub("", text))[:MAX_TERM_WORDS]
    if not words:
        return email
    # Chinese, Japanese or Korean characters typed together are the name's in that order ("田中" is not
    # "中田"): one phrase, its last character a prefix.
    query, run = [], []
    for word in [*words, ""]:
        if word and CJK_CHARACTER.fullmatch(word):
            run.append(f"'{word}'")
            continue
        if run:
            query.append(f"({' <-> '.join(run)}:*)" if len(run) > 1 else f"{run[0]}:*")
            run = []
        if word:
            query.append(f"'{word}':*")
    return email | Q(name_words=_raw_query(" & ".join(query)))


def _people() -> QuerySet[User]:
    return User.objects.alias(
        email_lower=Lower("email"), name_words=SearchVector(SearchWords("name"), config="simple")
    )


def matching_people_ids(value: str) -> list[int]:
    """The ids of the people `value` names (_person), at most PEOPLE_MATCHES: read first, so the rows they
    wrote or asked are found along their own index (a sub-select ORed in would test every row)."""
    return list(_people().filter(_person(value)).values_list("pk", flat=True)[:PEOPLE_MATCHES])


def people_ids_by_word(words: list[str], *, by_email: bool = True) -> list[list[int]]:
    """For each of `words`, the ids of the people it names (_person), all read in one query; at most
    PEOPLE_MATCHES people in all."""
    named = [_person(word, by_email=by_email) for word in words]
    flags = {f"names_{n}": ExpressionWrapper(q, output_field=BooleanField()) for n, q in enumerate(named)}
    rows = _people().annotate(**flags).filter(reduce(operator.or_, named)).values_list("pk", *flags)
    ids: list[list[int]] = [[] for _ in words]
    for pk, *names in rows[:PEOPLE_MATCHES]:
        for index, name in enumerate(names):
            if name:
                ids[index].append(pk)
    return ids


@dataclass(frozen=True)
class QueryTerm:
    """One thing typed in the search box: a word, a "quoted phrase" or the start* of a word, perhaps
    -left out or ORed with the term before it, with the tsquery of its words (`query`)."""

    text: str
    query: str
    negated: bool = False
    either: bool = False


# What the search box reads, as Gmail and Zendesk do: every term (AND), "a phrase", this OR that (OR in
# capitals, binding tighter: "printer fire OR smoke" is printer and either), -term left out, and start*
# of a word ("drucker*" finds "Druckerproblem").
TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')
MAX_TERMS = 16
MAX_TERM_WORDS = 8


def search_terms(value: str) -> list[QueryTerm]:
    """The terms of `value`, each with its tsquery over the subject's words (tickets.Ticket.search_vector,
    helpdesk.accents.SearchWords: unaccented, ASCII punctuation made spaces, so "outlook.com" is
    'outlook' <-> 'com' on both sides). Only letters and digits reach a tsquery, so it cannot be
    malformed; a term that holds none is left out. At most MAX_TERMS terms of MAX_TERM_WORDS words
    each (search_cut says when a search held more)."""
    return _search_terms(value)[0]


def search_cut(value: str) -> bool:
    """Whether ticket_search reads only part of `value`: past SEARCH_MAX_LENGTH characters, MAX_TERMS
    terms, or MAX_TERM_WORDS words of a phrase (the page says so: a word left out, "-fire" say, would
    otherwise change the list unsaid)."""
    value = nfc(value.strip())
    return len(value) > SEARCH_MAX_LENGTH or _search_terms(value[:SEARCH_MAX_LENGTH])[1]


SEARCH_MAX_LENGTH = 200
SEARCH_CUT = (
    f"Search: only the first {MAX_TERMS} words of the search (and {MAX_TERM_WORDS} of a quoted phrase, "
    f"{SEARCH_MAX_LENGTH} characters in all) were searched for."
)


def _search_terms(value: str) -> tuple[list[QueryTerm], bool]:
    """search_terms, and whether any part of `value` was left out."""
    terms: list[QueryTerm] = []
    either = cut = False
    for minus, phrase, word in TERM.findall(value):
        if word == "OR" and not minus:
            either = bool(terms)
            continue
        text = phrase if phrase else word.rstrip("*")
        if not (words := words_of(text)):
            continue
        if len(terms) == MAX_TERMS:
            return terms, True
        cut = cut or len(words) > MAX_TERM_WORDS
        lexemes = [f"'{lexeme}'" for lexeme in words[:MAX_TERM_WORDS]]
        if not phrase and word.endswith("*"):
            lexemes[-1] += ":*"
        query = " <-> ".join(lexemes)
        terms.append(QueryTerm(text, f"({query})" if len(lexemes) > 1 else query, bool(minus), either))
        either = False
    return terms, cut


def _either_chains(terms: list[QueryTerm]) -> list[list[QueryTerm]]:
    """`terms` as the chains of alternatives that are ANDed: "a b OR c" is [[a], [b, c]]."""
    chains: list[list[QueryTerm]] = []
    for term in terms:
        if term.either and chains:
            chains[-1].append(term)
        else:
            chains.append([term])
    return chains


def raw_query(terms: list[QueryTerm]) -> str | None:
    """The tsquery of all `terms` over the subject, or None when there is none."""
    ands = []
    for chain in _either_chains(terms):
        either = [f"!{term.query}" if term.negated else term.query for term in chain]
        ands.append(either[0] if len(either) == 1 else f"({' | '.join(either)})")
    return " & ".join(ands) or None


def subject_query(terms: list[QueryTerm]) -> SearchQuery | None:
    raw = raw_query(terms)
    return None if raw is None else _raw_query(raw)


# A ticket's reference inside a pasted mail subject ("Re: [T-1042] Printer on fire").
REFERENCE_IN_BRACKETS = re.compile(r"\[\s*T-?\s*([0-9]+)\s*\]", re.IGNORECASE)
# No search matches an empty query: what is left of one that holds no word ("!!!").
NO_WORDS = SearchQuery("", config="simple", search_type="plain")


def bare_number(value: str) -> int | None:
    """The number a search of bare digits names ("1042", full-width digits too), which ticket_search
    reads as that ticket or the tickets that mention it; None for anything else."""
    value = nfc(value.strip())[:SEARCH_MAX_LENGTH]
    return number_from(value) if value.isdecimal() else None


def ticket_search(queryset: QuerySet[Ticket], value: str, *, by_email: bool = True) -> QuerySet[Ticket]:
    """`queryset` cut to the tickets `value` finds: a reference, or terms (search_terms) each found in the
    subject (its full-text index) or naming the requester (e-mail, unless not `by_email`, and name
    prefixes: "carla printer", "-carla"): the desk's search box and the admin's."""
    value = nfc(value.strip())[:SEARCH_MAX_LENGTH]
    if not value:
        return queryset
    terms = search_terms(value)
    # Bare digits are a ticket's number or words in tickets ("order 4711 arrived broken"); a reference
    # ("T-1042", "#1042") is that ticket.
    if (exact := bare_number(value)) is not None:
        words = subject_query(terms)
        # Read first, as ids, when few tickets hold them (most numbers): ORed with the number, a text
        # match the planner guesses at 0.5 % of the table would be tested on every row of an index
        # walk that never fills its page. Many (a year, "2024") are found early on any walk.
        mentions = list(Ticket.objects.filter(search_vector=words).values_list("pk", flat=True)[:MENTIONS])
        if len(mentions) < MENTIONS:
            return queryset.filter(Q(number=exact) | Q(pk__in=mentions))
        return queryset.filter(Q(number=exact) | Q(search_vector=words))
    if (exact := number_from(value)) is not None:
        return queryset.filter(number=exact)
    if (pasted := REFERENCE_IN_BRACKETS.search(value)) and (number := parse_id(pasted.group(1))):
        return queryset.filter(number=number)
    if not terms:
        return queryset.filter(search_vector=NO_WORDS)
    # The people first, as id lists: ORed with the text match, a sub-select would make PostgreSQL test
    # every visible ticket instead of intersecting index look-ups.
    people = people_ids_by_word([term.text for term in terms], by_email=by_email)
    named = dict(zip(terms, people, strict=True))
    found = Q()
    for chain in _either_chains(terms):
        either = Q()
        for term in chain:
            match = Q(search_vector=_raw_query(term.query))
            if named[term]:
                match |= Q(requester_id__in=named[term])
            either |= ~match if term.negated else match
        found &= either
    return queryset.filter(found)


class WholeDaysField(django_filters.fields.DateRangeField):
    def compress(self, data_list):
        if data_list and None not in data_list[:2] and data_list[1] < data_list[0]:
            # Said, not applied: the list would be empty, which reads as "nothing in that period".
            raise ValidationError(REVERSED, code="reversed")
        return slice(*data_list) if data_list else None  # the days, made instants by WholeDaysFilter


class WholeDaysFilter(django_filters.DateFromToRangeFilter):
    """A range of days in the viewer's time zone: from the start of the first to the start of the day
    after the last (helpdesk.dates.start_of), so the last day counts whole."""

    field_class = WholeDaysField

    def filter(self, qs, value):
        if not value:
            return qs
        if value.start is not None:
            qs = qs.filter(**{f"{self.field_name}__gte": start_of(value.start)})
        if value.stop is not None:
            qs = qs.filter(**{f"{self.field_name}__lt": start_of(value.stop, days_later=1)})
        return qs


# "In the last N days": N whole days back from today, today included (0 is today alone).
WITHIN_DAYS = [
    ("0", "Today"),
    ("1", "Today or yesterday"),
    ("7", "The last 7 days"),
    ("30", "The last 30 days"),
    ("90", "The last 90 days"),
    ("365", "The last year"),
]


class WithinDaysFilter(django_filters.ChoiceFilter):
    """A period that ends now and moves with the calendar: from the start of the day N days before today
    in the viewer's time zone. A saved view keeps "the last 7 days" as such, where a from-date would
    stay the day it was saved."""

    def __init__(self, *args, implies: str = "", **kwargs) -> None:
        super().__init__(*args, choices=WITHIN_DAYS, empty_label="Any time", **kwargs)
        self.implies = implies

    def filter(self, qs, value):
        if not value:
            return qs
        since = start_of(timezone.localdate() - timedelta(days=int(value)))
        bounds = {f"{self.field_name}__gte": since}
        if self.implies:  # said outright, so that PostgreSQL can walk that column's index
            bounds[f"{self.implies}__gte"] = since
        return qs.filter(**bounds)


class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number (NumberFilter reads "1.5" as a decimal, which an id column takes as 1)."""

    field_class = forms.IntegerField


class TagField(forms.CharField):
    """A tag as stored (as_tag) before its length is checked: 50 accented letters typed decomposed are 100
    characters, and the tag they make 50."""

    def to_python(self, value) -> str:
        return as_tag(super().to_python(value))


class TagFilter(django_filters.CharFilter):
    field_class = TagField


def in_my_teams(user: User) -> Q:
    """The tickets of the teams `user` works; for an administrator also those of no team, which wait
    for one (README: a ticket without a form's or a default team)."""
    mine = Q(team_id__in=rbac.workable_team_ids(user))
    return mine | Q(team__isnull=True) if rbac.is_administrator(user) else mine


class TicketQueueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="filter_search")
    scope = django_filters.ChoiceFilter(
        choices=[("teams", "In my teams")],
        empty_label="Everything I can see",
        method="filter_scope",
        label="Scope",
    )
    # distinct=False: these filter on the ticket's own columns, and SELECT DISTINCT would sort every
    # matching row before the page could be cut.
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=Priority.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.none(), empty_label="Any team")
    assignee = django_filters.CharFilter(label="Assignee", method="filter_assignee")
    requester = IdFilter(field_name="requester_id", widget=forms.HiddenInput)
    organization = django_filters.ModelChoiceFilter(
        queryset=Organization.objects.all(), empty_label="Any organisation", label="Organisation"
    )
    tag = TagFilter(label="Tag", max_length=50, method="filter_tag")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any channel")
    created = WholeDaysFilter(
        label="Created",
        field_name="created_at",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    updated = WholeDaysFilter(
        label="Updated",
        field_name="updated_at",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    solved = WholeDaysFilter(
        label="Solved",
        field_name="resolved_at",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    created_within = WithinDaysFilter(label="Created in", field_name="created_at")
    updated_within = WithinDaysFilter(label="Updated in", field_name="updated_at")
    # A ticket is updated when it is solved (resolved_at <= updated_at).
    solved_within = WithinDaysFilter(label="Solved in", field_name="resolved_at", implies="updated_at")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, user: User, **kwargs) -> None:
        # An unknown status or priority among known ones is dropped alone, not the whole filter with it
        # (which would widen the list to every status).
        self.dropped: list[str] = []
        if data is not None:
            data = data.copy()
            for name, choices in (("status", Status), ("priority", Priority)):
                values = data.getlist(name)
                kept = [value for value in values if value in choices.values]
                self.dropped += [
                    f"{name.title()} “{value}” is not one of the choices."
                    for value in values
                    if value not in kept
                ]
                data.setlist(name, kept)
            if search_cut(data.get("q", "")):
                self.dropped.append(SEARCH_CUT)
            assignee = data.get("assignee", "").strip()
            if assignee and assignee not in ("me", "none") and parse_id(assignee) is None:
                self.dropped.append(f"Assignee “{assignee}” is not “me”, “none” or a person.")
                data.pop("assignee")
        super().__init__(data, queryset, request=request, **kwargs)
        self.user = user
        self.filters["team"].queryset = Team.objects.filter(pk__in=rbac.workable_team_ids(user))

    @cached_property
    def problems(self) -> list[str]:
        """Why a filter asked for was not applied (a bad value, a team the agent does not work), for
        the page to say: an ignored filter shows more tickets than were asked for."""
        refused = [
            f"{self.form.fields[name].label or name}: {' '.join(messages)}"
            for name, messages in self.errors.items()
        ]
        return self.dropped + refused

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        # Requesters' addresses are contact details ("Can view user details"), not for every desk role.
        return ticket_search(queryset, value, by_email=rbac.has_permission(self.user, rbac.VIEW_USER_INFO))

    def filter_scope(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return queryset.filter(in_my_teams(self.user)) if value == "teams" else queryset

    def filter_tag(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        # Spelled as tags are stored (TagField): "VIP" and "big  Customer" find "vip", "big customer".
        return queryset.filter(tags__name=value) if value else queryset

    def filter_assignee(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == "me":
            return queryset.filter(assignee=self.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if (assignee_id := parse_id(value)) is not None:
            return queryset.filter(assignee_id=assignee_id)
        return queryset
