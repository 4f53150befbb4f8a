from django.apps import AppConfig


class AdvisorConfig(AppConfig):
    name = "advisor"
    verbose_name = "Advisors, clients and sessions"

    def ready(self) -> None:
        from advisor import receivers  # noqa: F401  (connects to memory's signals)
