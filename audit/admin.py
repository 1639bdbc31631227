"""Admin for the audit trail and the system log (read-only), and the mixin that audits admin edits."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404

import audit
from audit.filters import existing_actions
from audit.models import AuditEvent, SystemLogEntry
from audit.recorder import differs_as_stored
from helpdesk.admin import (
    LargeTablePaginator,
    OddInputAdminMixin,
    ReadOnlyAdmin,
    UnchangedSinceLoadedAdminMixin,
    column_values,
)

PLAIN_TYPES = (str, int, float, bool, date, Decimal, UUID, list, dict, type(None))


def _shown(value: Any) -> Any:
    """A value as the audit event can hold it: JSON-friendly values as they are, anything else as text."""
    return value if isinstance(value, PLAIN_TYPES) else str(value)


def form_changes(form, original: Model | None) -> dict[str, tuple[Any, Any]]:
    """{field: (before, after)} for each field the form changed: before from the stored row (None when
    adding), after from the form. Call it before saving, while many-to-many rows are still the old ones."""
    changes = {}
    for name in form.changed_data:
        try:
            field = form.instance._meta.get_field(name)
        except FieldDoesNotExist:
            field = None  # a form-only field, such as a new password (masked by the recorder)
        after = form.cleaned_data.get(name)
        if field is not None and field.many_to_many:
            before = sorted(str(item) for item in getattr(original, name).all()) if original else None
            after = sorted(str(item) for item in after or [])
        elif original is not None and field is not None and field.concrete:
            before = getattr(original, field.name)
        else:
            before = form.initial.get(name) if original is not None else None
        if original is None or differs_as_stored(
            before, after
        ):  # some fields report a change when re-saved as they were
            changes[name] = (_shown(before), _shown(after))
    return changes


def deleted_values(obj: Model, deleted_with: tuple[str, ...] = ()) -> dict[str, tuple[Any, None]]:
    """{field: (value, None)} for what a deleted row held (its fields, its many-to-many lists and the rows
    of `deleted_with`, reverse relations the database deletes with it), left out where it held nothing:
    as an update names what it changed, a delete names what was lost."""
    values: dict[str, tuple[Any, None]] = {}
    for field in obj._meta.concrete_fields:
        if not field.primary_key and (value := getattr(obj, field.name)) not in (None, ""):
            values[field.name] = (_shown(value), None)
    for name in (*(field.name for field in obj._meta.many_to_many), *deleted_with):
        if rows := sorted(str(row) for row in getattr(obj, name).all()):
            values[name] = (rows, None)
    return values


def _as_shown(form, name: str, loaded: Any) -> Any:
    """A loaded value as the form's page showed it, which the form sends back when it is left alone: a
    date-time to the second (the admin's widget shows none of its microseconds). Compared as loaded, an
    untouched suspension's end would be written back cut to the second, over the job that lifted it
    meanwhile."""
    field = form.fields.get(name)
    if isinstance(loaded, datetime) and field is not None and not field.widget.supports_microseconds:
        return loaded.replace(microsecond=0)
    return loaded


def _stored(obj: Model) -> Model | None:
    return type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None


class AuditedAdminMixin(UnchangedSinceLoadedAdminMixin, OddInputAdminMixin):
    """Records every add, change and delete made in the admin (inline rows included) as a create, update
    or delete audit event with the before and after of each changed field, in the admin's transaction.

    Admins whose saves go through a service (which records its own event) override save_model; admins
    whose rows stand for a domain change record it as the services do by overriding record_edit."""

    security_fields: tuple[str, ...] = ()  # a change to one of these is a security event
    # Reverse relations the database deletes with a row (a team's memberships): its delete event names
    # them, so that the trail says who lost what.
    deleted_with: tuple[str, ...] = ()

    def record_edit(self, request, action: str, obj: Model, changes: dict[str, tuple[Any, Any]]) -> None:
        """Record one "create", "update" or "delete" made here; `obj` may be an inline row."""
        security = isinstance(obj, self.model) and set(changes) & set(self.security_fields)
        category = AuditEvent.Category.SECURITY if security else AuditEvent.Category.BUSINESS
        audit.record(action, actor=request.user, obj=obj, changes=changes, category=category)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # what this page was built from: a save writes only what it changes
            obj._as_loaded = column_values(obj)
        return obj

    def save_model(self, request, obj, form, change) -> None:
        loaded = getattr(obj, "_as_loaded", None)
        if not change or loaded is None:
            changes = form_changes(form, _stored(obj) if change else None)
            super().save_model(request, obj, form, change)
        else:
            stored = type(obj)._default_manager.select_for_update(no_key=True).filter(pk=obj.pk).first()
            changes = form_changes(form, stored)
            # Only the columns this page changed (in the form or in save_model): a counter or a status
            # another request wrote meanwhile (an invitation's uses, a suspension) stays as written.
            # By the form's own account too: {"notify": 1} and {"notify": true} are equal to Python,
            # not to the JSON column.
            touched = [
                name
                for name, value in column_values(obj).items()
                if name in form.changed_data or differs_as_stored(value, _as_shown(form, name, loaded[name]))
            ]
            if touched:  # with the columns save() itself keeps current ("updated at")
                stamps = [
                    field.name for field in obj._meta.concrete_fields if getattr(field, "auto_now", False)
                ]
                obj.save(update_fields=[*touched, *(name for name in stamps if name not in touched)])
        if changes or not change:
            self.record_edit(request, "update" if change else "create", obj, changes)

    def log_deletions(self, request, queryset) -> None:
        """Django writes the object's history entry ("Deleted …") before the deletion, for every row it
        was asked to delete; here delete_model and delete_queryset write it, with the audit event, for
        the rows they delete: one kept (in use, out of reach, protected) is not listed as deleted."""

    def delete_model(self, request, obj) -> None:
        self.record_edit(request, "delete", obj, deleted_values(obj, self.deleted_with))
        super().log_deletions(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        # The admin's bulk delete runs outside a transaction: without one, a refused delete (a
        # protected row) would leave events for deletions that never happened.
        with transaction.atomic():
            # What each row held, read for all of them at once: its related rows one by one were a query
            # per row for each field (a thousand rows deleted, a thousand queries each).
            many = [field.name for field in queryset.model._meta.many_to_many]
            related = [field.name for field in queryset.model._meta.concrete_fields if field.is_relation]
            if related:  # select_related() without names means every relation (deprecated in Django 6.1)
                queryset = queryset.select_related(*related)
            rows = list(queryset.prefetch_related(*many, *self.deleted_with))
            for obj in rows:
                self.record_edit(request, "delete", obj, deleted_values(obj, self.deleted_with))
            if rows:
                super().log_deletions(request, rows)
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change) -> None:
        saved = []
        for inline in formset.forms:
            if not inline.has_changed():
                continue
            if formset.can_delete and inline.cleaned_data.get("DELETE"):
                if inline.instance.pk is not None:  # recorded while the row still has its id
                    self.record_edit(request, "delete", inline.instance, deleted_values(inline.instance))
                continue
            original = _stored(inline.instance)
            saved.append(("update" if original else "create", inline, form_changes(inline, original)))
        super().save_formset(request, form, formset, change)
        for action, inline, changes in saved:
            self.record_edit(request, action, inline.instance, changes)


class AuditedModelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    pass


class AuditActionFilter(admin.SimpleListFilter):
    """The actions in the trail, found by one index probe each (audit.filters.existing_actions), not by
    reading every event's action on every view."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action, action) for action in existing_actions(request.user)]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


# The trail and the log grow to millions of rows: no date hierarchy (its year links read every row's
# date on every view; the date filter does not) and an estimated count for the unfiltered list.
@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("sequence", "created_at", "action", "category", "actor_repr", "object_repr", "ip")
    list_filter = ("category", AuditActionFilter, "created_at")
    search_fields = ("actor_repr", "object_repr", "object_id", "request_id")
    show_full_result_count = False
    paginator = LargeTablePaginator

    def get_queryset(self, request):
        # What /audit/ shows them, list and page alike: a role that adds "Can view audit event" to a
        # supervisor does not open other teams' events here.
        return super().get_queryset(request).visible_to(request.user)


@admin.register(SystemLogEntry)
class SystemLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "level", "logger", "short_message", "request_id")
    list_filter = ("level", "created_at")
    search_fields = ("message", "logger", "request_id")
    show_full_result_count = False
    paginator = LargeTablePaginator
    readonly_fields = ("created_at", "level", "logger", "message", "module", "function", "line", "traceback",
                       "request_id")  # fmt: skip

    @admin.display(description="Message")
    def short_message(self, entry: SystemLogEntry) -> str:
        return entry.message[:120]


