"""What the HTTP benchmarks share: a fake Ollama in a process of its own, the server started the way
`make run` starts it (gunicorn + uvicorn workers), on a database and a Redis database of their own.

Not a benchmark (`make bench` skips the `_*.py` modules). Run as a script only by `FakeOllamaProcess`:

    python bench/_server.py --serve-fake-ollama --tokens 8 --token-delay 0 --lifetime 900
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_DATABASE_URL = "postgres://ollamanet:ollamanet@127.0.0.1:54329/ollamanet"
DEFAULT_REDIS_URL = "redis://127.0.0.1:63799/0"
LOOPBACK = "127.0.0.1"
MODEL = "llama3.2:3b"  # the fake Ollama's default model
SERVER_START_LIMIT = 60.0  # seconds for gunicorn to answer /health/live/
SERVER_STOP_LIMIT = 30.0
FAKE_START_LIMIT = 10.0
LOG_DIR = ROOT / ".local" / "bench"


# --- the fake Ollama, in a process of its own -------------------------------------------------------
def serve_fake_ollama(tokens: int, token_delay: float, lifetime: float) -> None:
    """Run the fake Ollama until stdin closes (the benchmark ended) or `lifetime` seconds pass.

    Prints its URL on the first line of stdout once it accepts connections.
    """
    sys.path.insert(0, str(ROOT))
    from http.server import ThreadingHTTPServer

    from tests.fakes import ollama

    class ManyClientsServer(ThreadingHTTPServer):
        # The standard listen backlog (5) drops connection attempts when hundreds arrive at once,
        # and a dropped SYN is retried a second later: that would be measured as time to first token.
        request_queue_size = 1024

        def get_request(self):
            # Ollama (Go's net/http) sends small writes at once; without TCP_NODELAY a write that
            # follows another unacknowledged one waits for the peer's delayed ACK (40 ms).
            connection, address = super().get_request()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

    ollama.ThreadingHTTPServer = ManyClientsServer  # type: ignore[misc]  # this process only
    reply = [f" word{i}" for i in range(tokens)]
    fake = ollama.FakeOllama(reply_tokens=reply, token_delay=token_delay)
    # Requests are kept for tests to inspect; a benchmark sends thousands, so keep none.
    fake.requests = _Discard()
    fake.start()
    print(fake.url, flush=True)
    stdin_closed = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stdin_closed.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    stdin_closed.wait(lifetime)
    fake.stop()


class _Discard(list):
    def append(self, item) -> None:
        pass


class FakeOllamaProcess:
    """The fake Ollama as a child process; `stop()` ends it (also when the benchmark dies: stdin closes)."""

    def __init__(self, *, tokens: int, token_delay: float, lifetime: float, log_path: Path) -> None:
        self._log = log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-fake-ollama",
                "--tokens",
                str(tokens),
                "--token-delay",
                str(token_delay),
                "--lifetime",
                str(lifetime),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,  # the standard server's tracebacks of connections reset by peers
            text=True,
        )
        self.url = self._read_url()

    def _read_url(self) -> str:
        found: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None  # a pipe
        reader = threading.Thread(target=lambda: found.append(stdout.readline().strip()))
        reader.start()
        reader.join(FAKE_START_LIMIT)
        if not found or not found[0].startswith(f"http://{LOOPBACK}:"):
            self.stop()
            raise SystemExit(f"the fake Ollama did not start within {FAKE_START_LIMIT:.0f} s")
        return found[0]

    def stop(self) -> None:
        assert self.process.stdin is not None  # a pipe
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


# --- the server, as `make run` starts it ---------------------------------------------------------------
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def settings_module() -> str:
    if (ROOT / "config" / "settings" / "local.py").exists():
        return "config.settings.local"
    return "config.settings.base"


def configure_environment(*, ollama_url: str, database: str, redis_db: int, key_prefix: str) -> None:
    """Environment of this process and of the server it starts (they must agree on keys and DB):
    `database` on the server of DATABASE_URL, Redis database `redis_db` for cache, throttles and
    broker, `DEBUG` off, the settings module `make run` uses, throttles that never refuse."""
    server_database = urlsplit(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    redis = urlsplit(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    redis_url = urlunsplit(redis._replace(path=f"/{redis_db}"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module(),
            "DATABASE_URL": urlunsplit(server_database._replace(path=f"/{database}")),
            "BENCH_DATABASE": database,
            "BENCH_ADMIN_DATABASE_URL": urlunsplit(server_database._replace(path="/postgres")),
            "REDIS_URL": redis_url,
            "CACHE_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CACHE_KEY_PREFIX": key_prefix,
            "DJANGO_DEBUG": "false",
            "OLLAMA_URL": ollama_url,
            # Throttling stays on (its Redis round trips are part of a request) but never refuses.
            "THROTTLE_CHAT": "100000/min",
            "THROTTLE_USER": "100000/min",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
    )
    sys.path.insert(0, str(ROOT))


def recreate_database() -> None:
    """Drop and create the benchmark's database (`configure_environment`); the caller migrates it."""
    import psycopg

    database = os.environ["BENCH_DATABASE"]
    with psycopg.connect(os.environ["BENCH_ADMIN_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for attempt in range(10):
            try:
                conn.execute(f'CREATE DATABASE "{database}"')
                return
            except psycopg.errors.ObjectInUse:  # someone else is copying template1 right now
                if attempt == 9:
                    raise
                time.sleep(1)


def create_model():
    """The fake Ollama's model in the catalogue, published and installed."""
    from models_app.models import AIModel

    return AIModel.objects.create(
        name=MODEL, family="llama", is_active=True, install_status=AIModel.InstallStatus.INSTALLED
    )


class Server:
    """gunicorn + uvicorn workers on a loopback port, output to a log file; `stop()` ends it."""

    def __init__(self, *, workers: int, port: int, log_path: Path) -> None:
        self.url = f"http://{LOOPBACK}:{port}"
        self.log_path = log_path
        self.metrics_dir = LOG_DIR / f"prometheus-{port}"
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        self._log = log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [
                str(VENV_BIN / "gunicorn"),
                "config.asgi:application",
                "-k",
                "config.workers.UvicornWorker",
                "-b",
                f"{LOOPBACK}:{port}",
                "-w",
                str(workers),
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + SERVER_START_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}); see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/live/", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer within {SERVER_START_LIMIT:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers' process ids (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in children.read_text().split()]
        return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn stops its workers gracefully on SIGTERM
            try:
                self.process.wait(SERVER_STOP_LIMIT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # its own session: master and workers
                self.process.wait(5)
        self._log.close()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


# --- reporting -----------------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def pool_description() -> str:
    from django.conf import settings

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if not isinstance(pool, dict):
        return f"DB pool {pool!r}"
    return f"DB pool max {pool.get('max_size')} per worker, timeout {pool.get('timeout')} s"


def main() -> None:
    parser = argparse.ArgumentParser(description="the fake Ollama of the HTTP benchmarks")
    parser.add_argument("--serve-fake-ollama", action="store_true")
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--lifetime", type=float, default=900.0)
    args = parser.parse_args()
    if args.serve_fake_ollama:
        serve_fake_ollama(args.tokens, args.token_delay, args.lifetime)


if __name__ == "__main__":
    main()
