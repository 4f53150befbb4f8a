"""The benches' reading of a JVM's just-in-time compiler CPU (tests/bench/cpu.py), which tells a warming Neo4j
from what each request costs, and the load test's warm-up that waits on it (tests/bench/load.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.bench import load
from tests.bench.cpu import jit_compiler_seconds, neo4j_pid, process_seconds


def test_the_test_neo4j_has_spent_some_but_not_all_of_its_cpu_compiling():
    pid = neo4j_pid()
    if pid is None:
        pytest.skip("an external Neo4j: its threads cannot be read")
    jit, total = jit_compiler_seconds(pid), process_seconds(pid)
    # A JVM that has started Neo4j and answered queries has compiled hot code; its other threads ran too.
    assert 0 < jit < total


def test_a_process_without_a_jit_compiler_has_spent_nothing_compiling():
    assert jit_compiler_seconds(os.getpid()) == 0


def test_the_warm_up_of_an_external_neo4j_is_its_minimum_and_tells_the_users_to_go_on(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "neo4j_pid", lambda: None)
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        warmed = load._wait_until_warm(tmp_path / "warm", minimum=12, maximum=300, driver=driver)
    finally:
        driver.kill()
    assert warmed == {"seconds": 12, "jit_share": None}
    assert (tmp_path / "warm").exists()
