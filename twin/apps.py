from django.apps import AppConfig


class TwinConfig(AppConfig):
    """The digital twin: advice, chat, the agent and its tools, prompts, the chat-model factory, digests."""

    name = "twin"

    def ready(self) -> None:
        # advisor may not import the twin: the twin adds its advice to exports and retention purges.
        from advisor.services.erasure import register_purger
        from advisor.services.export import register_section
        from twin.services.export import advice_section, chat_section, digests_section
        from twin.services.retention import purge_client_advice, purge_client_chat, purge_client_digests

        register_section("advice", advice_section)
        register_section("chat", chat_section)
        register_section("digests", digests_section)
        register_purger("chat", purge_client_chat)  # first: its rounds point at the sessions the purge deletes
        register_purger("digests", purge_client_digests)
        register_purger("advice", purge_client_advice)
