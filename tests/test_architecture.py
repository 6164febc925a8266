"""Dependencies point one way: every import in the project's code (at the top of a module or inside a
function) goes to the same layer or a lower one, so there are no cycles between apps.

Layers, lowest first:

1. `core` — the kernel every app uses (models, API plumbing, audit recording, the Ollama client);
2. `auth_app` — accounts;
3. `models_app` — the catalogue;
4. `admin_app`'s platform rows: system messages, audit events, model pulls (models, selectors,
   services, tasks);
5. `conversations_app` — which picks system messages and models;
6. the staff facade: `admin_app.api`, `admin_app.admin`, `admin_app.demo_data`,
   `admin_app.management`, which read and write every app through its selectors and services;
7. `explore_app` — public reads composed from the catalogue and conversations; `gateway_app` — the
   Ollama- and OpenAI-compatible API for personal keys, recording chats through conversations.

Within an app, reads and writes never import the layers built on them: models, querysets, selectors and
services do not import the app's API, admin or tasks (a service queues a task by name).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("auth_app",),
    ("models_app",),
    ("admin_app",),
    ("conversations_app",),
    ("admin_app.api", "admin_app.admin", "admin_app.demo_data", "admin_app.management"),
    ("explore_app", "gateway_app"),
]
PACKAGES = {prefix.split(".")[0] for layer in LAYERS for prefix in layer}
FOUNDATION = {"models", "querysets", "selectors", "services"}
BUILT_ON_IT = {"api", "admin", "tasks", "management", "demo_data"}


def layer_of(module: str) -> int:
    """The index of the layer whose longest prefix matches `module`."""
    best, best_length = -1, -1
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in sorted(PACKAGES):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(module: str, path: Path) -> set[str]:
    """The project modules `module` imports, anywhere in its code."""
    found = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _within(module: str, parts: set[str]) -> bool:
    """Whether `module` is (in) one of an app's modules or packages named `parts`."""
    names = module.split(".")
    return len(names) > 1 and names[1] in parts


def test_imports_between_apps_point_downwards_only():
    upward = []
    for module, path in project_modules().items():
        own = layer_of(module)
        for imported in imports_of(module, path):
            if layer_of(imported) > own:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_reads_and_writes_do_not_import_what_is_built_on_them():
    backwards = []
    for module, path in project_modules().items():
        if not _within(module, FOUNDATION) or _within(module, BUILT_ON_IT):
            continue
        app = module.split(".")[0]
        for imported in imports_of(module, path):
            if imported.split(".")[0] == app and _within(imported, BUILT_ON_IT):
                backwards.append(f"{module} imports {imported}")
    assert backwards == []


def test_the_check_sees_an_upward_import(tmp_path):
    # given: a module of the kernel importing an app (as core/ must never do)
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from conversations_app.services import exchange_start\n")

    # then: the import is found, and it points upwards
    imported = imports_of("core.probe", path)
    assert "conversations_app.services.exchange_start" in imported
    assert layer_of("conversations_app.services") > layer_of("core.probe")
