"""The twin's memory as langchain tools, so its agent can search and manage what it remembers.

Tools are built per conversation for one reader: the scope is bound here, never taken from the
model's arguments, so no prompt can make a tool read another client's memory.
"""
from __future__ import annotations

import json

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from marketdata.services.drift import remembered_prices_for
from memory.graph.driver import GraphUnavailable
from memory.scope import Reader
from memory.services import agent_memory
from memory.services.retrieval import InvalidQuery, iso_datetime, search


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for in the client's memory, in plain words (e.g. 'retirement date').")
    k: int = Field(default=8, ge=1, le=25, description="How many memories to return.")


class RememberArgs(BaseModel):
    text: str = Field(description="A self-contained statement worth remembering about the client, in one or two sentences.")
    importance: float = Field(default=0.5, ge=0, le=1, description="0 = trivia, 1 = must never be forgotten.")


class UpdateArgs(BaseModel):
    memory_id: str = Field(description="The id of the memory to revise, as returned by search_memory.")
    text: str = Field(description="The corrected statement. The old one is kept as history, not overwritten.")


class PricesArgs(BaseModel):
    symbol: str | None = Field(default=None, description="A ticker such as 'AAPL' to see one security; empty for every price discussed.")


class ForgetArgs(BaseModel):
    memory_id: str = Field(description="The id of the memory to forget, as returned by search_memory.")
    reason: str = Field(description="Why: one of decayed, redundant, retracted, incorrect.")


def memory_tools(reader: Reader, *, actor: str) -> list[BaseTool]:
    source = f"agent:{actor}"

    def _guard(call):
        try:
            return call()
        except (InvalidQuery, agent_memory.MemoryNotFound, agent_memory.InvalidMemoryText, GraphUnavailable) as error:
            return f"error: {error}"

    def search_memory(query: str, k: int = 8) -> str:
        return _guard(lambda: json.dumps([r.to_contract() for r in search(reader, query, k=k)]))

    def remembered_prices(symbol: str | None = None) -> str:
        def _prices() -> str:
            rows = remembered_prices_for(reader, symbol.strip().upper() if symbol else None)
            return json.dumps([
                {"symbol": row.symbol, "price_when_discussed": row.price, "discussed_at": iso_datetime(row.mentioned_at),
                 "current_price": row.current_price,
                 "drift_pct": round(row.drift_pct, 2) if row.drift_pct is not None else None,
                 "quote_status": row.status, "quote_as_of": iso_datetime(row.as_of), "quote_source": row.source,
                 "quote_error": row.error, "memory_id": row.id, "summary": row.summary}
                for row in rows
            ])

        return _guard(_prices)

    def remember(text: str, importance: float = 0.5) -> str:
        return _guard(lambda: "remembered as " + agent_memory.remember(reader, text, source=source, importance=importance, actor=actor))

    def update_memory(memory_id: str, text: str) -> str:
        return _guard(lambda: "revised as " + agent_memory.update_memory(reader, memory_id, text, source=source, actor=actor))

    def forget_memory(memory_id: str, reason: str) -> str:
        return _guard(lambda: (agent_memory.forget_memory(reader, memory_id, reason=reason, actor=actor), "forgotten")[1])

    return [
        StructuredTool.from_function(search_memory, name="search_memory", args_schema=SearchArgs,
                                     description="Search what the twin remembers about this client (facts, past sessions, prices discussed). Returns JSON with ids, text, validity and source turns."),
        StructuredTool.from_function(remembered_prices, name="remembered_prices", args_schema=PricesArgs,
                                     description="Prices this client discussed, each with today's quote and the move since. "
                                                 "quote_status 'stale' means the last refresh failed and current_price is old: "
                                                 "say so instead of presenting it as today's price."),
        StructuredTool.from_function(remember, name="remember", args_schema=RememberArgs,
                                     description="Store a new memory about this client."),
        StructuredTool.from_function(update_memory, name="update_memory", args_schema=UpdateArgs,
                                     description="Revise a memory that is no longer accurate; history is kept."),
        StructuredTool.from_function(forget_memory, name="forget_memory", args_schema=ForgetArgs,
                                     description="Mark a memory as forgotten (it stops being used), with a reason."),
    ]

