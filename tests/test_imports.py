"""The package's imports, read with ``ast``: no cycles, nothing imports ``__main__``, and the
layers go one way.

Every ``import glow_tts.x`` / ``from glow_tts[.x] import y`` counts, also those inside
functions (a lazy import is still a dependency). A module may import modules of its own
layer or below, never above.
"""

from __future__ import annotations

import ast
import os

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "glow_tts")

# Layer of each module (a package such as text/ or corpus/ counts as one module).
# 0 text, audio, hparams, utils, errors, args (a leaf: imports nothing of glow_tts);
# 1 data (data_utils, corpus) and model (models and its parts, fast); 2 checkpoint, and
# launching (distributed); 3 train, init, inference; 4 demo, quality; 5 the command line.
LAYERS = {
    "glow_tts": 0, "glow_tts.errors": 0, "glow_tts.args": 0, "glow_tts.text": 0, "glow_tts.audio": 0,
    "glow_tts.hparams": 0, "glow_tts.utils": 0, "glow_tts.fonts": 0,
    "glow_tts.commons": 1, "glow_tts.monotonic_align": 1, "glow_tts.attentions": 1,
    "glow_tts.modules": 1, "glow_tts.models": 1, "glow_tts.fast": 1, "glow_tts.data_utils": 1,
    "glow_tts.corpus": 1,
    "glow_tts.checkpoint": 2, "glow_tts.distributed": 2,
    "glow_tts.train": 3, "glow_tts.init": 3, "glow_tts.inference": 3, "glow_tts.export": 3,
    "glow_tts.demo": 4, "glow_tts.quality": 4,
    "glow_tts.__main__": 5,
}


def unit_of(module: str) -> str:
    """``glow_tts.text.cleaners`` -> ``glow_tts.text``: the unit the layer table names."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-len(".py")]
    parts = rel.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: str, name: str) -> set[str]:
    """The glow_tts modules ``path`` imports (``from glow_tts import x`` names module x)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    is_package = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("glow_tts")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("glow_tts"):
                continue
            found.add(target)
            if target == "glow_tts" or not node.module:  # from glow_tts (or .) import commons
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def package_graph() -> dict[str, set[str]]:
    """unit -> units it imports (self-imports inside a package dropped)."""
    graph: dict[str, set[str]] = {}
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = module_name(path)
                unit = unit_of(name)
                deps = {unit_of(m) for m in imports_of(path, name)} - {unit, "glow_tts"}
                graph.setdefault(unit, set()).update(deps)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}   # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_walker_sees_imports_of_every_form(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import glow_tts.audio\nfrom glow_tts import commons, utils as u\n"
                      "from glow_tts.text.symbols import symbols\n"
                      "def f():\n    from glow_tts.train import main\n"
                      "from . import cleaners\nimport os\n")
    assert imports_of(str(source), "glow_tts.text.m") == {
        "glow_tts.audio", "glow_tts", "glow_tts.commons", "glow_tts.utils",
        "glow_tts.text.symbols", "glow_tts.train", "glow_tts.text",
        "glow_tts.text.cleaners"}


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    cycle = find_cycle(package_graph())
    assert cycle is None, " -> ".join(cycle)


def test_nothing_imports_main():
    importers = [unit for unit, deps in package_graph().items() if "glow_tts.__main__" in deps]
    assert importers == []


def test_every_module_has_a_layer():
    assert set(package_graph()) - set(LAYERS) == set()


def test_imports_go_down_the_layers():
    upward = [f"{unit} (layer {LAYERS[unit]}) imports {dep} (layer {LAYERS[dep]})"
              for unit, deps in sorted(package_graph().items()) for dep in sorted(deps)
              if LAYERS.get(dep, 99) > LAYERS.get(unit, -1)]
    assert upward == []
