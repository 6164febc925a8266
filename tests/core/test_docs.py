"""The documentation stays true: the ER diagram lists every model and foreign key, and the README
documents every environment variable the settings read."""

import re
from pathlib import Path

from django.apps import apps
from django.db import models

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ("auth_app", "models_app", "conversations_app", "admin_app", "explore_app")


def _mermaid_entities() -> dict[str, str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
    return dict(re.findall(r"^\s{4}(\w+) \{\n(.*?)\n\s{4}\}", diagram, re.M | re.S))


def test_er_diagram_has_every_model_and_foreign_key():
    entities = _mermaid_entities()
    for app in PROJECT_APPS:
        for model in apps.get_app_config(app).get_models():
            assert model.__name__ in entities, f"{model.__name__} missing from the ER diagram"
            columns = {line.split()[1] for line in entities[model.__name__].splitlines() if line.strip()}
            for field in model._meta.concrete_fields:
                if isinstance(field, models.ForeignKey):
                    assert field.attname in columns, (
                        f"{model.__name__}.{field.attname} missing from the diagram"
                    )


def test_readme_documents_every_environment_variable():
    readme = (ROOT / "README.md").read_text()
    names = set()
    for path in (ROOT / "config").rglob("*.py"):
        names |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text()))
    names |= set(
        re.findall(r"\$\{(OLLAMANET_[A-Z_]+|WEB_CONCURRENCY)", (ROOT / "scripts" / "dev.sh").read_text())
    )
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == []
