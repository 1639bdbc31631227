"""Admin for tickets, messages, forms, tags and saved views. Ticket changes go through the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from guardian.admin import GuardedModelAdmin

from accounts import rbac
from audit.admin import AuditedAdminMixin, AuditedModelAdmin, AuditedObjectPermissionsMixin
from helpdesk.accents import alphabetical
from helpdesk.admin import (
    ClosedTeamKeptAdminMixin,
    KeepInUseMixin,
    LargeTablePaginator,
    OddInputAdminMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceSaveAdminMixin,
    StableSlugMixin,
)
from helpdesk.display import shown_count
from tickets import services
from tickets.filters import matching_people_ids, ticket_search
from tickets.freshness import mark_tickets_changed
from tickets.models import (
    Attachment,
    SavedView,
    Tag,
    Ticket,
    TicketActivity,
    TicketForm,
    TicketMessage,
    number_from,
)


class TicketMessageInline(ReadOnlyInline):
    model = TicketMessage
    fields = ("created_at", "author", "is_internal", "body")
    readonly_fields = fields
    shown = 50
    verbose_name_plural = "messages (the latest 50: the desk and the message list show them all)"

    def get_queryset(self, request):
        # Each row is titled by its str(), which names the ticket ("Reply on T-901 by …").
        return super().get_queryset(request).select_related("ticket")


class TicketActivityInline(ReadOnlyInline):
    model = TicketActivity
    fields = ("created_at", "actor", "action", "field", "old_value", "new_value")
    readonly_fields = fields
    shown = 50
    verbose_name_plural = "activities (the latest 50: the desk shows them all)"


class TicketAdminForm(forms.ModelForm):
    """Refuses a save from a stale page: the admin's form compares the posted values with the ticket as
    it is now, so without this check an old page would silently undo a colleague's change."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["seen_version"].initial = self.instance.version

    def clean(self) -> dict:
        data = super().clean()
        if self.instance.pk:
            # The admin saves inside one transaction: the lock holds until the services have run.
            current = (
                Ticket.objects.select_for_update(no_key=True)
                .values_list("version", flat=True)
                .get(pk=self.instance.pk)
            )
            if data.get("seen_version") != current:
                raise ValidationError(services.STALE)
        return data


def staff_tickets(request, queryset, ticket: str):
    """`queryset` cut to the rows whose ticket (the path `ticket` names) the user sees as staff: every
    one for an administrator, their teams' for an agent given access to the admin, none for others."""
    if rbac.is_administrator(request.user):
        return queryset
    return queryset.filter(**{f"{ticket}__in": Ticket.objects.staff_visible_to(request.user).values("pk")})


