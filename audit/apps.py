from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only, hash-chained audit trail. The lowest layer: every app may write to it."""

    name = "audit"
    verbose_name = "Audit trail"
