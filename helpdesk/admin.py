from django.contrib import admin

from helpdesk import services
from helpdesk.models import SiteConfiguration


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


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows related rows (timelines, revisions) without letting the admin edit them."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
