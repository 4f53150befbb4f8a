"""The apps depend one way (docs/architecture.md): checked with import-linter's layers contract."""
from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parents[2]


def contracts_kept() -> bool:
    return lint_imports(config_filename=str(REPO / ".importlinter"), no_cache=True, no_logo=True) == 0


def test_the_apps_depend_one_way():
    assert contracts_kept()


@pytest.mark.parametrize("lower, upper", [("memory", "advisor"), ("marketdata", "advisor"), ("memory", "twin"),
                                          ("memory", "marketdata"), ("audit", "memory")])
def test_a_reverse_import_breaks_the_contract(lower, upper):
    probe = REPO / lower / "_reverse_import_probe.py"
    probe.write_text(f"import {upper}  # written by test_architecture, deleted at once\n")
    try:
        assert not contracts_kept()
    finally:
        probe.unlink()
