"""Admin for the site configuration and the scheduler's runs; the bases other admins use (read-only, odd
input, the stale-page fingerprint)."""

import hashlib
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views import main
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ValidationError
from django.core.paginator import EmptyPage, Page, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import Count, Model, ProtectedError
from django.forms.fields import InvalidJSONInput
from django.forms.formsets import DELETION_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from helpdesk import services
from helpdesk.accents import alphabetical
from helpdesk.dates import validate_not_too_late, validate_within_calendar
from helpdesk.display import plural_s
from helpdesk.forms import OneLineNameField, json_problem
from helpdesk.models import PeriodicTaskRun, SiteConfiguration

# Lookups the admin accepts on any column from the address but no filter of its makes: a regular
# expression typed there ("(") fails only when PostgreSQL runs it, and a costly one would run on a
# large table; trigram and unaccent need extensions the project does not install (core PostgreSQL).
UNTYPEABLE_LOOKUPS = frozenset(
    {"regex", "iregex", "trigram_similar", "trigram_word_similar", "trigram_strict_word_similar", "unaccent"}
)


class ChangeList(main.ChangeList):
    """The admin's list answers odd query strings as it answers unknown filters (back to the list with
    "?e=1"), not with a server error: a NUL byte (PostgreSQL text cannot hold one), a date-hierarchy
    year at the calendar's end (9999 has no next year to end its range) or a year 0."""

    def get_filters(self, request):
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A NUL byte in the query string.")
        if any(UNTYPEABLE_LOOKUPS.intersection(key.split("__")) for key in request.GET):
            raise IncorrectLookupParameters("A lookup no filter of the admin's makes.")
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_ordering_field(self, field_name):
        """A name column sorts, when clicked, as the list does by default (helpdesk.accents.alphabetical,
        or a stored key such as Article.title_order): not in the database's byte order."""
        order_field = super().get_ordering_field(field_name)
        if isinstance(order_field, str):
            default = self.lookup_opts.ordering
            if f"{order_field}_order" in default:
                return f"{order_field}_order"
            if (folded := alphabetical(order_field)[0]) in default:
                return folded
        return order_field

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        # Columns the list shows none of and that are long (an article's body): not read for each row.
        queryset = queryset.defer(*getattr(self.model_admin, "list_defer", ()))
        try:
            # Compiled now, not while the page renders: some values fail only in the SQL (year 0 of a
            # date filter has no first day).
            queryset.query.sql_with_params()
        except EmptyResultSet:  # a search that can match nothing: an empty list, as it is
            pass
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error
        return queryset


class LargeTablePaginator(Paginator):
    """For the lists of tables that grow to millions of rows (tickets, messages, the audit trail): the
    unfiltered list takes PostgreSQL's estimate of the row count (pg_class.reltuples, kept by
    autovacuum, scaled to the table's size now as the planner scales it) instead of counting every row
    on every view; a filtered or searched list, or a small table, is counted exactly. An estimate may
    fall short (rows added since the last ANALYZE): a page past it is read all the same, and the page
    the estimate calls the last is read to its full length."""

    EXACT_BELOW = 10_000
    count_is_estimate = False  # the list's pagination then says "about"

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is None or query.where or query.combinator or query.distinct:
            return super().count
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
                " FROM pg_class WHERE oid = %s::regclass",
                [query.model._meta.db_table],
            )
            row = cursor.fetchone()
        estimate = -1  # never analysed
        if row is not None:
            tuples, pages, pages_now = row
            estimate = int(tuples / pages * pages_now) if tuples >= 0 and pages > 0 else int(tuples)
        if estimate < self.EXACT_BELOW:
            return super().count
        self.count_is_estimate = True
        return estimate

    def validate_number(self, number) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if not self.count_is_estimate or not 1 < int(number) <= MAX_PAGE:
                raise
            return int(number)  # past an estimated end, which may fall short: page() reads it

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not self.count_is_estimate:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = self.object_list[bottom : bottom + self.per_page]
        if number > 1 and not rows:  # past the real end too: the admin answers as for any page past it
            raise EmptyPage("That page contains no results")
        return self._get_page(rows, number, self)


# A page number PostgreSQL's OFFSET (bigint) still holds, with room for the page's own rows.
MAX_PAGE = 10**9


