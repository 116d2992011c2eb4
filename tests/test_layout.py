"""The package's folders are the pipeline's stages, and code only looks back along it.

Every module under assistant/ is parsed (imports inside functions and under TYPE_CHECKING
count as much as those at the top), mapped to its stage by its folder, and must import only
from its own stage or an earlier one:

    shared (settings, errors, answer_models, data) < ingest < index < answer < evaluation < learn < app

The package's own __init__ (which hands out `Assistant`) is the public face and comes last.
No two modules may import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
STAGES = ["shared", "ingest", "index", "answer", "evaluation", "learn", "app", "face"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage_of(name: str) -> str:
    if name == "assistant":
        return "face"
    first = name.split(".")[1]
    return first if first in STAGES else "shared"


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, str]]:
    """(imported module, line, the import as written) for every import of an assistant module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] == "assistant"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.split(".")[0] != "assistant":
                continue
            written = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.append((target if target in known else base, node.lineno, written))
    return [(target, line, written) for target, line, written in found if target != name]


def graph() -> dict[str, list[tuple[str, int, str]]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_every_module_has_a_stage():
    for name in modules():
        assert stage_of(name) in STAGES, name
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders - {"data"} == set(STAGES) - {"shared", "face"}


def test_no_module_imports_from_a_later_stage():
    wrong = []
    for name, found in graph().items():
        for target, line, written in found:
            if STAGES.index(stage_of(target)) > STAGES.index(stage_of(name)):
                wrong.append(f"{name} ({stage_of(name)}) line {line}: `{written}` reaches {target} ({stage_of(target)})")
    assert not wrong, "imports from a later stage:\n" + "\n".join(wrong)


def test_no_import_cycles():
    edges = {name: {t for t, _, _ in found if t in modules()} for name, found in graph().items()}
    # Tarjan's strongly connected components: any with two or more modules is a cycle
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
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
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(_loop(c, edges)) for c in cycles)


def _loop(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest way round from the component's first module back to itself."""
    start, paths = component[0], {component[0]: [component[0]]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v] & set(component)):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def test_stage_packages_stay_light():
    """A stage's __init__ says what it takes in and hands on, and imports nothing (cold start)."""
    for stage in set(STAGES) - {"shared", "face"}:
        init = PACKAGE / stage / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{init} has no docstring"
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and not (
            isinstance(n, ast.ImportFrom) and n.module == "__future__")], f"{init} imports"
