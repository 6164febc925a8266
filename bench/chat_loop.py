"""The chat loop over HTTP (SPEC §7): each workload against the served app, beside its raw
floor, in one run.

    .venv/bin/python bench/chat_loop.py [--rounds 30] [--time-limit 200]
    .venv/bin/python bench/chat_loop.py --profile read-2000 [--rounds 15]   # py-spy on the worker

- Starts a fake Ollama (`tests/fakes/ollama.py`, the real NDJSON protocol; 8 tokens, no delay) in a
  process of its own and the server the way `make run` does (gunicorn, uvicorn worker, `DEBUG` off)
  with ONE worker, on a database of its own (`bench_ollamanet_chat_loop`, dropped, created and
  migrated on each run) and Redis database 3. Loopback only; both are stopped however the run ends.
- Seeds with bulk inserts: one user with six conversations (branches of 10, 200 and 2,000 exchanges
  to read, and three more of the same lengths to send to) and one user with 1,000 conversations of 10
  exchanges (20,000 messages) to list and search, texts drawn from 3,000 Zipf-weighted prompts and
  answers (bench/_text.py). Each exchange's parent is the one before, position = depth, the
  conversation's current exchange is the leaf, messages carry their owner (written at insert, so the
  owner-copying trigger is off while the exchanges are inserted), then VACUUM ANALYZE.
- Then rounds (default 30, at most `--time-limit` seconds, after 2 warm-up rounds), each doing every
  workload once through OllamaNet and once its floor, in alternating order:
    read-N    GET /api/v1/conversations/{id}/messages/?page_size=2000 (the whole branch, gzip accepted,
              timed to the last byte) | floor: the same rows with plain psycopg (one statement, a
              connection kept open) + orjson.dumps
    send-N    POST .../messages/ not streamed (201 with the stored exchange) | floor: the same answer
              from the fake Ollama directly (POST /api/chat, the history OllamaNet sent, not streamed)
    ttft-N    POST .../messages/ streamed, time to the first `event: token` | floor: time to the fake
              Ollama's first piece of text, streamed, same history
    list      GET /api/v1/conversations/?page_size=60 (of 1,000) | floor: the same 60 rows + orjson
    search    GET /api/v1/conversations/search/?q=...&limit=20 over 20,000 messages, 12 queries in turn
              | floor: the app's own search statement with psycopg + orjson
  After each send the conversation's current exchange is set back to its seeded leaf, so every send
  is at N prior exchanges (the sent exchanges stay, as siblings).
Prints medians (search: p50 and p95), OllamaNet ÷ floor for the reads, what OllamaNet adds for the
sends, and its goal beside each row.

`--profile ROW` runs only that row (and its floor) with py-spy (`pip install py-spy`; found on PATH or
in $PY_SPY) sampling the worker for the measured rounds, and prints the functions taking most of
the worker's samples (inclusive and self); the raw stacks go to `.local/bench/`.
"""

from __future__ import annotations

import argparse
import builtins
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from _floor import BRANCH_SQL, CONVERSATION_PAGE_SQL
from _server import (
    LOG_DIR,
    MODEL,
    FakeOllamaProcess,
    Server,
    configure_environment,
    create_model,
    ms,
    percentile,
    recreate_database,
    unused_port,
)
from _text import QUERIES, sentence, zipf_weights

BENCH_DATABASE = "bench_ollamanet_chat_loop"
BENCH_REDIS_DB = 3
SIZES = (10, 200, 2_000)
LIST_CONVERSATIONS, LIST_EXCHANGES, LIST_PAGE = 1_000, 10, 60  # 1,000 x 10 exchanges = 20,000 messages
SEARCH_PAGE = 20
TEXTS = 3_000  # distinct prompts and answers the messages are drawn from
EXCHANGES = "conversations_app_conversationpromptresponse"
WARMUP_ROUNDS = 2
MIN_ROUNDS = 25
X = "\u00d7"  # the multiplication sign of the report
REQUEST_TIMEOUT = 30.0
PROFILE_STOP_LIMIT = 30.0
PROMPT = "And what about the python error in the database server, step by step?"
# Goals (SPEC §7): reads as OllamaNet ÷ floor, sends as milliseconds added over Ollama's own time.
READ_GOALS = {10: 10.0, 200: 4.0, 2_000: 3.0}
LIST_GOAL = 3.0
SEND_ADDED_GOAL_MS = 10.0
SEND_GROWTH_GOAL = 1.2
SEARCH_P50_GOAL_MS = 30.0