class AuditedObjectPermissionsMixin:
    """For django-guardian's "Object permissions" screens: each save records a permission_change event
    with the user's or group's permissions on the object before and after. An id in the address that
    cannot be one answers 404 (guardian's views would crash on it), and the person to grant to is found
    by their e-mail address however it is capitalised. A form sent back with a refusal (an unknown
    address, a grant beyond the actor's own) answers 422, as every refused form does."""

    def obj_perms_manage_view(self, request, object_pk):
        _id_or_404(self.model, object_pk)
        return _refused_as_unprocessable(request, super().obj_perms_manage_view(request, object_pk))

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        _id_or_404(self.model, object_pk)
        _id_or_404(get_user_model(), user_id)
        # The page names the account: someone who may not view accounts would list the customers by
        # walking the ids. Staff are the ones a team's queue is handed to, and their names no secret.
        if not _may_view_people(request) and not _staff(get_user_model().objects.filter(pk=unquote(user_id))):
            raise Http404("No such account.")
        response = super().obj_perms_manage_user_view(request, object_pk, user_id)
        return _refused_as_unprocessable(request, response)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        _id_or_404(self.model, object_pk)
        _id_or_404(Group, group_id)
        response = super().obj_perms_manage_group_view(request, object_pk, group_id)
        return _refused_as_unprocessable(request, response)

    def get_obj_perms_user_select_form(self, request):
        base = super().get_obj_perms_user_select_form(request)

        may_view_people = _may_view_people(request)

        class UserByEmailForm(base):
            def clean_user(self):
                # Someone who may not view accounts finds staff only: a customer's address is answered as
                # an unknown one is.
                people = get_user_model().objects.with_email(self.cleaned_data["user"])
                user = people.first() if may_view_people else _staff(people).first()
                if user is None:
                    raise forms.ValidationError(self.fields["user"].error_messages["does_not_exist"])
                return user

        return UserByEmailForm

    def get_obj_perms_manage_user_form(self, request):
        return _audited_permissions_form(
            super().get_obj_perms_manage_user_form(request), request.user, "user"
        )

    def get_obj_perms_manage_group_form(self, request):
        return _audited_permissions_form(
            super().get_obj_perms_manage_group_form(request), request.user, "group"
        )


