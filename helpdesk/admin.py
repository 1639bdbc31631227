"""Admin for the site configuration and the scheduler's runs; the read-only bases other admins use."""

from django.contrib import admin

from helpdesk import services
from helpdesk.models import PeriodicTaskRun, SiteConfiguration


@admin.register(SiteConfiguration)
class SiteConfigurationAdmin(admin.ModelAdmin):
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


class ReadOnlyAdmin(admin.ModelAdmin):
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


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows related rows (timelines, revisions) without letting the admin edit them."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
