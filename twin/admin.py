from django.contrib import admin

from twin.models import TwinFirmSettings


@admin.register(TwinFirmSettings)
class TwinFirmSettingsAdmin(admin.ModelAdmin):
    """Where a firm decides whether an advisor reviews the twin's answers before clients see them."""

    list_display = ("firm", "review_policy")