# --- seeding -------------------------------------------------------------------------------------------
def seed_conversations(*, owner, model, lengths: list[int], rng: random.Random) -> list:
    """Conversations of `owner` with one branch of `lengths[i]` answered exchanges each, in bulk:
    the chain parent -> child with position = depth, the leaf current, the owner on every message;
    last activity one minute apart (the first most recent)."""
    from django.db import connection
    from django.utils import timezone

    from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt

    weights = zipf_weights()
    # Distinct texts to draw from: writing a sentence per message would cost more than inserting it.
    questions = [sentence(rng, weights, rng.randint(8, 30)) for _ in range(TEXTS)]
    answers = [
        " ".join(sentence(rng, weights, rng.randint(10, 25)) for _ in range(rng.randint(2, 6)))
        for _ in range(TEXTS)
    ]
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        (
            Conversation(
                owner=owner,
                model=model,
                model_name=model.name,
                title=sentence(rng, weights, 6)[:60],
                last_message_at=now - timedelta(minutes=i),
                message_count=length,
            )
            for i, length in enumerate(lengths)
        ),
        batch_size=1000,
    )
    prompts, responses, exchanges = [], [], []
    for conversation, length in zip(conversations, lengths, strict=True):
        parent = None
        for position in range(length):
            prompt = Prompt(content=rng.choice(questions), owner=owner)
            response = AIResponse(
                content=rng.choice(answers),
                model_name=model.name,
                status=AIResponse.Status.COMPLETE,
                done_reason="stop",
                completed_at=now,
                eval_count=120,
                prompt_eval_count=30,
                owner=owner,
            )
            parent = ConversationPromptResponse(
                conversation=conversation, prompt=prompt, response=response, parent=parent, position=position
            )
            prompts.append(prompt)
            responses.append(response)
            exchanges.append(parent)
        conversation.current_exchange = parent
    Prompt.objects.bulk_create(prompts, batch_size=2000)
    AIResponse.objects.bulk_create(responses, batch_size=2000)
    # The messages carry their owner already: the trigger that would copy it finds nothing to do.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {EXCHANGES} DISABLE TRIGGER conv_exchange_message_owner")
        try:
            ConversationPromptResponse.objects.bulk_create(exchanges, batch_size=2000)
        finally:
            cursor.execute(f"ALTER TABLE {EXCHANGES} ENABLE TRIGGER conv_exchange_message_owner")
    Conversation.objects.bulk_update(conversations, ["current_exchange"], batch_size=1000)
    return conversations


@dataclass
class Plan:
    """What the rounds need: ids, leaves and access tokens."""

    chat_token: str
    chat_user: str
    read: dict[int, tuple[str, str]]  # size -> (conversation id, leaf id)
    send: dict[int, tuple[str, str]]
    list_token: str
    list_user: str


