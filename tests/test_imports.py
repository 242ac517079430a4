"""Import hygiene: no import cycle among the project's modules, every module imports first in a fresh
interpreter, and lab/ never imports agents/, envs/ or generators/."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lab", "agents", "envs", "generators")
OLD_PATHS = ("lab.train", "lab.sweep", "lab.jobs")
"""Thin re-exports kept for code written against the old layout; the project itself does not import them."""


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path, name: str, *, module_level: bool) -> set[str]:
    """Project modules ``name`` imports (only those run at import time when ``module_level``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                submodules = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()  # `from pkg import module`
                out.update(submodules)
                if len(submodules) < len(node.names):  # names defined by `base` itself
                    out.add(base)
            elif module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            elif module_level and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            elif module_level and isinstance(node, ast.ClassDef):
                visit([n for n in node.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))])
            else:
                visit([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])

    visit(tree.body)
    return {m for m in out if m in MODULES and m != name}


def test_no_import_cycle_among_project_modules():
    graph = {name: _imports(path, name, module_level=True) for name, path in MODULES.items()}
    cycles, state = [], {}

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [node, nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                dfs(nxt, [*stack, node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            dfs(name, [])
    assert not cycles, "import cycles (module level):\n" + "\n".join(cycles)


def test_lab_imports_no_plugin_package():
    for name, path in MODULES.items():
        if name.split(".")[0] == "lab":
            bad = sorted(m for m in _imports(path, name, module_level=False) if m.split(".")[0] != "lab")
            assert not bad, f"{path.relative_to(ROOT)} imports {', '.join(bad)}: lab/ meets plugins in the registry"


def test_the_project_does_not_use_the_old_import_paths():
    for name, path in MODULES.items():
        if name in OLD_PATHS:
            continue
        old = sorted(_imports(path, name, module_level=False) & set(OLD_PATHS))
        assert not old, f"{path.relative_to(ROOT)} imports {', '.join(old)}; use lab.training, lab.sweeps, lab.scheduler"
    for folder in ("tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == Path(__file__).name:
                continue
            text = path.read_text(encoding="utf-8")
            for old in OLD_PATHS:
                assert f"from {old} import" not in text and f"import {old}\n" not in text, f"{path} imports {old}"


FRESH = r"""
import importlib, json, sys, traceback
project = {"lab", "agents", "envs", "generators"}
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m.split(".")[0] in project]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException as e:
        failed[name] = "".join(traceback.format_exception_only(type(e), e)).strip()
print(json.dumps(failed))
"""


def test_every_module_imports_first_in_a_fresh_interpreter():
    # Each module is imported with no project module loaded before it (third-party ones stay cached, for
    # speed): a module that works only when some other project module was imported first fails here.
    names = sorted(MODULES)
    proc = subprocess.run([sys.executable, "-c", FRESH, json.dumps(names)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{name}: {error}" for name, error in failed.items())


def test_old_import_paths_still_re_export():
    import lab.evaluation
    import lab.jobs
    import lab.scheduler
    import lab.sweep
    import lab.sweeps
    import lab.train
    import lab.training

    assert lab.train.train is lab.training.train and lab.train.resolve_config is lab.training.resolve_config
    assert lab.sweep.run_sweep is lab.sweeps.run_sweep and lab.jobs.Scheduler is lab.scheduler.Scheduler
    assert lab.evaluation.evaluate_run is lab.training.evaluate_run
