"""The Django admin for firm set-up: firms, people, clients and their thresholds, holdings.

Conversation records and viewpoints are read-only here: they change only through their services,
which queue memory and write the audit trail.
"""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from advisor.models import Client, ConversationSession, Firm, Holding, User, Viewpoint


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "significant_move_percent")

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return ("slug",) if obj else ()  # the slug is a memory scope id: never renamed


@admin.register(User)
class PersonAdmin(UserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "firm", "is_active")
    list_filter = ("role", "firm", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Advisor Twin", {"fields": ("role", "firm")}))


class HoldingInline(admin.TabularInline):
    model = Holding
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "firm", "advisor", "significant_move_percent")
    list_filter = ("firm",)
    search_fields = ("name", "external_id")
    inlines = [HoldingInline]

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return ("external_id", "firm") if obj else ()  # both are part of the client's memory scope


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(ConversationSession)
class ConversationSessionAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "version", "client", "channel", "started_at", "memory_status")
    list_filter = ("memory_state__status", "channel")


@admin.register(Viewpoint)
class ViewpointAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "stance", "target_price", "analyst", "published_at", "memory_status")
