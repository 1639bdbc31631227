"""Read-only admin for the audit trail."""

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("sequence", "created_at", "action", "category", "actor_repr", "object_repr", "ip")
    list_filter = ("category", "action")
    search_fields = ("actor_repr", "object_repr", "object_id", "request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
