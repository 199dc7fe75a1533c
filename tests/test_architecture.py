"""The import graph of src/keyplane: packages depend one way, domains never on surfaces."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import keyplane

ROOT = Path(keyplane.__file__).parent
DOMAINS = {
    "audit",
    "auth",
    "billing",
    "gateway",
    "keys",
    "kernel",
    "models",
    "net",
    "orgs",
    "project_configs",
    "providers",
    "usage",
    "webhooks",
    "workspaces",
}
# What sits above the domains: request plumbing, adapters, the application and the command line.
SURFACE_LAYER = {"surfaces", "deps", "app", "asgi", "cli", "client"}
KERNEL_MAY_IMPORT = {"kernel", "models", "errors"}


def unit_of(module: str) -> str:
    """The package (or root module) of `keyplane.x.y`: `x`."""
    return module.split(".")[1] if module.count(".") >= 1 else module


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        unit = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("keyplane.") and unit_of(name) != unit:
                    graph[unit].add(unit_of(name))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_no_cycles_between_packages() -> None:
    assert cycles(import_graph()) == []


def test_domain_packages_never_import_surfaces_or_request_plumbing() -> None:
    graph = import_graph()
    wrong = {
        (domain, target) for domain in DOMAINS for target in graph.get(domain, ()) if target in SURFACE_LAYER
    }
    assert wrong == set()


def test_the_kernel_depends_only_on_models_and_errors() -> None:
    assert import_graph().get("kernel", set()) <= KERNEL_MAY_IMPORT


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
