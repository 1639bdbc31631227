"""Admin for tickets, messages, forms and tags. Ticket changes go through the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from guardian.admin import GuardedModelAdmin

from audit.admin import AuditedModelAdmin, AuditedObjectPermissionsMixin
from helpdesk.admin import ReadOnlyInline
from tickets import services
from tickets.models import Attachment, Tag, Ticket, TicketActivity, TicketForm, TicketMessage


class TicketMessageInline(ReadOnlyInline):
    model = TicketMessage
    fields = ("created_at", "author", "is_internal", "body")
    readonly_fields = fields


class TicketActivityInline(ReadOnlyInline):
    model = TicketActivity
    fields = ("created_at", "actor", "action", "field", "old_value", "new_value")
    readonly_fields = fields


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
                Ticket.objects.select_for_update().values_list("version", flat=True).get(pk=self.instance.pk)
            )
            if data.get("seen_version") != current:
                raise ValidationError(services.STALE)
        return data


@admin.register(Ticket)
class TicketAdmin(AuditedObjectPermissionsMixin, GuardedModelAdmin):
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
    list_filter = ("status", "priority", "channel", "team", "organization", "is_deleted")
    search_fields = ("=number", "subject", "requester__email", "requester__name")
    list_select_related = ("requester", "organization", "team", "assignee")
    date_hierarchy = "created_at"
    show_full_result_count = False
    autocomplete_fields = ("assignee",)
    readonly_fields = (
        "requester", "organization", "channel", "form", "custom_fields", "created_at", "updated_at",
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
        changed = []
        for ticket in queryset.order_by("number"):
            try:
                service(ticket, actor=request.user)
            except services.TicketError as refused:
                messages.error(request, f"{ticket.reference}: {refused}")
            else:
                changed.append(ticket.reference)
        if changed:
            messages.success(request, f"{done} {len(changed)} ticket(s): {', '.join(changed)}.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # soft delete only

    @admin.display(description="Number", ordering="number")
    def reference(self, ticket: Ticket) -> str:
        return ticket.reference

    def save_model(self, request, obj: Ticket, form, change) -> None:
        # Apply each changed field through its service, so rules and activity hold in the admin too.
        original = Ticket.objects.get(pk=obj.pk)
        data = form.cleaned_data
        try:
            if "status" in form.changed_data:
                services.ticket_transition(original, status=data["status"], actor=request.user)
            if "assignee" in form.changed_data:
                services.ticket_assign(original, assignee=data["assignee"], actor=request.user)
            fields = {
                name: data[name]
                for name in ("subject", "priority", "team", "escalation_level")
                if name in form.changed_data
            }
            if fields:
                services.ticket_update_fields(original, changes=fields, actor=request.user)
        except (services.TicketError, ValidationError) as error:
            messages.error(request, f"Not saved: {'; '.join(getattr(error, 'messages', [str(error)]))}")
            request.ticket_refused = True

    def response_change(self, request, obj: Ticket) -> HttpResponse:
        if getattr(request, "ticket_refused", False):  # back to the ticket, without "changed successfully"
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def save_related(self, request, form, formsets, change) -> None:
        # Tags through their service instead of form.save_m2m(). The inlines are read-only; saving them
        # changes nothing but gives the admin's change message its (empty) lists of changes.
        if "tags" in form.changed_data:
            names = [tag.name for tag in form.cleaned_data["tags"]]
            services.ticket_set_tags(form.instance, names=names, actor=request.user)
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(TicketMessage)
class TicketMessageAdmin(AuditedModelAdmin):
    list_display = ("ticket", "author", "is_internal", "created_at")
    list_filter = ("is_internal", "from_staff")
    search_fields = ("=ticket__number", "body", "author__email")
    list_select_related = ("ticket", "author")
    readonly_fields = ("ticket", "author", "is_internal", "from_staff", "body", "created_at", "uid")
    exclude = ("body_html",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TicketForm)
class TicketFormAdmin(AuditedModelAdmin):
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


@admin.register(Tag)
class TagAdmin(AuditedModelAdmin):
    search_fields = ("name",)


@admin.register(Attachment)
class AttachmentAdmin(AuditedModelAdmin):
    list_display = ("filename", "content_type", "size", "download_count", "uploaded_by", "created_at")
    search_fields = ("filename", "sha256")
    readonly_fields = (
        "owner_type",
        "owner_id",
        "file",
        "filename",
        "content_type",
        "size",
        "sha256",
        "download_count",
        "uploaded_by",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        return False
