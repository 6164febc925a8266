"""Clients generated from the OpenAPI schema work: the Python client of `openapi-python-client` (the
generator Python integrators reach for first) imports, every module of it, and registers, signs in
and starts a conversation against the API served on loopback; the TypeScript types of
`openapi-typescript` compile with `tsc` (clients/typescript, when node and npm are installed).

The schema must give each operation one request media type (JSON, or multipart where a file is
uploaded): with two, the generator writes modules that fail at import.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from django.core.management import call_command

from auth_app.models import User
from conversations_app.models import Conversation
from tests.models_app.factories import AIModelFactory

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "ollamanet_client"
TYPESCRIPT = Path(__file__).resolve().parent.parent / "clients" / "typescript"


def schema_document(directory: Path) -> dict:
    path = directory / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(path))
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory, django_db_blocker) -> Iterator[ModuleType]:
    """The package generated from the schema, imported with all its modules."""
    root = tmp_path_factory.mktemp("generated")
    with django_db_blocker.unblock():
        schema_document(root)
    (root / "config.yaml").write_text("post_hooks: []\n")  # no formatter run on the output
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(root / "schema.json"),
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(root / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module(PACKAGE)
        for module in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
            importlib.import_module(module.name)
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(name: str) -> ModuleType:
    tag = name.split("_")[0]
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def test_every_operation_takes_one_request_media_type(tmp_path, db):
    schema = schema_document(tmp_path)

    media_types = {
        f"{method.upper()} {path}": sorted(operation["requestBody"]["content"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    }

    for upload in (
        "POST /api/v1/conversations/{conversation_id}/attachments/",
        "POST /api/v1/conversations/import/",
    ):
        assert media_types.pop(upload) == ["multipart/form-data"]
    assert media_types
    assert {key: types for key, types in media_types.items() if types != ["application/json"]} == {}


def test_every_generated_module_imports(generated_client):
    assert {module.name for module in pkgutil.iter_modules(generated_client.api.__path__)} >= {
        "auth",
        "conversations",
        "explore",
        "admin",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_generated_client_registers_signs_in_and_starts_a_conversation(generated_client, live_server):
    # given: a published model, and the generated client pointed at the served API
    model = AIModelFactory(is_active=True, name="llama3.2:3b")
    models = generated_client.models
    anonymous = generated_client.Client(base_url=live_server.url, raise_on_unexpected_status=True)

    # when: registering
    registered = operation("auth_register_create").sync_detailed(
        client=anonymous,
        body=models.RegisterRequest(username="ada", email="ada@example.com", password="a-long-passphrase"),
    )
    # then
    assert registered.status_code == 201, registered.content
    assert isinstance(registered.parsed, models.AuthSession)
    assert registered.parsed.user.username == "ada"

    # when: signing in with the e-mail address, as other JWT clients send it
    signed_in = operation("auth_login_create").sync_detailed(
        client=anonymous, body=models.LoginRequest(email="ada@example.com", password="a-long-passphrase")
    )
    # then
    assert signed_in.status_code == 200, signed_in.content
    session = signed_in.parsed
    assert isinstance(session, models.AuthSession)

    # when: starting a conversation with the model named as Ollama names it
    client = generated_client.AuthenticatedClient(
        base_url=live_server.url, token=session.access, raise_on_unexpected_status=True
    )
    created = operation("conversations_create").sync_detailed(
        client=client, body=models.ConversationCreateRequest(model="llama3.2:3b", title="First steps")
    )
    # then
    assert created.status_code == 201, created.content
    conversation = created.parsed
    assert isinstance(conversation, models.Conversation)
    assert (conversation.title, str(conversation.model)) == ("First steps", str(model.pk))

    # and it is listed, and stored for the new account
    listed = operation("conversations_list").sync(client=client)
    assert [str(item.id) for item in listed.results] == [str(conversation.id)]
    stored = Conversation.objects.get(pk=conversation.id)
    assert stored.owner == User.objects.get(username="ada")


def run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_typescript_types_generated_from_the_schema_compile(tmp_path, db):
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip("node and npm are not installed: the TypeScript types are not checked")
    bin_dir = TYPESCRIPT / "node_modules" / ".bin"
    if not (bin_dir / "tsc").exists() or not (bin_dir / "openapi-typescript").exists():
        run([npm, "ci", "--no-audit", "--no-fund"], cwd=TYPESCRIPT)
    # given: the generated types beside code that uses them, as a front end would
    schema_document(tmp_path)
    for name in ("usage.ts", "tsconfig.json"):
        shutil.copy(TYPESCRIPT / name, tmp_path / name)

    # when / then
    run(
        [
            str(bin_dir / "openapi-typescript"),
            str(tmp_path / "schema.json"),
            "--default-non-nullable",
            "false",  # a field with a default is optional in a request
            "-o",
            str(tmp_path / "schema.d.ts"),
        ],
        cwd=tmp_path,
    )
    run([str(bin_dir / "tsc"), "-p", str(tmp_path / "tsconfig.json")], cwd=tmp_path)