class JSONFormField(forms.JSONField):
    """JSON nested deeper than the parser goes, a number longer than Python reads (4,300 digits), or
    holding what PostgreSQL refuses (a NUL character, NaN or Infinity, half of a surrogate pair) is a
    form error, not a server error; the form shows it again as it was typed."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except (RecursionError, ValueError):  # ValueError: an integer past Python's digit limit
            invalid = self.error_messages["invalid"]
            raise ValidationError(invalid, code="invalid", params={"value": value}) from None
        if problem := json_problem(converted):
            raise ValidationError(problem, code="invalid")
        return converted

    def bound_data(self, data, initial):
        try:
            bound = super().bound_data(data, initial)
        except (RecursionError, ValueError):
            return InvalidJSONInput(data)
        # Shown again as typed: decoded and written out again, half a surrogate pair could not be sent.
        if not isinstance(bound, InvalidJSONInput) and json_problem(bound):
            return InvalidJSONInput(data)
        return bound


def column_values(obj: Model) -> dict[str, Any]:
    """The row's column values, by field name (what save(update_fields=...) takes)."""
    return {
        field.name: getattr(obj, field.attname)
        for field in obj._meta.concrete_fields
        if not field.primary_key
    }


LOADED_FIELD = "_loaded"  # posted by every change page (templates/admin/change_form.html)
STALE_OBJECT = (
    "Someone changed this {name} since you opened this page, so nothing was saved: reload the page to see "
    "their change, then make yours again."
)


