"""The client's layout stays readable: no import circles, no long module without a reason."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[3] / "client"
PACKAGES = ("campaigndb", "campaigndb_dev")
MAX_LINES = 350


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (CLIENT / package).rglob("*.py"):
            parts = list(path.relative_to(CLIENT).with_suffix("").parts)
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """What a module imports at run time (lazy imports included; those under `if
    TYPE_CHECKING:` and packages' __init__ left out, as the import_cycles tool does)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for branch in ast.walk(tree)
               if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
               for node in ast.walk(branch)}
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + [base])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t.removesuffix(".__init__") for t in targets
            if t in modules and t != name and modules[t].name != "__init__.py"}


def test_no_import_circles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_the_check_sees_a_circle() -> None:
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())


@pytest.mark.parametrize("name", sorted(_modules()))
def test_long_modules_say_why_at_the_top(name: str) -> None:
    text = _modules()[name].read_text()
    if len(text.splitlines()) > MAX_LINES:
        head = ast.get_docstring(ast.parse(text)) or ""
        assert "long because" in head, f"{name}: over {MAX_LINES} lines without a reason"


def test_the_runtime_package_never_imports_the_development_kit() -> None:
    for name, path in _modules().items():
        if name.startswith("campaigndb."):
            imported = _imports(name, path, _modules())
            assert not any(t.startswith("campaigndb_dev") for t in imported), name
