"""`make run`'s bootstrap (scripts/dev.sh), the parts that decide which services it uses: the port check
works before any Python package is installed, and moved ports are remembered in .env for manage.py,
Celery and the next run, without touching what was written there by hand."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "dev.sh"
BEGIN = "# >>> written by make run: the moved ports of the local PostgreSQL / Redis (.local/) >>>"
END = "# <<< written by make run <<<"


def run_sourced(commands: str, *, path: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """Source the script (which then only defines its functions) and run `commands` with them."""
    environment = {"PATH": path or os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", f'source "{SCRIPT}"\n{commands}'],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bin_without_python(tmp_path) -> str:
    """A PATH holding the shell tools the script needs and no Python at all (a first run)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("bash", "timeout", "dirname", "awk", "sed", "cat", "grep"):
        (directory / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    return str(directory)


def test_the_port_check_works_without_python(bin_without_python):
    # given: one port listening, one not
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # reserved, not listening
        busy, free = listening.getsockname()[1], closed.getsockname()[1]

        # when
        result = run_sourced(
            f"PY=/nonexistent/python; port_in_use {busy} && echo busy; port_in_use {free} || echo free",
            path=bin_without_python,
        )

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["busy", "free"]


def remember(env_file: Path, *, pg_port: int, redis_port: int) -> subprocess.CompletedProcess:
    return run_sourced(
        f"ENV_FILE={env_file}; LOCAL_POSTGRES=1; LOCAL_REDIS=1; PG_PORT={pg_port}; REDIS_PORT={redis_port}\n"
        f"DATABASE_URL=postgres://ollamanet:ollamanet@127.0.0.1:{pg_port}/ollamanet\n"
        f"REDIS_URL=redis://127.0.0.1:{redis_port}/0\n"
        "remember_ports"
    )


def test_moved_ports_are_written_to_env_beside_what_was_written_by_hand(tmp_path):
    # given
    env_file = tmp_path / ".env"
    env_file.write_text('OLLAMA_URL="http://gpu-1:11434"\nSECRET_KEY=kept\n')

    # when
    result = remember(env_file, pg_port=54349, redis_port=63819)

    # then
    assert result.returncode == 0, result.stderr
    assert env_file.read_text().splitlines() == [
        'OLLAMA_URL="http://gpu-1:11434"',
        "SECRET_KEY=kept",
        BEGIN,
        "OLLAMANET_PG_PORT=54349",
        "DATABASE_URL=postgres://ollamanet:ollamanet@127.0.0.1:54349/ollamanet",
        "OLLAMANET_REDIS_PORT=63819",
        "REDIS_URL=redis://127.0.0.1:63819/0",
        END,
    ]

    # and: moved again, the block is replaced, not repeated
    remember(env_file, pg_port=54359, redis_port=63799)
    lines = env_file.read_text().splitlines()
    assert lines.count(BEGIN) == 1
    assert "OLLAMANET_PG_PORT=54359" in lines
    assert not [line for line in lines if "REDIS" in line]


def test_back_on_the_default_ports_the_block_goes(tmp_path):
    env_file = tmp_path / ".env"
    remember(env_file, pg_port=54349, redis_port=63819)
    assert env_file.exists()

    remember(env_file, pg_port=54329, redis_port=63799)

    assert not env_file.exists()  # it held nothing else


def test_the_next_run_uses_the_remembered_ports_but_not_as_outside_services(tmp_path):
    # given: a previous run moved the ports; a DATABASE_URL written by hand would mean an outside server
    env_file = tmp_path / ".env"
    remember(env_file, pg_port=54349, redis_port=63819)

    # when: read back as the script does at its start
    result = run_sourced(
        f"ENV_FILE={env_file}\n"
        'echo "$(dotenv_value OLLAMANET_PG_PORT own) $(dotenv_value OLLAMANET_REDIS_PORT own)"\n'
        'echo "[$(dotenv_value DATABASE_URL)] [$(dotenv_value REDIS_URL)]"'
    )

    # then: the ports are reused, and the local cluster is still started (the URLs are its own)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["54349 63819", "[] []"]


def test_values_written_by_hand_are_read_quoted_or_exported(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "export DATABASE_URL='postgres://app@db.internal/app'\nREDIS_URL=\"redis://cache:6379/1\"\n"
    )

    result = run_sourced(
        f'ENV_FILE={env_file}; echo "$(dotenv_value DATABASE_URL) $(dotenv_value REDIS_URL)"'
    )

    assert result.stdout.split() == ["postgres://app@db.internal/app", "redis://cache:6379/1"]