def loaded_digest(obj: Model, fields: dict, inlines: list[tuple[str, Any]] = ()) -> str:
    """A fingerprint of what a change page can write back: the stored values of `obj`'s form `fields`
    (not the disabled ones, such as a password hash, which no save writes), its many-to-many ones
    (a permission taken from a role meanwhile), and the rows of its editable `inlines`
    ((name, queryset) pairs). Posted back by the page, it tells whether any changed since."""
    values = column_values(obj)
    shown: dict[str, Any] = {}
    for name, field in fields.items():
        if getattr(field, "disabled", False):
            continue
        if name in values:
            shown[name] = values[name]
        elif _is_many_to_many(obj, name):
            shown[name] = sorted(getattr(obj, name).values_list("pk", flat=True))
    for name, rows in inlines:
        shown[f"inline:{name}"] = [column_values(row) | {"pk": row.pk} for row in rows.order_by("pk")]
    encoded = json.dumps(shown, sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _is_many_to_many(obj: Model, name: str) -> bool:
    try:
        return obj._meta.get_field(name).many_to_many
    except FieldDoesNotExist:
        return False


class ClosedTeamKeptAdminMixin:
    """For admins of objects that name a team (`team_fields`): a team closed down since it was chosen is
    still offered as it stands, "Night shift (closed)", so saving another field neither fails on it nor
    clears it; chosen anew, a closed team is refused."""

    team_fields: tuple[str, ...] = ("default_team",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        from accounts.models import Team  # accounts' admin imports this module

        base = super().get_form(request, obj, change, **kwargs)
        stored = {name: getattr(obj, f"{name}_id", None) for name in self.team_fields}
        team_fields = self.team_fields

        class ClosedTeamKeptForm(base):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                for name in team_fields:
                    if (field := self.fields.get(name)) is not None:
                        field.queryset = Team.objects.filter(
                            models.Q(is_active=True) | models.Q(pk=stored[name])
                        )
                        field.label_from_instance = _team_label

            def clean(self) -> dict:
                cleaned = super().clean()
                for name in team_fields:
                    team = cleaned.get(name)
                    if name in self.changed_data and team is not None and not team.is_active:
                        self.add_error(name, services.TEAM_CLOSED.format(team=team))
                return cleaned

        return ClosedTeamKeptForm


def _team_label(team) -> str:
    return str(team) if team.is_active else f"{team} (closed)"


class UnchangedSinceLoadedAdminMixin:
    """A change page posts back a fingerprint of the row it was built from (LOADED_FIELD, rendered by
    templates/admin/change_form.html); its save is refused when the row changed since, as the page's
    other fields would write back what it showed (lift a suspension, switch off maintenance mode, give
    back a permission) as if they had been typed."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or obj.pk is None:
            return form

        admin_site_model = self

        class UnchangedSinceLoaded(form):
            """Refused when the row changed since the page was built."""

            def clean(self):
                cleaned = super().clean()
                posted = self.data.get(LOADED_FIELD)
                inlines = admin_site_model.editable_inline_rows(request, self.instance)
                if posted and posted != loaded_digest(self.instance, self.fields, inlines):
                    raise ValidationError(STALE_OBJECT.format(name=self.instance._meta.verbose_name))
                return cleaned

        UnchangedSinceLoaded.__name__ = form.__name__
        return UnchangedSinceLoaded

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            # A refused page keeps the fingerprint it was opened with: saving it again is refused again
            # until it is reloaded.
            posted = request.POST.get(LOADED_FIELD) if request.method == "POST" else None
            context["loaded_field"] = LOADED_FIELD
            context["loaded_digest"] = posted or loaded_digest(
                obj, context["adminform"].form.fields, self.editable_inline_rows(request, obj)
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def editable_inline_rows(self, request, obj) -> list[tuple[str, Any]]:
        """(name, rows of `obj`) of each inline the page lets the actor change: a row a colleague
        changed meanwhile would otherwise be written back as the page showed it."""
        rows = []
        for inline in self.get_inline_instances(request, obj):
            if not inline.has_change_permission(request, obj) and not inline.has_delete_permission(
                request, obj
            ):
                continue
            fk = getattr(inline.get_formset(request, obj), "fk", None)
            if fk is not None:
                rows.append((inline.model._meta.label, inline.get_queryset(request).filter(**{fk.name: obj})))
        return rows


class OddInputAdminMixin:
    """Every admin of the project: odd input (list filters, JSON) gets a clear answer, never a 500, and a
    refused form 422."""

    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}
    # What a row is called (a team, an organisation, a form's title): one line, composed, and showing
    # something, as the site's own forms take names (OneLineNameField); a name of zero-width or direction
    # characters would be a blank row in every list and filter.
    NAME_FIELDS = frozenset({"name", "title", "site_name"})

    def get_changelist(self, request, **kwargs):
        return ChangeList

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if (
            db_field.name in self.NAME_FIELDS
            and isinstance(db_field, models.CharField)
            and not db_field.choices
            and "form_class" not in kwargs
        ):
            kwargs["form_class"] = OneLineNameField
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        # DateTimeField is a DateField too; the ends of roles, suspensions and invitations say so their way.
        if (
            isinstance(db_field, models.DateField)
            and field is not None
            and validate_not_too_late not in db_field.validators
        ):
            field.validators.append(validate_within_calendar)
        return field

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = GuardedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = GuardedAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add, change, form_url, obj)
        # A POST comes back to the form only when it was refused (a saved one redirects): 422 with what
        # was typed, as every other form of the site answers.
        if request.method == "POST":
            response.status_code = 422
        return response

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if obj is not None and obj.pk is not None and getattr(inline, "shown", None):
            kwargs["queryset"] = inline.latest(kwargs["queryset"], obj)
        return kwargs

    def response_action(self, request, queryset, **kwargs):
        # Ticked rows come back as primary keys: one that is not a key (a tampered form) would reach the
        # ORM's pk__in and fail there. Dropped, as rows gone since are; none left, Django says so.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        readable = [value for value in selected if self._reads_as_key(value)]
        if len(readable) < len(selected):
            request.POST = request.POST.copy()
            request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, readable)
        return super().response_action(request, queryset, **kwargs)

    def _reads_as_key(self, value: str) -> bool:
        try:
            key = self.model._meta.pk.to_python(value)
            self.model._meta.pk.get_prep_value(key)
        except (ValidationError, ValueError, TypeError, OverflowError):
            return False
        return "\x00" not in str(key)

    def get_search_results(self, request, queryset, search_term):
        # The list page is guarded by ChangeList; the autocomplete view searches on its own.
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class StableSlugMixin:
    """The slug is an address people keep (DESIGN.md §5, stable URLs): chosen when adding, fixed after,
    so no link, bookmark or e-mail pointing at it stops working. Retire the object to move on."""

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "slug") if obj is not None else fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else super().get_prepopulated_fields(request, obj)


class _SuccessHeldBack:
    """A model admin as Django's "Delete selected" sees it, but for its success message, held back: it
    counts the rows selected, which the admin may have kept (in use, out of reach, protected)."""

    def __init__(self, model_admin: admin.ModelAdmin) -> None:
        self._model_admin = model_admin

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model_admin, name)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs) -> None:
        if level != messages.SUCCESS:
            self._model_admin.message_user(request, message, level, *args, **kwargs)


@admin.action(permissions=["delete"], description=delete_selected.short_description)
def delete_selected_counted(model_admin: admin.ModelAdmin, request, queryset):
    """Django's "Delete selected", its confirmation page and all, saying how many rows it did delete."""
    selected = list(queryset.values_list("pk", flat=True))
    response = delete_selected(_SuccessHeldBack(model_admin), request, queryset)
    if response is None and selected:  # it ran (a confirmation page is a response)
        left = queryset.model._default_manager.filter(pk__in=selected).count()
        if deleted := len(selected) - left:
            noun = model_admin.opts.verbose_name if deleted == 1 else model_admin.opts.verbose_name_plural
            model_admin.message_user(request, f"Deleted {deleted} {noun}.", messages.SUCCESS)
    return response


admin.site.add_action(delete_selected_counted, "delete_selected")


class KeptRowResponseMixin:
    """After a delete that kept its row (request.kept_in_use, its reason said in a message): back to the
    list, without "deleted successfully" beside the reason."""

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "kept_in_use", False):  # the messages say why
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            )
        return super().response_delete(request, obj_display, obj_id)


