"""`memory.graph.driver.read_together`: a page's reads share one Neo4j transaction, on the real server."""
from __future__ import annotations

import pytest
from neo4j import ManagedTransaction
from neo4j.exceptions import CypherSyntaxError

from memory.graph import driver

pytestmark = pytest.mark.usefixtures("graph")


def transaction_id(tx: ManagedTransaction) -> str:
    """The id Neo4j gives the transaction this query runs in (SHOW TRANSACTIONS lists the query itself)."""
    return tx.run("SHOW TRANSACTIONS YIELD transactionId, currentQuery "
                  "WHERE currentQuery CONTAINS 'which transaction am I' RETURN transactionId").single()[0]


def node_count(tx: ManagedTransaction) -> int:
    return tx.run("MATCH (n:ReadTogetherProbe) RETURN count(n) AS n").single()["n"]


def test_reads_inside_the_block_run_in_one_transaction_and_reads_outside_in_their_own():
    inside = driver.read_together(lambda: [driver.read(transaction_id) for _ in range(3)])
    outside = [driver.read(transaction_id) for _ in range(2)]

    assert len(set(inside)) == 1
    assert len(set(outside)) == 2 and not set(outside) & set(inside)


def test_a_block_inside_another_joins_its_transaction_and_leaves_it_to_the_outer_block():
    def outer() -> list[str]:
        first = driver.read(transaction_id)
        inner = driver.read_together(lambda: [driver.read(transaction_id) for _ in range(2)])
        return [first, *inner, driver.read(transaction_id)]  # the last, after the inner block ended

    ids = driver.read_together(outer)

    assert len(ids) == 4 and len(set(ids)) == 1


def test_a_read_beside_inside_the_block_runs_in_a_transaction_of_its_own():
    mine, beside = driver.read_together(lambda: (driver.read(transaction_id),
                                                 driver.read_beside(transaction_id).result()))

    assert mine != beside


def test_a_write_inside_the_block_is_refused_and_nothing_is_written(clean_graph):
    def write_probe(tx: ManagedTransaction) -> None:
        tx.run("CREATE (:ReadTogetherProbe)").consume()

    with pytest.raises(RuntimeError, match="must only read"):
        driver.read_together(lambda: driver.write(write_probe))

    assert driver.read(node_count) == 0
    driver.write(write_probe)  # outside the block a write is a write
    assert driver.read(node_count) == 1


def test_a_failing_read_raises_its_own_error_and_leaves_the_thread_reading_on_its_own():
    def broken(tx: ManagedTransaction) -> None:
        tx.run("MATCH (n RETURN n").consume()

    with pytest.raises(CypherSyntaxError):
        driver.read_together(lambda: (driver.read(transaction_id), driver.read(broken)))

    assert len({driver.read(transaction_id) for _ in range(2)}) == 2
