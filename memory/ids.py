"""Stable ids: the same input always gives the same id, so every graph write can MERGE."""
from __future__ import annotations

import hashlib


def stable_id(kind: str, *parts: str) -> str:
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()
    return f"{kind}:{digest}"
