"""`graph_migrate` against the real Neo4j: idempotent, and loud about an embedding size it cannot serve."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from memory.graph import schema


def test_graph_migrate_runs_twice_and_leaves_the_indexes_online(graph, capsys):
    call_command("graph_migrate")
    call_command("graph_migrate")

    assert "graph schema ready" in capsys.readouterr().out
    assert schema.vector_index_dimensions() == 256


def test_embeddings_of_another_size_than_the_setting_are_refused_with_the_size_to_set(graph):
    with override_settings(MEMORY_EMBEDDING_DIMENSIONS=128):
        with pytest.raises(CommandError, match="produces 256-dimensional embeddings .* set it to 256"):
            call_command("graph_migrate")


def test_a_vector_index_built_for_another_size_is_reported_not_kept_silently(graph):
    with override_settings(MEMORY_EMBEDDING_DIMENSIONS=128):
        with pytest.raises(schema.SchemaMismatch, match="holds 256-dimensional embeddings .* is 128"):
            schema.migrate()
