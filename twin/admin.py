from django.contrib import admin

from twin.models import Advice, TwinFirmSettings


@admin.register(Advice)
class AdviceAdmin(admin.ModelAdmin):
    """Advice is a record: readable by staff, never added, changed or deleted here."""

    list_display = ("created_at", "client", "kind", "declined", "composer", "channel")
    list_filter = ("kind", "declined", "channel")
    search_fields = ("client__name", "client__external_id", "question")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TwinFirmSettings)
class TwinFirmSettingsAdmin(admin.ModelAdmin):
    """Where a firm decides whether an advisor reviews the twin's answers before clients see them."""

    list_display = ("firm", "review_policy")