def seed(rng: random.Random) -> Plan:
    from django.contrib.auth import get_user_model
    from django.db import connection, connections
    from rest_framework_simplejwt.tokens import RefreshToken

    model = create_model()
    users = []
    for name in ("reader", "lister"):
        user = get_user_model()(username=name, email=f"{name}@example.com")
        user.set_unusable_password()
        user.save()
        users.append(user)
    chat_user, list_user = users
    chats = seed_conversations(owner=chat_user, model=model, lengths=[*SIZES, *SIZES], rng=rng)
    seed_conversations(owner=list_user, model=model, lengths=[LIST_EXCHANGES] * LIST_CONVERSATIONS, rng=rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    def ids(conversation) -> tuple[str, str]:
        return str(conversation.pk), str(conversation.current_exchange_id)

    plan = Plan(
        chat_token=str(RefreshToken.for_user(chat_user).access_token),
        chat_user=str(chat_user.pk),
        read={size: ids(c) for size, c in zip(SIZES, chats[:3], strict=True)},
        send={size: ids(c) for size, c in zip(SIZES, chats[3:], strict=True)},
        list_token=str(RefreshToken.for_user(list_user).access_token),
        list_user=str(list_user.pk),
    )
    connections.close_all()  # this process holds no Django connection while the server is measured
    return plan


# --- the workloads -------------------------------------------------------------------------------------
@dataclass
class Row:
    """One workload: OllamaNet's samples and its floor's, in seconds."""

    name: str
    label: str
    ours: Callable[[], float]
    floor: Callable[[], float]
    ours_samples: list[float] = field(default_factory=list)
    floor_samples: list[float] = field(default_factory=list)


class Bench:
    def __init__(self, plan: Plan, server_url: str, ollama_url: str) -> None:
        import httpx
        import psycopg
        from psycopg.rows import dict_row

        self.plan = plan
        self.api = f"{server_url}/api/v1/conversations"
        self.ollama_url = ollama_url
        timeout = httpx.Timeout(REQUEST_TIMEOUT)
        self.client = httpx.Client(timeout=timeout, headers={"Accept-Encoding": "gzip"})
        self.ollama = httpx.Client(timeout=timeout)
        # The floor's connection, kept open as a server's pool keeps its connections.
        self.db = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row)
        self.direct_messages: dict[int, list[dict[str, str]]] = {}
        self.search_turn = 0
        self.body_sizes: dict[str, tuple[int, int]] = {}  # row -> (JSON bytes, bytes on the wire)

    def close(self) -> None:
        self.client.close()
        self.ollama.close()
        self.db.close()

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    # GET through OllamaNet, timed to the last byte of the body as sent (not decompressed).
    def _get(self, url: str, token: str) -> float:
        started = time.perf_counter()
        with self.client.stream("GET", url, headers=self.auth(token)) as response:
            for _chunk in response.iter_raw():
                pass
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: HTTP {response.status_code}")
        return elapsed

    def _floor(self, sql: str, params: dict) -> float:
        import orjson

        started = time.perf_counter()
        rows = self.db.execute(sql, params).fetchall()
        orjson.dumps(rows)
        return time.perf_counter() - started

    def read_url(self, size: int) -> str:
        return f"{self.api}/{self.plan.read[size][0]}/messages/?page_size=2000"

    def read(self, size: int) -> float:
        return self._get(self.read_url(size), self.plan.chat_token)

    def read_floor(self, size: int) -> float:
        leaf = self.plan.read[size][1]
        return self._floor(BRANCH_SQL, {"leaf": leaf, "user": self.plan.chat_user, "limit": size + 1})

    def list_url(self) -> str:
        return f"{self.api}/?page_size={LIST_PAGE}"

    def list(self) -> float:
        return self._get(self.list_url(), self.plan.list_token)

    def list_floor(self) -> float:
        return self._floor(CONVERSATION_PAGE_SQL, {"owner": self.plan.list_user, "limit": LIST_PAGE + 1})

    def search_query(self) -> str:
        return QUERIES[self.search_turn % len(QUERIES)][1]

    def search(self) -> float:
        from urllib.parse import quote

        url = f"{self.api}/search/?q={quote(self.search_query())}&limit={SEARCH_PAGE}"
        return self._get(url, self.plan.list_token)

    def search_floor(self) -> float:
        from types import SimpleNamespace

        from conversations_app.selectors.search import message_search_statement

        owner = SimpleNamespace(pk=self.plan.list_user)
        sql, params = message_search_statement(
            owner=owner,  # type: ignore[arg-type]  # only its pk is read
            query=self.search_query(),
            limit=SEARCH_PAGE,
        )
        elapsed = self._floor(sql, params)
        self.search_turn += 1  # the floor runs second or first: the pair shares one query either way
        return elapsed

    # Sends. After each one the conversation's current exchange goes back to the seeded leaf.
    def _rewind(self, size: int) -> None:
        conversation, leaf = self.plan.send[size]
        self.db.execute(
            "UPDATE conversations_app_conversation SET current_exchange_id = %s WHERE id = %s",
            (leaf, conversation),
        )

    def send(self, size: int) -> float:
        url = f"{self.api}/{self.plan.send[size][0]}/messages/"
        started = time.perf_counter()
        response = self.client.post(
            url, json={"content": PROMPT, "stream": False}, headers=self.auth(self.plan.chat_token)
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise SystemExit(f"POST {url}: HTTP {response.status_code} {response.text[:200]}")
        self._rewind(size)
        return elapsed

    def ttft(self, size: int) -> float:
        url = f"{self.api}/{self.plan.send[size][0]}/messages/"
        headers = {**self.auth(self.plan.chat_token), "Accept": "text/event-stream"}
        first = outcome = None
        started = time.perf_counter()
        with self.client.stream("POST", url, json={"content": PROMPT, "stream": True}, headers=headers) as r:
            for line in r.iter_lines():
                if line == "event: token" and first is None:
                    first = time.perf_counter() - started
                elif line in ("event: done", "event: error"):
                    outcome = line[7:]
        if r.status_code != 200 or outcome != "done" or first is None:
            raise SystemExit(f"streamed POST {url}: HTTP {r.status_code}, ended with {outcome}")
        self._rewind(size)
        return first

    def learn_direct_messages(self, size: int) -> None:
        """The history OllamaNet sent for a message at `size` exchanges (its last prompt says how many
        exchanges were left out), rebuilt for the direct requests to the fake Ollama."""
        conversation, _leaf = self.plan.send[size]
        omitted = self.db.execute(
            "SELECT p.history_omitted FROM conversations_app_conversationpromptresponse e"
            " JOIN conversations_app_prompt p ON p.id = e.prompt_id"
            " WHERE e.conversation_id = %s AND e.position = %s ORDER BY e.created_at DESC LIMIT 1",
            (conversation, size),
        ).fetchone()["history_omitted"]  # type: ignore[index]  # the exchange was just sent
        turns = self.db.execute(
            "SELECT p.content AS prompt, r.content AS answer"
            " FROM conversations_app_conversationpromptresponse e"
            " JOIN conversations_app_prompt p ON p.id = e.prompt_id"
            " JOIN conversations_app_airesponse r ON r.id = e.response_id"
            " WHERE e.conversation_id = %s AND e.position >= %s AND e.position < %s ORDER BY e.position",
            (conversation, omitted, size),
        ).fetchall()
        messages = []
        for turn in turns:
            messages.append({"role": "user", "content": turn["prompt"]})
            messages.append({"role": "assistant", "content": turn["answer"]})
        self.direct_messages[size] = [*messages, {"role": "user", "content": PROMPT}]

    def direct(self, size: int) -> float:
        body = {"model": MODEL, "messages": self.direct_messages[size], "stream": False}
        started = time.perf_counter()
        response = self.ollama.post(f"{self.ollama_url}/api/chat", json=body)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"fake Ollama: HTTP {response.status_code}")
        return elapsed

    def direct_ttft(self, size: int) -> float:
        import orjson

        body = {"model": MODEL, "messages": self.direct_messages[size], "stream": True}
        first = None
        started = time.perf_counter()
        with self.ollama.stream("POST", f"{self.ollama_url}/api/chat", json=body) as response:
            for line in response.iter_lines():
                if line and first is None and orjson.loads(line).get("message", {}).get("content"):
                    first = time.perf_counter() - started
        if response.status_code != 200 or first is None:
            raise SystemExit(f"fake Ollama, streamed: HTTP {response.status_code}")
        return first

    def rows(self) -> builtins.list[Row]:  # `list` is a method of this class
        kinds = (
            ("read", "read a chat of {:,} exchanges (one request)", self.read, self.read_floor),
            ("send", "send a message at {:,} exchanges, not streamed", self.send, self.direct),
            (
                "ttft",
                "send a message at {:,} exchanges, streamed: time to first token",
                self.ttft,
                self.direct_ttft,
            ),
        )
        rows = [
            Row(f"{name}-{size}", label.format(size), partial(ours, size), partial(floor, size))
            for name, label, ours, floor in kinds
            for size in SIZES
        ]
        listing = f"list conversations, page of {LIST_PAGE} of {LIST_CONVERSATIONS:,}"
        rows.append(Row("list", listing, self.list, self.list_floor))
        rows.append(
            Row(
                "search",
                f"search {LIST_CONVERSATIONS * LIST_EXCHANGES * 2:,} messages ({len(QUERIES)} queries)",
                self.search,
                self.search_floor,
            )
        )
        return rows

    def measure_sizes(self) -> None:
        """Bytes of each read's JSON and of what went on the wire (gzip), once, for the report."""
        for name, url, token in [
            *((f"read-{s}", self.read_url(s), self.plan.chat_token) for s in SIZES),
            ("list", self.list_url(), self.plan.list_token),
        ]:
            response = self.client.get(url, headers=self.auth(token))
            wire = int(response.headers.get("Content-Length") or len(response.content))
            self.body_sizes[name] = (len(response.content), wire)
            results = response.json()["results"]
            expected = LIST_PAGE if name == "list" else int(name.split("-")[1])
            if len(results) != expected:
                raise SystemExit(f"{name}: {len(results)} results, expected {expected}")


