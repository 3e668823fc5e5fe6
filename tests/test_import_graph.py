"""The package's architecture, checked: no import cycle, and code outside a subpackage uses its public surface.

Every ``import`` counts, at module level or inside a function (a lazy import still ties two modules together);
``if TYPE_CHECKING:`` blocks do not (they never run).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import dybench

ROOT = Path(dybench.__file__).parent


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ["dybench", *path.relative_to(ROOT).with_suffix("").parts]
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """Module -> the dybench modules it imports (``from pkg import submodule`` imports the submodule)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        deps = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module for a in node.names
                ]
            else:
                continue
            for name in names:
                while name and name not in mods:
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    deps.add(name)
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_cycles_are_found_when_there_are_some():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_dybench():
    graph = import_graph()
    assert len(graph) > 80 and graph["dybench.reproduce._plan"], "the graph reads the package"
    assert cycles(graph) == []


def test_private_modules_are_imported_only_inside_their_package():
    outside = []
    for mod, deps in import_graph().items():
        for dep in deps:
            package, _, leaf = dep.rpartition(".")
            if (
                leaf.startswith("_")
                and not leaf.startswith("__")
                and mod != package
                and not mod.startswith(package + ".")
            ):
                outside.append(f"{mod} imports {dep}")
    assert outside == []


def test_import_dybench_pairs_loads_no_video_image_or_parquet_library(tmp_path):
    """PyAV and PIL load with the first ``dybench.pairs`` name that needs them, not on import; pyarrow only
    when a parquet file is written or read, not to read a dataset's items (``pairs.jsonl``)."""
    from dybench.pairs import write_items
    from dybench.records import Item

    item = Item("i", "p", "original", "hflip", "change", "static", "v.mp4", "q?", ("a", "b"), "A", "s")
    write_items(tmp_path / "read", [item])
    code = """
import json, sys
import dybench.pairs as pairs
heavy = ("av", "PIL", "pyarrow")
loaded = lambda: [m for m in heavy if m in sys.modules]
on_import = loaded()
items = pairs.PairsDataset(sys.argv[1]).items()
on_read = loaded()
pairs.write_items(sys.argv[2], items)
on_write = loaded()
unresolved = [name for name in pairs.__all__ if not hasattr(pairs, name)]
print(json.dumps({"on_import": on_import, "on_read": on_read, "on_write": on_write, "unresolved": unresolved,
                  "on_use": loaded()}))
"""
    argv = [str(tmp_path / "read"), str(tmp_path / "written")]
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert loaded["on_import"] == loaded["on_read"] == []
    assert loaded["on_write"] == ["pyarrow"]
    assert loaded["unresolved"] == []
    assert loaded["on_use"] == ["av", "PIL", "pyarrow"], "the names that need them still load them"


#: Module names two packages share on purpose (none).
KNOWN_SHARED_NAMES: dict[str, set[str]] = {}


def test_no_two_packages_share_a_module_name():
    """A module's name says what it holds, so two packages never reuse one (``_report.py`` in two packages
    would mean two things); ``report.py`` and ``_report.py`` count as the same name."""
    by_name: dict[str, set[str]] = {}
    for mod, path in _modules().items():
        if path.stem not in ("__init__", "__main__"):
            by_name.setdefault(path.stem.lstrip("_"), set()).add(mod)
    shared = {name: mods for name, mods in by_name.items() if len(mods) > 1}
    assert shared == KNOWN_SHARED_NAMES


#: The pairs dataset's file names (Contract 2): only ``dybench.pairs`` spells them (``PairsDataset``).
PAIRS_FILE_NAMES = ("pairs.jsonl", "pairs.parquet", "manifest.json")
#: Other datasets' own ``videos`` folders, which are not a pairs dataset's: (file, literal).
OTHER_VIDEOS_FOLDERS = {
    ("dybench/evaluation/_docs.py", "videos"),  # TimeBlind's folder
    ("dybench/evaluation/_benchmarks.py", "videos"),  # TempCompass's folder
    ("dybench/evaluation/_locations.py", "videos/vid_XXXXX_{0,1}.mp4"),  # TimeBlind's layout
}


def _code_strings(tree: ast.AST):
    """Every string literal of a module that is not a docstring (f-strings' literal parts included)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def pairs_file_names_outside_pairs(repo: Path) -> list[str]:
    """``file:line: literal`` for each pairs file name spelled in code outside ``dybench/pairs/``."""
    roots = [repo / "dybench", repo / "tasks", repo / "leaderboard", repo / "benchmarks"]
    found = []
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        if rel.startswith("dybench/pairs/"):
            continue
        for lineno, text in sorted(_code_strings(ast.parse(path.read_text(encoding="utf-8")))):
            videos = text == "videos" or text.startswith("videos/")
            if any(name in text for name in PAIRS_FILE_NAMES) or (videos and (rel, text) not in OTHER_VIDEOS_FOLDERS):
                found.append(f"{rel}:{lineno}: {text!r:.80}")
    return found


def test_pairs_file_names_are_spelled_only_in_dybench_pairs(tmp_path):
    """Every package finds a pairs dataset's files through ``dybench.pairs.PairsDataset``."""
    assert pairs_file_names_outside_pairs(ROOT.parent) == []
    (tmp_path / "dybench" / "demo").mkdir(parents=True)
    (tmp_path / "dybench" / "demo" / "run.py").write_text(
        '"""Reads pairs.jsonl (a docstring may say so)."""\nPATH = f"{root}/pairs.jsonl"\nV = "videos/a.mp4"\n'
    )
    assert pairs_file_names_outside_pairs(tmp_path) == [
        "dybench/demo/run.py:2: '/pairs.jsonl'",
        "dybench/demo/run.py:3: 'videos/a.mp4'",
    ]