class KeepInUseMixin(KeptRowResponseMixin):
    """For rows whose deletion would change other records behind the services' back (tickets losing
    their team or their form's field labels, articles their category, holders their role, the audit
    chain its actors): the delete page lists what holds them as protected, so neither the delete link
    nor "Delete selected" removes them. Each admin names the relation that holds its rows (held_by)
    and what to say about it, or overrides in_use()."""

    held_by = ""  # a reverse relation: an object with rows in it is kept
    held_message = (
        ""  # formatted with the object, the number of rows holding it and its s ("{count} ticket{s}")
    )

    def in_use(self, objs) -> list[str]:
        if not self.held_by:
            return []
        holding = self.model._default_manager.filter(pk__in=[obj.pk for obj in objs])
        holding = holding.annotate(held=Count(self.held_by)).filter(held__gt=0).order_by("pk")
        return [self.held_message.format(obj=obj, count=obj.held, s=plural_s(obj.held)) for obj in holding]

    def get_deleted_objects(self, objs, request):
        held = self.in_use(objs)
        if held:
            # The refusal is decided; don't collect (and list) every ticket or audit event behind it.
            return [], {}, set(), held
        return super().get_deleted_objects(objs, request)

    # Asked again when the deletion runs, on locked rows: a ticket, article or audit event may have come
    # to hold one since the confirmation page (a row that references a locked one waits for the delete).
    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            if not self._kept_in_use(request, [obj]):
                self._delete_unless_protected(
                    request, lambda: super(KeepInUseMixin, self).delete_model(request, obj)
                )

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            rows = list(queryset)
            kept = self._kept_in_use(request, rows)
            free = queryset.model._default_manager.filter(pk__in=[row.pk for row in rows if row not in kept])
            self._delete_unless_protected(
                request, lambda: super(KeepInUseMixin, self).delete_queryset(request, free)
            )

    def _kept_in_use(self, request, objs) -> list:
        """Of `objs`, those held now (locked first, and said so to the person deleting)."""
        locked = list(self.model._default_manager.select_for_update().filter(pk__in=[obj.pk for obj in objs]))
        if not self.in_use(locked):  # asked once for all; per row only to say which are held, and why
            return []
        held = {obj.pk: self.in_use([obj]) for obj in locked}
        kept = [obj for obj in locked if held[obj.pk]]
        for obj in kept:
            messages.error(request, " ".join(held[obj.pk]) + " It was kept.")
        request.kept_in_use = bool(kept) or getattr(request, "kept_in_use", False)
        return kept

    def _delete_unless_protected(self, request, delete) -> None:
        try:
            with transaction.atomic():
                delete()
        except ProtectedError as error:
            held = ", ".join(sorted({str(obj) for obj in error.protected_objects})[:5])
            messages.error(request, f"Kept: still referred to by {held}.")
            request.kept_in_use = True


@admin.register(SiteConfiguration)
class SiteConfigurationAdmin(
    ClosedTeamKeptAdminMixin, UnchangedSinceLoadedAdminMixin, OddInputAdminMixin, admin.ModelAdmin
):
    list_display = ("site_name", "maintenance_mode", "open_signup", "anonymous_submission", "updated_at")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request) -> bool:
        return not SiteConfiguration.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in services.EDITABLE_FIELDS
        }
        services.site_configuration_update(changes=changes, actor=request.user)


class ServiceRefused(Exception):
    """Raised by ServiceSaveAdminMixin.refuse out of save_model: the admin's transaction is rolled back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.messages = list(getattr(error, "messages", [str(error)]))


class ServiceSaveAdminMixin:
    """For admins whose save_model goes through a service that may refuse: `refuse(request, error)` says
    why. The page comes back as a refused form does (422, everything as typed, the reason at the top),
    with neither "changed successfully" nor a History entry for a change that was not made: the save's
    transaction is rolled back and the form is shown again, told the reason."""

    def refuse(self, request, error: Exception) -> None:
        raise ServiceRefused(error)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            # Again, with the same post: the form now fails its validation with the service's reason.
            request.service_refusal = refused.messages
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "service_refusal", None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                self.add_error(None, [f"Not saved: {message}" for message in refusal])
                return cleaned

        return RefusedForm


class ReadOnlyAdmin(OddInputAdminMixin, admin.ModelAdmin):
    """Rows written only by the application: shown, never added, changed or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PeriodicTaskRun)