def run_rounds(rows: list[Row], rounds: int, time_limit: float, on_measure_start=None) -> int:
    """Warm-up rounds, then up to `rounds` measured ones within `time_limit` seconds; each round does
    every row's request and its floor, the order of the two alternating. Returns the rounds done."""
    for _ in range(WARMUP_ROUNDS):
        for row in rows:
            row.ours()
            row.floor()
    if on_measure_start:
        on_measure_start()
    deadline = time.monotonic() + time_limit
    done = 0
    while done < rounds and time.monotonic() < deadline:
        for row in rows:
            if done % 2 == 0:
                row.ours_samples.append(row.ours())
                row.floor_samples.append(row.floor())
            else:
                row.floor_samples.append(row.floor())
                row.ours_samples.append(row.ours())
        done += 1
    return done


# --- the report ----------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report(rows: dict[str, Row], bench: Bench, rounds: int) -> list[str]:
    lines = [
        "| workload | OllamaNet median (ms) | floor median (ms) | OllamaNet ÷ floor | added over Ollama (ms) "
        "| goal | |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    med = {name: statistics.median(row.ours_samples) for name, row in rows.items() if row.ours_samples}
    floor = {name: statistics.median(row.floor_samples) for name, row in rows.items() if row.floor_samples}
    for name, row in rows.items():
        if name not in med:
            continue
        ours, base = med[name], floor[name]
        if name.startswith("read-") or name == "list":
            goal = READ_GOALS[int(name[5:])] if name.startswith("read-") else LIST_GOAL
            ratio = ours / base
            lines.append(
                f"| {row.label} | {ms(ours)} | {ms(base)} | {ratio:.1f}{X} | | ≤ {goal:g}{X} floor "
                f"| {verdict(ratio <= goal)} |"
            )
        elif name == "search":
            p50, p95 = percentile(row.ours_samples, 50), percentile(row.ours_samples, 95)
            assert p50 is not None  # samples were taken
            lines.append(
                f"| {row.label} | {ms(ours)} (p95 {ms(p95)}) | {ms(base)} | {ours / base:.1f}{X} | "
                f"| p50 ≤ {SEARCH_P50_GOAL_MS:g} ms | {verdict(p50 * 1000 <= SEARCH_P50_GOAL_MS)} |"
            )
        else:
            added = (ours - base) * 1000
            goal_text = f"≤ {SEND_ADDED_GOAL_MS:g} ms added"
            ok = added <= SEND_ADDED_GOAL_MS
            if name in ("send-2000", "ttft-2000") and f"{name[:4]}-10" in med:
                growth = ours / med[f"{name[:4]}-10"]
                goal_text += f"; {growth:.2f}{X} the cost at 10 (≤ {SEND_GROWTH_GOAL:g}{X})"
                ok = ok and growth <= SEND_GROWTH_GOAL
            lines.append(
                f"| {row.label} | {ms(ours)} | {ms(base)} (fake Ollama) | | {added:.1f} | {goal_text} "
                f"| {verdict(ok)} |"
            )
    if bench.body_sizes:
        lines.append("")
        lines.append(
            "Response bodies: "
            + ", ".join(
                f"{name} {size / 1024:,.0f} KiB of JSON ({wire / 1024:,.0f} KiB gzipped)"
                for name, (size, wire) in bench.body_sizes.items()
            )
        )
    return lines


# --- profiling -----------------------------------------------------------------------------------------
class Profiler:
    """py-spy recording one process until `stop()` (SIGINT makes it write what it has)."""

    def __init__(self, pid: int, output) -> None:
        py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
        if not py_spy:
            raise SystemExit("--profile needs py-spy: pip install py-spy (or set PY_SPY to its path)")
        self.output = output
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "-o", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(PROFILE_STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


# A thread waiting (for work, a lock, a connection, the event loop's next event) is not busy; frames
# every busy stack goes through (threads, executors, the servers' entry points) say nothing.
IDLE_LEAVES = ("Condition.wait ", "Runner.run ", "_worker ", "Queue.get ", "sleep (asyncio", "Event.wait ")
PLUMBING = (
    "threading.py",
    "concurrent/futures/",
    "asgiref/sync.py",
    "gunicorn",
    "uvicorn/_compat.py",
    "uvicorn/workers.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
)


def profile_summary(path, top: int = 25) -> list[str]:
    """The functions on most of the worker's busy stacks (inclusive) and at their top (self)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame for frame in stack.split(";")]
        frames = [frame.replace(f"{sys.prefix}/lib/python3.11/site-packages/", "") for frame in frames]
        if frames[-1].startswith(IDLE_LEAVES):
            idle += int(count)
            continue
        total += int(count)
        for frame in set(frames):
            if not any(part in frame for part in PLUMBING):
                inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    if not total:
        return ["(no busy samples)"]
    lines = [f"{total} busy samples of the worker's threads ({idle} idle left out)", "", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in own.most_common(top)]
    return lines


# --- the run -------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds (default 30)")
    parser.add_argument("--time-limit", type=float, default=200.0, help="seconds for the measured rounds")
    parser.add_argument("--profile", metavar="ROW", help="only this row, with py-spy on the worker")
    parser.add_argument("--lifetime", type=float, default=900.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")

    started = time.monotonic()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    fake = FakeOllamaProcess(
        tokens=8, token_delay=0.0, lifetime=args.lifetime, log_path=LOG_DIR / "chat-loop-ollama.log"
    )
    server = bench = profiler = None
    profile_path = LOG_DIR / f"chat-loop-profile-{args.profile}.txt"
    try:
        configure_environment(
            ollama_url=fake.url,
            database=BENCH_DATABASE,
            redis_db=BENCH_REDIS_DB,
            key_prefix="bench_chat_loop",
        )
        os.environ.setdefault("JWT_ACCESS_MINUTES", "60")  # the tokens made below outlive the run
        recreate_database()
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        plan = seed(random.Random(20250610))  # noqa: S311 - reproducible test data, not secrets
        seeded = time.monotonic()

        server = Server(workers=1, port=unused_port(), log_path=LOG_DIR / "chat-loop-server.log")
        server.wait_ready()
        bench = Bench(plan, server.url, fake.url)
        all_rows = {row.name: row for row in bench.rows()}
        if args.profile and args.profile not in all_rows:
            parser.error(f"--profile: one of {', '.join(all_rows)}")
        rows = [all_rows[args.profile]] if args.profile else list(all_rows.values())
        # One send per size first: what OllamaNet sent to Ollama is then known, for the direct requests.
        for size in SIZES:
            bench.send(size)
            bench.learn_direct_messages(size)
        if not args.profile:
            bench.measure_sizes()

        def start_profiler() -> None:
            nonlocal profiler
            if args.profile:
                profiler = Profiler(server.worker_pids()[0], profile_path)
                time.sleep(1)  # py-spy attached

        rounds = run_rounds(rows, args.rounds, args.time_limit, start_profiler)
        if profiler:
            profiler.stop()
    finally:
        if profiler:
            profiler.stop()
        if bench:
            bench.close()
        if server:
            server.stop()
        fake.stop()

    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {rounds} rounds (after {WARMUP_ROUNDS} warm-up), "
        f"gunicorn -w 1 (uvicorn worker), {os.environ['DJANGO_SETTINGS_MODULE']}, DEBUG off; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; seeding {seeded - started:.0f} s, "
        f"whole run {time.monotonic() - started:.0f} s"
    )
    if rounds < MIN_ROUNDS:
        print(f"WARNING: only {rounds} rounds within --time-limit {args.time_limit:g} s (< {MIN_ROUNDS})")
    print()
    print("\n".join(report({row.name: row for row in rows}, bench, rounds)))
    if args.profile and profile_path.exists():
        print()
        print(f"py-spy on the worker during the {args.profile} rounds ({profile_path}):")
        print("\n".join(profile_summary(profile_path)))


if __name__ == "__main__":
    main()
