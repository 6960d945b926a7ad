"""The layout shows the architecture: the harness never imports a paper, papers never import each other, and no
module reaches into another module's private names. Read from the source (AST), so it holds for imports inside
functions too."""
import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib" / "archlab"
PAPERS = LIB / "papers"


def _module_name(path: Path) -> str:
    base = LIB.parent if LIB.parent in path.parents else ROOT  # lib/archlab/... or bench/...
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``import from`` names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path):
    """(absolute module imported, names taken from it, line) for every import in ``path``."""
    module, is_package = _module_name(path), path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield _resolve(node, module, is_package), [(a.name, a.asname) for a in node.names], node.lineno


def _paper_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["archlab", "papers"] and len(parts) > 2 else None


def _sources(folder: Path):
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_harness_never_imports_a_paper():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {target}"
           for p in _sources(LIB) if PAPERS not in p.parents
           for target, names, line in _imports(p)
           if target.startswith("archlab.papers") or any(
               target == "archlab" and n == "papers" for n, _ in names)]
    assert not bad, "\n".join(bad)


def _uses(paper: str) -> set:
    """The other papers a paper declares it reuses: ``USES`` in its leaf module ``meta.py`` (read from the source)."""
    meta = PAPERS / paper / "meta.py"
    for node in ast.walk(ast.parse(meta.read_text())) if meta.exists() else ():
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "USES" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_papers_never_import_each_other():
    """... except a paper its ``meta.USES`` declares (the leaderboard reuses paper 4's sensitivity), and never
    through the registry at run time, where this test could not see it."""
    bad = []
    for p in _sources(PAPERS):
        own = _paper_of(_module_name(p))
        for target, names, line in _imports(p):
            others = {_paper_of(target)} | {_paper_of(f"{target}.{n}") for n, _ in names}
            others -= {None, own} | _uses(own or "")
            if own is not None and others:
                bad.append(f"{p.relative_to(ROOT)}:{line} imports paper(s) {sorted(others)}")
        if own is not None and "PAPERS[" in p.read_text():
            bad.append(f"{p.relative_to(ROOT)} reaches another paper through the registry (declare it in meta.USES)")
    assert not bad, "\n".join(bad)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@pytest.mark.parametrize("folder", ["lib", "bench"])
def test_no_module_uses_another_modules_private_names(folder):
    bad = []
    for p in _sources(ROOT / folder):
        module_aliases = {}
        for target, names, line in _imports(p):
            if not target.startswith(("archlab", "bench")):
                continue
            for name, alias in names:
                if name.startswith("_") and not name.startswith("__"):
                    bad.append(f"{p.relative_to(ROOT)}:{line} imports {target}.{name}")
                elif _is_module(f"{target}.{name}"):
                    module_aliases[alias or name] = f"{target}.{name}"
        for node in ast.walk(ast.parse(p.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in module_aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno} uses {module_aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_every_paper_package_has_the_common_modules():
    from archlab.papers import PAPERS as REGISTRY

    for name in REGISTRY:
        modules = {p.stem for p in (PAPERS / name).glob("*.py")}
        missing = {"__init__", "grid", "run", "claims", "jobs"} - modules
        if name != "overview":
            missing |= {"models", "analysis", "plots"} - modules
        assert not missing, f"papers/{name} lacks {sorted(missing)} (docs/adding-a-paper.md)"


def _import_graph(paths) -> dict:
    """module -> the archlab modules it imports (``from . import x`` counts as importing ``pkg.x`` where x is one)."""
    known = {_module_name(p) for p in paths}
    graph = {}
    for p in paths:
        edges = set()
        for target, names, _ in _imports(p):
            edges |= {f"{target}.{n}" for n, _ in names if f"{target}.{n}" in known}
            if target in known:
                edges.add(target)
        graph[_module_name(p)] = edges - {_module_name(p)}
    return graph


def _cycle(graph: dict) -> list | None:
    """One import cycle in ``graph`` (a list of modules), or None (depth-first search)."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = "done"
        stack.pop()
        return None

    return next((c for m in sorted(graph) if m not in state and (c := visit(m))), None)


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_the_harness_has_no_import_cycle():
    """Type-only imports count too: claims is the leaf the outcome rules import, never the reverse."""
    harness = [p for p in _sources(LIB) if PAPERS not in p.parents and p.parent == LIB]
    assert _cycle(_import_graph(harness)) is None


def test_no_paper_package_has_an_import_cycle():
    """STEM, PAPER and TITLE live in a leaf module (``meta``) that the package's modules import, never the package's
    ``__init__``, which imports them."""
    from archlab.papers import PAPERS as REGISTRY

    for name in REGISTRY:
        files = _sources(PAPERS / name)
        assert (PAPERS / name / "meta.py").exists(), f"papers/{name} has no meta.py (STEM, PAPER, TITLE)"
        cycle = _cycle(_import_graph(files))
        assert cycle is None, f"papers/{name}: import cycle {' -> '.join(cycle)}"