@admin.register(Ticket)
class TicketAdmin(
    ServiceSaveAdminMixin, OddInputAdminMixin, AuditedObjectPermissionsMixin, GuardedModelAdmin
):
    """Ticket changes through the services; "Object permissions" grants one ticket to an agent outside
    its team (audited). Only "view" is offered: what an agent may do on a ticket they see follows from
    their role, and grants go to people, not roles."""

    form = TicketAdminForm
    list_display = (
        "reference",
        "subject",
        "requester",
        "organization",
        "status",
        "priority",
        "team",
        "assignee",
        "updated_at",
    )
    # No date hierarchy: its year links read every ticket's date on every view (a filter by date does not).
    list_filter = ("status", "priority", "channel", "team", "organization", "is_deleted", "created_at")
    search_fields = ("subject",)  # shows the search box; get_search_results searches as the desk does
    search_help_text = "A reference (T-1042), words of the ticket, or the requester's e-mail or name."
    list_select_related = ("requester", "organization", "team", "assignee")
    show_full_result_count = False
    paginator = LargeTablePaginator
    autocomplete_fields = ("assignee",)
    readonly_fields = (
        "requester", "organization", "channel", "form", "answers", "created_at", "updated_at",
        "first_response_at", "resolved_at", "closed_at", "version",
    )  # fmt: skip
    # Editable fields are applied through the services in save_model; the rest is read-only.
    fields = (
        "subject",
        "status",
        "priority",
        "team",
        "assignee",
        "escalation_level",
        "tags",
        "seen_version",
        *readonly_fields,
    )
    filter_horizontal = ("tags",)
    inlines = (TicketMessageInline, TicketActivityInline)

    actions = ("delete_tickets", "restore_tickets")

    @admin.display(description="Answers to the form")
    def answers(self, ticket: Ticket) -> str:
        """The custom fields under their questions, as the portal and the desk show them (the stored JSON
        holds field names, empty answers and ISO dates)."""
        shown = ticket.custom_field_display()  # the removed fields' values come last, as on the pages
        if not shown:
            return "—"
        return format_html("<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", shown))

    def get_queryset(self, request):
        # One read path: an agent given access to the admin lists and opens only what the desk shows them.
        return staff_tickets(request, super().get_queryset(request), "pk")

    def get_search_results(self, request, queryset, search_term):
        # The desk's search (a reference, the full-text index, requesters' e-mail and name prefixes),
        # not a substring scan of every subject, e-mail and name.
        return ticket_search(queryset, search_term), False

    def has_add_permission(self, request) -> bool:
        return False  # tickets are created through the portal or the desk, which run ticket_create

    def get_obj_perms_manage_user_form(self, request):
        base = super().get_obj_perms_manage_user_form(request)

        class ViewGrantForm(base):
            def get_obj_perms_field_choices(self) -> list:
                return [
                    (code, name)
                    for code, name in super().get_obj_perms_field_choices()
                    if code == "view_ticket"
                ]

        return ViewGrantForm

    def obj_perms_manage_group_view(self, request, object_pk, group_id) -> HttpResponse:
        messages.error(request, "Tickets are granted to people, not to roles: pick a user instead.")
        return HttpResponseRedirect(request.path.split("group-manage/")[0])

    @admin.action(description="Delete the selected tickets (administrators can restore them)")
    def delete_tickets(self, request, queryset) -> None:
        self._apply(request, queryset, services.ticket_delete, "Deleted")

    @admin.action(description="Restore the selected deleted tickets")
    def restore_tickets(self, request, queryset) -> None:
        self._apply(request, queryset, services.ticket_restore, "Restored")

    def _apply(self, request, queryset, service, done: str) -> None:
        mark_tickets_changed(request)
        changed = []
        tickets = list(queryset.order_by("number"))
        if service is services.ticket_restore:
            # The end of a merge chain first: restored, it brings back those merged into it (chosen too).
            tickets.sort(key=lambda ticket: len(ticket.merge_chain()))
        deleted_before = {ticket.pk for ticket in tickets if ticket.is_deleted}
        for ticket in tickets:
            try:
                service(ticket, actor=request.user)
            except services.AlreadySo as unchanged:
                if service is services.ticket_restore and ticket.pk in deleted_before:
                    changed.append(ticket.reference)  # came back with the one it was merged into
                    continue
                messages.info(request, f"{ticket.reference}: {unchanged} Left as it was.")
            except services.TicketError as refused:
                messages.error(request, f"{ticket.reference}: {refused}")
            else:
                changed.append(ticket.reference)
        if changed:
            messages.success(request, f"{done} {shown_count(len(changed), 'ticket')}: {', '.join(changed)}.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # soft delete only

    @admin.display(description="Number", ordering="number")
    def reference(self, ticket: Ticket) -> str:
        return ticket.reference

    def save_model(self, request, obj: Ticket, form, change) -> None:
        # Apply each changed field through its service, so rules and activity hold in the admin too.
        mark_tickets_changed(request)
        original = Ticket.objects.get(pk=obj.pk)
        data = form.cleaned_data
        try:
            # All or nothing: a refused assignee (or tag) must not leave the changes before it applied.
            with transaction.atomic():
                fields = {
                    name: data[name]
                    for name in ("subject", "priority", "team", "escalation_level")
                    if name in form.changed_data
                }
                if fields:
                    services.ticket_update_fields(original, changes=fields, actor=request.user)
                # After the team: an assignee chosen with a new team works the new one, not the old.
                if "assignee" in form.changed_data:
                    services.ticket_assign(original, assignee=data["assignee"], actor=request.user)
                if "tags" in form.changed_data:  # through their service instead of form.save_m2m()
                    names = [tag.name for tag in data["tags"]]
                    services.ticket_set_tags(original, names=names, actor=request.user)
                # The status last: closing is final for the other fields (services.CLOSED_FINAL), and the
                # form showed a ticket still open, changed along with its closing in one save.
                if "status" in form.changed_data:
                    services.ticket_transition(original, status=data["status"], actor=request.user)
        except (services.TicketError, ValidationError) as error:
            self.refuse(request, error)

    def save_related(self, request, form, formsets, change) -> None:
        # No form.save_m2m(): save_model set the tags with the other fields, all or none. The inlines are
        # read-only; saving them
        # changes nothing but gives the admin's change message its (empty) lists of changes.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(TicketMessage)
class TicketMessageAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    """View only: a message is part of the ticket's record; deleting or editing it here would change a
    conversation without an activity entry or a version bump (a ticket is deleted, softly, as a whole).
    Audited nonetheless, as every admin is, should a permission ever be given back."""

    list_display = ("ticket", "author", "is_internal", "created_at")
    list_filter = ("is_internal", "from_staff")
    # By ticket (its reference) and author (e-mail or name prefixes): a substring of every body is a
    # scan of millions of rows; the desk's search finds tickets by their words.
    search_fields = ("ticket__number",)  # shows the search box; get_search_results searches
    search_help_text = "A ticket's reference (T-1042), or the start of the author's e-mail address or name."
    list_select_related = ("ticket", "author")
    readonly_fields = ("ticket", "author", "is_internal", "from_staff", "body", "created_at", "uid")
    exclude = ("body_html",)
    ordering = ("-pk",)  # newest first, along the primary key's index
    show_full_result_count = False
    paginator = LargeTablePaginator

    def get_queryset(self, request):
        return staff_tickets(request, super().get_queryset(request), "ticket")

    def get_search_results(self, request, queryset, search_term):
        if not (term := search_term.strip()[:200]):
            return queryset, False
        if (number := number_from(term)) is not None:
            return queryset.filter(ticket__number=number), False
        # The authors first, as ids (index look-ups), then their messages along the author index.
        authors = matching_people_ids(term)
        return (queryset.filter(author__in=authors) if authors else queryset.none()), False


class TicketFormAdminForm(forms.ModelForm):
    def clean_schema(self):
        # An emptied box is no custom fields, as the default has it; the JSON field reads it as null,
        # which typed out stays refused (TicketForm.clean).
        if not str(self.data.get(self.add_prefix("schema")) or "").strip():
            return []
        return self.cleaned_data["schema"]


@admin.register(TicketForm)
class TicketFormAdmin(ClosedTeamKeptAdminMixin, StableSlugMixin, KeepInUseMixin, AuditedModelAdmin):
    form = TicketFormAdminForm
    list_display = (
        "title",
        "slug",
        "is_active",
        "organization",
        "default_team",
        "default_priority",
        "position",
    )
    list_filter = ("is_active", "organization")
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    autocomplete_fields = ("organization",)  # as on the user page: a menu would list every organisation

    # Its schema labels the custom fields of the tickets sent with it; without it the desk no longer
    # shows or edits them.
    held_by = "tickets"
    held_message = (
        "Form “{obj}” was used for {count} ticket{s}, whose custom fields it describes: "
        "untick “Is active” to retire it instead."
    )


class TagAdminForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ("name",)

    def clean_name(self) -> str:
        # Spelled as the desk spells tags (lower case, single spaces), so agents find the same tag.
        try:
            names = services.clean_tag_names([self.cleaned_data["name"]])
        except ValidationError as invalid:
            raise ValidationError(services.TAG_INVALID) from invalid
        if not names:
            raise ValidationError("Enter a tag name.")
        return names[0]  # the form's unique check then compares this spelling


class TagInUseFilter(admin.SimpleListFilter):
    """The unused tags (a misspelling nobody took up) are the ones an administrator can delete."""

    title = "use"
    parameter_name = "in_use"

    def lookups(self, request, model_admin):
        return (("yes", "On tickets"), ("no", "On no ticket"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ticket_count__gt=0)
        if self.value() == "no":
            return queryset.filter(ticket_count=0)
        return queryset


@admin.register(Tag)
class TagAdmin(AuditedModelAdmin):
    """Administrators add tags (the desk also creates them as agents type) and delete unused ones, such
    as a misspelling nobody uses any more. A tag in use is neither renamed nor deleted here: either
    would change many tickets at once with no activity on them and no version bump; agents change a
    ticket's tags on the ticket, or in bulk from the queue, through the service that records it."""

    form = TagAdminForm
    list_display = ("name", "ticket_count")
    list_filter = (TagInUseFilter,)
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ticket_count=Count("tickets"))

    @admin.display(description="Tickets", ordering="ticket_count")
    def ticket_count(self, tag: Tag) -> int:
        return tag.ticket_count

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # no renaming

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.tickets.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # "Delete selected" refuses a selection with a tag in use (has_delete_permission said no to it);
        # shown as protected, the page names the tags rather than a missing "tag" permission.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        in_use = (
            Tag.objects.filter(pk__in=[tag.pk for tag in objs])
            .annotate(ticket_count=Count("tickets"))
            .filter(ticket_count__gt=0)
            .order_by(*alphabetical("name"))
        )
        if in_use:
            perms_needed = perms_needed - {Tag._meta.verbose_name}
            protected = [
                *protected,
                *(f"Tag “{tag}”, on {shown_count(tag.ticket_count, 'ticket')}" for tag in in_use),
            ]
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj: Tag) -> None:
        with transaction.atomic():
            if _lock_unused([obj.pk]):
                super().delete_model(request, obj)
            else:  # a ticket took the tag since the confirmation page
                request.tag_kept = True

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            unused = _lock_unused(queryset.values_list("pk", flat=True))
            super().delete_queryset(request, Tag.objects.filter(pk__in=unused))

    def response_delete(self, request, obj_display, obj_id) -> HttpResponse:
        if getattr(request, "tag_kept", False):
            messages.error(request, f"“{obj_display}” is now used on a ticket and was kept.")
            return HttpResponseRedirect(reverse("admin:tickets_tag_changelist"))
        return super().response_delete(request, obj_display, obj_id)


