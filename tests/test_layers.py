"""Every module's ``stvg`` imports point down the layer order (DESIGN "Layout").

Checked on the source (``ast``), lazy imports inside functions included, so an import that
climbs back up a layer fails here however deep it is hidden.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stvg"

#: What each subpackage may import (besides itself and the top-level helper modules of
#: ``BASE_MODULES``). Bottom to top: data; tubes; verifiers; render
#: (drawing, used by the envs' render modes); envs and policies side by side (policies
#: depend on the answer contract in verifiers, never on envs); synthesis (SFT data: CoT,
#: targets; uses the envs' frame sampling and the VLM prompt); evaluation (the one path
#: that runs a policy over a split and scores it); training (SFT and the RL trainers) and
#: exports (verl/TRL datasets from env episodes and the VLM prompter) side by side;
#: experiments on everything.
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "tubes": {"data"},
    "verifiers": {"data", "tubes"},
    "render": {"data", "tubes", "verifiers"},
    "envs": {"data", "tubes", "verifiers", "render"},
    "policies": {"data", "tubes", "verifiers"},
    "synthesis": {"data", "tubes", "verifiers", "render", "envs", "policies"},
    "evaluation": {"data", "tubes", "verifiers", "render", "envs", "policies", "synthesis"},
    "training": {
        "data",
        "tubes",
        "verifiers",
        "render",
        "envs",
        "policies",
        "synthesis",
        "evaluation",
    },
    "exports": {
        "data",
        "tubes",
        "verifiers",
        "render",
        "envs",
        "policies",
        "synthesis",
        "evaluation",
    },
    "experiments": {
        "data",
        "tubes",
        "verifiers",
        "render",
        "envs",
        "policies",
        "synthesis",
        "evaluation",
        "training",
        "exports",
    },
}
#: Top-level modules every layer may use, with what they may import themselves
#: (``cli_errors`` turns config and data errors into one-line messages;
#: ``checkpoint_files`` reads checkpoints without running code; ``redact`` takes secrets
#: out of a server's error text; ``stats`` holds the confidence intervals that evaluation,
#: reports and sweeps share; ``limits`` the bounds on input sizes, and short_repr for
#: messages; ``lazy`` imports a package's names on first access; ``progress`` the one
#: progress display of every long stage).
BASE_MODULES: dict[str, set[str]] = {
    "config": set(),
    "cli_args": set(),
    "cli_errors": {"data"},
    "checkpoint_files": set(),
    "redact": set(),
    "stats": set(),
    "limits": set(),
    "lazy": set(),
    "progress": set(),
}


def _stvg_imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        out.extend((node.lineno, n) for n in names if n == "stvg" or n.startswith("stvg."))
    return out


def _violations(path: Path, root: Path = PACKAGE) -> list[str]:
    relative = path.relative_to(root)
    layer = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    bad = []
    for line, name in _stvg_imports(path):
        target = name.split(".")[1] if "." in name else ""
        if target in BASE_MODULES or target in ("", layer):  # "": the package itself
            continue
        if layer in ALLOWED:
            ok = target in ALLOWED[layer]
        elif layer in BASE_MODULES:
            ok = target in BASE_MODULES[layer]
        else:  # cli, cli_errors: the command line sits above everything
            ok = True
        if not ok:
            bad.append(f"stvg/{relative}:{line} imports {name}")
    return bad


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(ALLOWED), "add the new subpackage to ALLOWED with its layer"


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_imports_point_down_the_layers(path: Path) -> None:
    assert _violations(path) == []


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """``module -> the stvg modules it imports`` (lazy imports included); ``from pkg import
    name`` points at ``pkg.name`` when that is a module, else at ``pkg``."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles() -> None:
    """No two modules import each other, directly or round a loop, lazily or not."""
    assert _circles(_import_graph()) == []


def test_the_circle_checker_catches_a_lazy_circle(tmp_path: Path) -> None:
    package = tmp_path / "stvg" / "training"
    package.mkdir(parents=True)
    (package / "a.py").write_text("def f():\n    from stvg.training.b import g\n")
    (package / "b.py").write_text("from stvg.training import a\n")
    graph = _import_graph(tmp_path / "stvg")
    assert _circles(graph) == [["stvg.training.a", "stvg.training.b"]]


def test_the_checker_catches_a_climbing_import(tmp_path: Path) -> None:
    """A policies module importing envs (lazily, inside a function) is reported."""
    module = tmp_path / "stvg" / "policies" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from stvg.envs.cost import visual_tokens\n")
    assert _violations(module, tmp_path / "stvg") == ["stvg/policies/x.py:2 imports stvg.envs.cost"]
