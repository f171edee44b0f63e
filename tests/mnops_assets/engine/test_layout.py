"""The engine's modules import one another without a cycle (an import under TYPE_CHECKING counts too)."""

from __future__ import annotations

import grimp


def test_engine_modules_import_no_cycle():
    graph = grimp.build_graph("mnops_assets", exclude_type_checking_imports=False)
    modules = {m for m in graph.find_descendants("mnops_assets.engine")} | {"mnops_assets.engine"}
    cycles = []
    for module in sorted(modules):
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None and set(chain) <= modules:
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == []


def test_a_cycle_is_caught(tmp_path, monkeypatch):
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loop import b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loop import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("loop", exclude_type_checking_imports=False)
    assert graph.find_shortest_chain(importer="loop.b", imported="loop.a") == ("loop.b", "loop.a")
