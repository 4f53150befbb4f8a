"""Who may see a memory, as one opaque token per partition.

A token is a short hash so that it is a single term for the full-text analyzer (Lucene filters on it
before ranking) and leaks nothing about the people behind it. `firm_id` and `client_id` are also
stored on each node in clear for audit and erasure.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


def _token(prefix: str, *parts: str) -> str:
    # The trailing "0" keeps the english analyzer's stemmer from trimming a hex tail such as "…ed".
    return prefix + hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest() + "0"


def client_scope(firm_id: str, client_id: str) -> str:
    """Private memory of one client: visible to that client and to their firm's advisors."""
    return _token("c", firm_id, client_id)


def firm_scope(firm_id: str) -> str:
    """Memory shared across a firm: analyst viewpoints, firm research."""
    return _token("f", firm_id)


def market_scope() -> str:
    """Market facts shared by every client who tracks them (a security's move on a day). No reader holds
    this token: a client reaches a shared move only through the link from their own client node
    (`memory/graph/securities.py`), so generic reads never see it and no reader may change it."""
    return _token("m", "market")


@dataclass(frozen=True)
class Reader:
    """The scopes one caller may read, decided once (by `advisor.permissions` for people) and passed down."""

    firm_id: str
    client_id: str | None  # the one client whose private memory is readable (None: firm-shared only)

    @property
    def writable_scopes(self) -> list[str]:
        """What this caller may change: the client's own memory, or (with no client) the firm's."""
        if self.client_id:
            return [client_scope(self.firm_id, self.client_id)]
        return [firm_scope(self.firm_id)]

    @property
    def scopes(self) -> list[str]:
        tokens = [firm_scope(self.firm_id)]
        if self.client_id:
            tokens.insert(0, client_scope(self.firm_id, self.client_id))
        return tokens
