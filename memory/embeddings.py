"""Text embeddings behind langchain's `Embeddings` interface.

The default is wordllama: its weights ship inside the wheel, so it runs offline, and it embeds tens
of thousands of texts per second on a laptop CPU. Any other langchain `Embeddings` class can be
named in `MEMORY_EMBEDDINGS` (dotted path) as long as its dimension matches
`MEMORY_EMBEDDING_DIMENSIONS` (the vector index is created with it).
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string
from langchain_core.embeddings import Embeddings


class WordLlamaEmbeddings(Embeddings):
    """wordllama loaded from the package's own folder with downloads disabled."""

    def __init__(self, dimensions: int = 256) -> None:
        import wordllama
        from wordllama import WordLlama

        package_dir = Path(wordllama.__file__).parent
        self._model = WordLlama.load(cache_dir=package_dir, disable_download=True, dim=dimensions)
        self._lock = threading.Lock()  # the tokenizer is not safe to share across threads

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.embed(list(texts), norm=True)
        return vectors.astype(float).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class EmbeddingMismatch(Exception):
    """The configured embeddings do not produce MEMORY_EMBEDDING_DIMENSIONS numbers."""


def check_embedding_dimensions() -> None:
    """Embed one probe text and compare its size with the setting the vector index is built from."""
    size = len(embed_query("dimension check"))
    if size != settings.MEMORY_EMBEDDING_DIMENSIONS:
        raise EmbeddingMismatch(
            f"{settings.MEMORY_EMBEDDINGS} produces {size}-dimensional embeddings but "
            f"MEMORY_EMBEDDING_DIMENSIONS is {settings.MEMORY_EMBEDDING_DIMENSIONS}; set it to {size}."
        )


@lru_cache(maxsize=1)
def get_embeddings() -> Embeddings:
    name = settings.MEMORY_EMBEDDINGS
    if name == "wordllama":
        return WordLlamaEmbeddings(dimensions=settings.MEMORY_EMBEDDING_DIMENSIONS)
    return import_string(name)()


def embed_texts(texts: list[str]) -> list[list[float]]:
    return get_embeddings().embed_documents(texts)


def embed_query(text: str) -> list[float]:
    return get_embeddings().embed_query(text)