def _lock_unused(pks) -> list[int]:
    """Of these tags, those no ticket uses, locked: tagging a ticket with one waits until the delete
    commits (and then fails), so a tag is never taken off a ticket behind its back."""
    unused = Tag.objects.select_for_update(of=("self",)).filter(pk__in=list(pks), tickets=None)
    return list(unused.values_list("pk", flat=True))


@admin.register(Attachment)
class AttachmentAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    """View only: a file belongs to a message (or an article); deleting it here would leave the
    conversation pointing at nothing, with no activity entry."""

    list_display = ("filename", "content_type", "size", "download_count", "uploaded_by", "created_at")
    search_fields = ("filename", "sha256")
    exclude = ("file",)  # its storage path: the file is reached through `download`
    readonly_fields = (
        "owner_type",
        "owner_id",
        "download",
        "filename",
        "content_type",
        "size",
        "sha256",
        "download_count",
        "uploaded_by",
        "created_at",
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if rbac.is_administrator(request.user):
            return queryset
        return queryset.filter(pk__in=Attachment.objects.visible_to(request.user).values("pk"))

    @admin.display(description="File")
    def download(self, attachment: Attachment) -> str:
        # Through the download view, which checks who may have it and serves it inert; the storage's
        # own address (MEDIA_URL) is served by nothing, and would be served unchecked where it were.
        url = reverse("tickets:attachment_download", args=[attachment.pk])
        return format_html('<a href="{}">{}</a>', url, attachment.filename)


@admin.register(SavedView)
class SavedViewAdmin(AuditedModelAdmin):
    """Read-mostly: agents save and delete their views from the queue (the service checks the team and
    the query's keys). An administrator looks them up and deletes one (audited), say a shared view
    that misleads a team; editing one here would bypass those checks."""

    list_display = ("name", "owner", "team", "shared", "created_at")
    list_filter = ("team", "created_at")
    search_fields = ("name", "owner__email", "owner__name", "query")
    list_select_related = ("owner", "team")
    readonly_fields = ("name", "owner", "team", "query", "created_at")
    date_hierarchy = "created_at"

    @admin.display(boolean=True, description="Shared")
    def shared(self, view: SavedView) -> bool:
        return view.team_id is not None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
