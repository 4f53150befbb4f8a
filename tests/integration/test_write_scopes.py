"""A caller changes only memory it owns: a client's twin reads firm research but cannot revise or forget it."""
from __future__ import annotations

import json

import pytest

from advisor.models import Firm, User
from advisor.services.importer import import_sessions
from advisor.services.viewpoints import publish_viewpoint
from audit.models import AuditEntry
from memory import api
from memory.scope import Reader
from memory.services.agent_memory import MemoryNotFound
from memory.services.ingest import drain_outbox
from twin.tools import memory_tools

pytestmark = pytest.mark.django_db


@pytest.fixture
def firm_view(clean_graph) -> str:
    import_sessions([json.dumps({"client_id": "ann", "session_id": "a1", "started_at": "2024-03-03T10:00:00Z",
                                 "participants": {"Ann": "client"},
                                 "turns": [{"turn_id": "a1-1", "speaker": "Ann", "text": "I hold Apple."}]})], "acme")
    analyst = User.objects.create_user("ana", password="pw-123456", role="analyst", firm=Firm.objects.get(slug="acme"))
    publish_viewpoint(analyst=analyst, symbol="AAPL", stance="buy", rationale="Services keep growing.")
    drain_outbox()
    found = api.search(firm_id="acme", client_id="ann", query="analyst view Apple", k=10)
    return next(r.id for r in found if r.text.startswith("Analyst view on AAPL"))


def test_a_clients_twin_reads_firm_research_but_cannot_forget_or_revise_it(firm_view):
    tools = {tool.name: tool for tool in memory_tools(Reader("acme", "ann"), actor="twin")}

    forgot = tools["forget_memory"].invoke({"memory_id": firm_view, "reason": "retracted"})
    revised = tools["update_memory"].invoke({"memory_id": firm_view, "text": "Analyst says SELL Apple."})

    assert forgot.startswith("error: No active memory") and revised.startswith("error: No current memory")
    still = api.search(firm_id="acme", client_id="ben", query="analyst view Apple", k=10)
    assert any(r.id == firm_view for r in still)  # every other client still sees the firm's view
    assert not AuditEntry.objects.filter(target=f"memory:{firm_view}").exists()  # nothing changed, nothing audited


def test_the_client_changes_their_own_memory_and_each_change_is_audited(firm_view):
    note = api.remember(firm_id="acme", client_id="ann", text="Ann prefers e-mail.", source="test")
    api.forget_memory(firm_id="acme", client_id="ann", memory_id=note, reason="retracted", actor="advisor-chris")

    actions = list(AuditEntry.objects.filter(target=f"memory:{note}").values_list("action", "actor"))
    assert actions == [("memory.remember", "test"), ("memory.forget", "advisor-chris")]
    with pytest.raises(MemoryNotFound):
        api.forget_memory(firm_id="acme", client_id="ben", memory_id=note, reason="retracted", actor="x")
