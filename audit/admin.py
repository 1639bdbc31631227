"""Read-only admin for the audit trail and the system log."""

from django.contrib import admin

from audit.models import AuditEvent, SystemLogEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the application: shown, never added, changed or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("sequence", "created_at", "action", "category", "actor_repr", "object_repr", "ip")
    list_filter = ("category", "action")
    search_fields = ("actor_repr", "object_repr", "object_id", "request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(SystemLogEntry)
class SystemLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "level", "logger", "short_message", "request_id")
    list_filter = ("level", "logger")
    search_fields = ("message", "logger", "request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ("created_at", "level", "logger", "message", "module", "function", "line", "traceback",
                       "request_id")  # fmt: skip

    @admin.display(description="Message")
    def short_message(self, entry: SystemLogEntry) -> str:
        return entry.message[:120]
