"""Extraction of memory from sessions: rules by default, an LLM through langchain when TWIN_LLM is set."""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from memory.extraction.rules import RuleExtractor
from memory.extraction.types import Extractor


class ExtractionUnavailable(Exception):
    """The LLM provider could not extract (timeout, quota, bad answer); the session stays queued."""


@lru_cache(maxsize=1)
def _rules() -> RuleExtractor:
    return RuleExtractor()


def get_extractor() -> Extractor:
    if settings.TWIN_LLM:
        from langchain.chat_models import init_chat_model

        from memory.extraction.llm import LLMExtractor

        return LLMExtractor(init_chat_model(settings.TWIN_LLM), rules=_rules())
    return _rules()
