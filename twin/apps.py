from django.apps import AppConfig


class TwinConfig(AppConfig):
    """The digital twin: advice, chat, the agent and its tools, prompts, the chat-model factory, digests."""

    name = "twin"
