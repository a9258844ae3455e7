"""The layering is a contract: `lint-imports` keeps the layers of pyproject.toml, an import that climbs a layer
breaks it, and no module of duetto takes part in an import cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts, on the `duetto` package found under `source_root`."""
    assert LINT_IMPORTS.exists(), "import-linter is a test dependency: pip install -e '.[test]'"
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source_root, env={"PYTHONPATH": str(source_root), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )


def copy_package(destination: Path) -> Path:
    """The package's Python files, copied so that a test may break them."""
    shutil.copytree(ROOT / "src" / "duetto", destination / "duetto",
                    ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.html", "*.css", "*.js", "*.txt",
                                                  "*.mako", "*.ini", "*.safetensors", "*.bin"))
    return destination


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "climbing_import", "contract"), [
    # A domain reaching up into the web layer.
    ("app/videos/service.py", "from duetto.app.web import deps", "duetto.app: domains below, use cases above"),
    # The core reaching into a domain (core imports nothing of the app).
    ("app/core/errors.py", "import duetto.app.social.posts", "duetto.app: domains below, use cases above"),
    # The engine reaching into the studio app.
    ("engine/memory.py", "import duetto.app.core.config", "duetto: the command, then the studio app"),
])
def test_an_import_that_climbs_a_layer_breaks_the_contract(tmp_path: Path, module: str, climbing_import: str,
                                                           contract: str) -> None:
    source = copy_package(tmp_path)
    target = source / "duetto" / module
    target.write_text(target.read_text() + f"\n{climbing_import}  # noqa\n")
    result = lint_imports(source)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_no_module_of_duetto_is_in_an_import_cycle() -> None:
    """Every import statement, module level or inside a function, as grimp reads them (the acyclic contract
    checks sibling packages; this also covers the package's own front door)."""
    graph = grimp.build_graph("duetto", cache_dir=None)
    cycles = [cycle for cycle in _strongly_connected(graph) if len(cycle) > 1]
    assert cycles == []


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the groups of modules that all reach one another."""
    edges = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups
