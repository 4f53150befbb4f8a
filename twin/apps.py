from django.apps import AppConfig


class TwinConfig(AppConfig):
    """The digital twin: advice, chat, the agent and its tools, prompts, the chat-model factory, digests."""

    name = "twin"

    def ready(self) -> None:
        from advisor.services.export import register_section
        from twin.services.export import advice_section

        register_section("advice", advice_section)  # advisor may not import the twin: the twin registers