class PeriodicTaskRunAdmin(ReadOnlyAdmin):
    """When `manage.py scheduler` last enqueued each periodic task: an old time means it is not running."""

    list_display = ("task", "last_enqueued_at")
    ordering = ("task",)


class GuardedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete, which looks the posted value up to label it when the form comes back: a
    value that is no id of the related table (a page altered) is dropped first, as the field has
    refused it already, where Django's lookup answered 500."""

    def optgroups(self, name, value, attr=None):
        related = self.field.remote_field
        # A many-to-many field's relation names no field: it holds the related rows' ids.
        name = getattr(related, "field_name", None)
        target = related.model._meta.get_field(name) if name else related.model._meta.pk
        usable = []
        for item in value:
            try:
                target.to_python(item)
            except ValidationError:
                continue
            usable.append(item)
        return super().optgroups(name, usable, attr)


class GuardedAutocompleteSelectMultiple(GuardedAutocompleteSelect, AutocompleteSelectMultiple):
    """GuardedAutocompleteSelect for a many-to-many field (a skill's agents)."""


class LoadedAutocompleteSelect(GuardedAutocompleteSelect):
    """An autocomplete whose selected option is labelled from the related object its row already holds
    (`loaded`), where Django's widget reads it again: one query per row of an inline."""

    loaded: models.Model | None = None

    def optgroups(self, name, value, attr=None):
        chosen = self.loaded
        if chosen is None or {str(item) for item in value if item not in ("", None)} != {str(chosen.pk)}:
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        label = self.choices.field.label_from_instance(chosen)
        options.append(self.create_option(name, chosen.pk, label, True, len(options)))
        return [(None, options, 0)]


class LoadedAutocompleteInlineMixin:
    """An inline whose autocomplete fields label each row's choice from the row's own related object:
    select it with the rows in get_queryset, and a page of 30 members costs the queries of one."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = LoadedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        names = self.get_autocomplete_fields(request)

        class LoadedForm(formset.form):
            def __init__(self, *args, **form_kwargs) -> None:
                super().__init__(*args, **form_kwargs)
                for name in names if self.instance.pk else ():
                    widget = getattr(self.fields[name].widget, "widget", self.fields[name].widget)
                    if isinstance(widget, LoadedAutocompleteSelect):
                        widget.loaded = getattr(self.instance, name)

        formset.form = LoadedForm
        return formset


class LabelledRowsInlineMixin:
    """A tabular inline whose fields are named for assistive technology. A field in a table cell has no
    <label>: its column header names it on screen, and each one says it as well (`aria-label`), the delete
    box naming the row it removes."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class LabelledFormSet(formset):
            def add_fields(self, form, index) -> None:
                super().add_fields(form, index)
                for name, field in form.fields.items():
                    widget = getattr(field.widget, "widget", field.widget)  # inside the related-object links
                    if widget.is_hidden:
                        continue
                    if name == DELETION_FIELD_NAME:
                        label = f"Delete {form.instance}" if form.instance.pk else "Delete"
                    else:
                        label = capfirst(field.label)
                    widget.attrs["aria-label"] = label

        return LabelledFormSet


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows related rows (timelines, revisions) without letting the admin edit them;
    with `shown`, only the latest that many (a ticket's thread can run to hundreds of messages)."""

    extra = 0
    can_delete = False
    shown: int | None = None

    def latest(self, queryset, obj):
        """`queryset` cut to the `shown` newest rows of `obj` (by id), still in their own order."""
        parent = self.fk_name or next(
            field.name
            for field in self.model._meta.concrete_fields
            if field.many_to_one and field.related_model is self.parent_model
        )
        own = self.model._default_manager.filter(**{parent: obj})
        newest = own.order_by("-pk").values("pk")[: self.shown]
        return queryset.filter(pk__in=newest)

    def get_queryset(self, request):
        # Each row shows its author or actor: fetched with the rows, not one query per row.
        shown = [field.name for field in self.model._meta.concrete_fields if field.many_to_one]
        return super().get_queryset(request).select_related(*(name for name in shown if name in self.fields))

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# django-tasks-db's list of task results (read-only) with the project's guarded list: its filters too
# take whatever the address says.
admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(OddInputAdminMixin, DBTaskResultAdmin):
    pass