def _may_view_people(request) -> bool:
    return admin.site.get_model_admin(get_user_model()).has_view_permission(request)


def _staff(people: QuerySet) -> QuerySet:
    from accounts import rbac  # accounts' admin imports this module

    return people.filter(rbac.staff_user_filter())


def _refused_as_unprocessable(request, response):
    """guardian's screens answer a form with errors at 200, the page again; a save redirects."""
    if request.method == "POST" and response.status_code == 200:
        response.status_code = 422
    return response


def _id_or_404(model: type[Model], value: str) -> None:
    try:
        model._meta.pk.to_python(unquote(value))
    except ValidationError:
        raise Http404(f"No {model._meta.verbose_name} with the id {value!r}.") from None


def _audited_permissions_form(base, actor, holder: str):
    from guardian.shortcuts import get_group_perms, get_user_perms

    current = get_user_perms if holder == "user" else get_group_perms

    class AuditedForm(base):
        def clean_permissions(self):
            # Nobody grants what they do not hold (accounts.rbac, on this one object), nor takes away
            # what they could not have given, as the role screens refuse (ROLE_OUT_OF_REACH).
            from accounts import rbac

            wanted = set(self.cleaned_data["permissions"])
            held = set(current(getattr(self, holder), self.obj))
            app = self.obj._meta.app_label
            added, removed = ([f"{app}.{name}" for name in names] for names in (wanted - held, held - wanted))
            if refusal := rbac.grant_beyond_own(actor, added, self.obj):
                raise forms.ValidationError(refusal)
            if added and holder == "user" and (refusal := rbac.object_grant_refusal(self.user, self.obj)):
                raise forms.ValidationError(refusal)
            if missing := rbac.permissions_beyond(actor, removed, self.obj):
                raise forms.ValidationError(rbac.REVOKE_BEYOND_OWN_OBJECT.format(missing=", ".join(missing)))
            return self.cleaned_data["permissions"]

        def save_obj_perms(self) -> None:
            who = getattr(self, holder)
            with transaction.atomic():
                before = sorted(current(who, self.obj))
                super().save_obj_perms()
                after = sorted(current(who, self.obj))
                if before != after:
                    audit.record(
                        "permission_change", actor=actor, obj=self.obj,
                        object_repr=f"{self.obj} — {holder} {who}", changes={"permissions": (before, after)},
                        category=AuditEvent.Category.SECURITY,
                    )  # fmt: skip

    return AuditedForm
