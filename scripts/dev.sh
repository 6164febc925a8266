#!/usr/bin/env bash
# Bootstrap and entry points for `make run` and `make test`.
#
#   scripts/dev.sh run   install what is missing, start PostgreSQL + Redis under .local/, migrate,
#                        load demo data, start a Celery worker and serve on 127.0.0.1:8000
#   scripts/dev.sh test  the same bootstrap, then checks and the whole test suite
#
# PostgreSQL and Redis are started project-locally unless DATABASE_URL / REDIS_URL are set (in the
# environment or in .env). Ports moved with OLLAMANET_PG_PORT / OLLAMANET_REDIS_PORT are written to
# .env, which the settings read too: manage.py, Celery and the next run in another shell find the same
# services. Everything is idempotent: a second run reuses the virtualenv, the cluster and its data.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
ENV_FILE="$ROOT/.env"
ENV_BEGIN="# >>> written by make run: the moved ports of the local PostgreSQL / Redis (.local/) >>>"
ENV_END="# <<< written by make run <<<"

# The last value of NAME in .env (`NAME=value`, `export NAME=value`, quoted or not); with "own" also
# from the block this script writes, else only from what was written by hand.
dotenv_value() {
  [ -f "$ENV_FILE" ] || return 0
  awk -v name="$1" -v own="${2:-}" -v begin="$ENV_BEGIN" -v end="$ENV_END" '
    $0 == begin { block = 1; next }
    $0 == end { block = 0; next }
    block && own == "" { next }
    { sub(/^[ \t]*export[ \t]+/, "") }
    index($0, name "=") == 1 { value = substr($0, length(name) + 2); gsub(/^["\047]|["\047][ \t]*$/, "", value) }
    END { if (value != "") print value }
  ' "$ENV_FILE"
}

# Services given in .env by hand are used like those given in the environment.
DATABASE_URL="${DATABASE_URL:-$(dotenv_value DATABASE_URL)}"
REDIS_URL="${REDIS_URL:-$(dotenv_value REDIS_URL)}"
PG_DEFAULT_PORT=54329
REDIS_DEFAULT_PORT=63799
PG_PORT="${OLLAMANET_PG_PORT:-$(dotenv_value OLLAMANET_PG_PORT own)}"
PG_PORT="${PG_PORT:-$PG_DEFAULT_PORT}"
REDIS_PORT="${OLLAMANET_REDIS_PORT:-$(dotenv_value OLLAMANET_REDIS_PORT own)}"
REDIS_PORT="${REDIS_PORT:-$REDIS_DEFAULT_PORT}"
HTTP_HOST="${OLLAMANET_HOST:-127.0.0.1}"
HTTP_PORT="${OLLAMANET_PORT:-8000}"
PG_USER=ollamanet
PG_PASSWORD=ollamanet
PG_DB=ollamanet
STARTED=()   # what this invocation started, stopped again on exit

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Whether something accepts connections on a loopback port: bash alone, since this runs before the
# virtualenv (or any Python package) exists.
port_in_use() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# --- system packages -------------------------------------------------------------------------
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_system_packages() {
  local missing=()
  [ -n "${DATABASE_URL:-}" ] || [ -n "$(pg_bindir)" ] || missing+=(postgresql postgresql-contrib)
  [ -n "${REDIS_URL:-}" ] || command -v redis-server >/dev/null || missing+=(redis-server)
  ldconfig -p 2>/dev/null | grep -q libmagic.so.1 || missing+=(libmagic1)
  command -v python3.11 >/dev/null || missing+=(python3.11 python3.11-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing system packages: ${missing[*]} (install them, or run as root so this script can)"
  fi
  log "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- virtualenv ----------------------------------------------------------------------------------
install_python_deps() {
  local lock="requirements/dev.lock"
  local stamp="$VENV/.lock-sha256"
  local want; want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [ ! -x "$PY" ]; then
    log "creating virtualenv in .venv"
    python3.11 -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python dependencies from $lock"
    "$PY" -m pip install -q --disable-pip-version-check -r "$lock" 2>&1 | grep -v '^WARNING: Location' || true
    "$PY" -c "import django, rest_framework, psycopg, celery" || die "dependency installation failed"
    echo "$want" > "$stamp"
  fi
}

# --- PostgreSQL ---------------------------------------------------------------------------------
PGDATA="$LOCAL/postgres"
as_pg() {
  # initdb refuses to run as root: the local cluster belongs to the postgres user then.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then log "using DATABASE_URL"; return 0; fi
  LOCAL_POSTGRES=1
  local bin; bin="$(pg_bindir)"
  [ -n "$bin" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  mkdir -p "$LOCAL"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in .local/postgres"
    mkdir -p "$PGDATA"
    local pwfile="$LOCAL/.pgpass.tmp"
    echo "$PG_PASSWORD" > "$pwfile"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$PGDATA" "$pwfile"; chmod 755 "$LOCAL"; fi
    as_pg "$bin/initdb" -D "$PGDATA" -U "$PG_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
shared_preload_libraries = 'pg_stat_statements'
max_connections = 200
CONF
  fi
  if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    # The fourth line of postmaster.pid is the port the running cluster listens on.
    local running; running="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$running" ] && [ "$running" != "$PG_PORT" ]; then
      die "the local PostgreSQL (.local/postgres) is already running on port $running, not $PG_PORT:" \
        "use OLLAMANET_PG_PORT=$running, or stop it first (scripts/dev.sh stop)"
    fi
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    port_in_use "$PG_PORT" && die "port $PG_PORT is in use by another program; set OLLAMANET_PG_PORT"
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # The port is given at each start: the cluster listens where it is asked to, whatever it used before.
    as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
      -o "-p $PG_PORT -c fsync=${OLLAMANET_PG_FSYNC:-on}" start >/dev/null \
      || die "PostgreSQL did not start; see .local/postgres/server.log"
    STARTED+=(postgres)
  fi
  export DATABASE_URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
  PGPASSWORD="$PG_PASSWORD" "$PY" - "$PG_PORT" "$PG_USER" "$PG_DB" <<'PYEOF'
import sys, psycopg
port, user, db = sys.argv[1:]
with psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True) as c:
    if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
        c.execute(f'CREATE DATABASE "{db}"')
PYEOF
}

stop_postgres() { as_pg "$(pg_bindir)/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; }

# --- PostgreSQL read replica (`make replica`; `make test` starts it for the replica's tests) --------
# A hot standby of the primary above (or of DATABASE_URL's server), made once with pg_basebackup -R
# into .local/postgres-replica and kept up to date by streaming replication on its own port. Nothing
# here changes the primary's configuration: the replication line that initdb puts in pg_hba.conf
# and the default wal_level/max_wal_senders are all it needs (the role must be allowed to replicate).
REPLICA_PORT="${OLLAMANET_REPLICA_PORT:-54330}"
REPLICA_PGDATA="$LOCAL/postgres-replica"

create_replica() {
  local bin="$1"
  log "creating a streaming replica of the primary in .local/postgres-replica (pg_basebackup)"
  rm -rf "$REPLICA_PGDATA"
  mkdir -p "$REPLICA_PGDATA"
  chmod 700 "$REPLICA_PGDATA"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$REPLICA_PGDATA"; chmod 755 "$LOCAL"; fi
  # -R writes standby.signal and the primary's connection string; -X stream brings the WAL of the copy.
  as_pg "$bin/pg_basebackup" -d "$DATABASE_URL" -D "$REPLICA_PGDATA" -R -X stream -c fast \
    || { rm -rf "$REPLICA_PGDATA"; die "pg_basebackup failed (can the role of DATABASE_URL replicate?)"; }
  rm -f "$REPLICA_PGDATA/server.log"  # the primary's log, if it keeps one in its data directory
  printf '\n# The read replica: its own port; the rest as the primary it was copied from.\nport = %s\nhot_standby = on\n' \
    "$REPLICA_PORT" | as_pg tee -a "$REPLICA_PGDATA/postgresql.conf" >/dev/null
}

# Wait until the replica has replayed what the primary had written when it started; false when it
# cannot (the WAL it needs was recycled on the primary while it was stopped).
replica_caught_up() {
  "$PY" - "$DATABASE_URL" "$REPLICA_PORT" <<'PYEOF'
import sys, time
import psycopg
from psycopg.conninfo import make_conninfo

primary = sys.argv[1]
replica = make_conninfo(primary, host="127.0.0.1", port=sys.argv[2], connect_timeout=2)
with psycopg.connect(primary, autocommit=True) as c:
    target = c.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with psycopg.connect(replica, autocommit=True) as c:
            if c.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                sys.exit(0)
    except psycopg.OperationalError:
        pass
    time.sleep(0.5)
sys.exit(1)
PYEOF
}

start_replica() {
  if [ -n "${DATABASE_REPLICA_URL:-}" ]; then log "using DATABASE_REPLICA_URL"; return 0; fi
  local bin; bin="$(pg_bindir)"
  [ -f "$REPLICA_PGDATA/PG_VERSION" ] || create_replica "$bin"
  local attempt
  for attempt in 1 2; do
    if as_pg "$bin/pg_ctl" -D "$REPLICA_PGDATA" status >/dev/null 2>&1; then
      log "PostgreSQL replica already running on 127.0.0.1:$REPLICA_PORT"
    else
      port_in_use "$REPLICA_PORT" && die "port $REPLICA_PORT is in use by another program; set OLLAMANET_REPLICA_PORT"
      log "starting the PostgreSQL replica on 127.0.0.1:$REPLICA_PORT"
      as_pg "$bin/pg_ctl" -D "$REPLICA_PGDATA" -l "$REPLICA_PGDATA/server.log" -w -t 60 start >/dev/null \
        || die "the PostgreSQL replica did not start; see .local/postgres-replica/server.log"
      STARTED+=(replica)
    fi
    replica_caught_up && break
    [ "$attempt" -eq 2 ] && die "the replica does not follow the primary; see .local/postgres-replica/server.log"
    log "the replica does not catch up with the primary (the WAL it needs may have been recycled while it was stopped): making it again"
    stop_replica
    create_replica "$bin"
  done
  export DATABASE_REPLICA_URL
  DATABASE_REPLICA_URL="$("$PY" -c 'import sys; from urllib.parse import urlsplit
u = urlsplit(sys.argv[1]); print(u._replace(netloc=u.netloc.rsplit("@", 1)[0] + "@127.0.0.1:" + sys.argv[2]).geturl())' \
    "$DATABASE_URL" "$REPLICA_PORT")"
}

stop_replica() {
  [ -f "$REPLICA_PGDATA/PG_VERSION" ] || return 0
  as_pg "$(pg_bindir)/pg_ctl" -D "$REPLICA_PGDATA" -m fast -w stop >/dev/null 2>&1 || true
}

# --- Redis -----------------------------------------------------------------------------------------
REDIS_DIR="$LOCAL/redis"
start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then log "using REDIS_URL"; return 0; fi
  LOCAL_REDIS=1
  mkdir -p "$REDIS_DIR"
  if [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; then
    local running; running="$(cat "$REDIS_DIR/port" 2>/dev/null || true)"
    if [ -n "$running" ] && [ "$running" != "$REDIS_PORT" ]; then
      die "the local Redis (.local/redis) is already running on port $running, not $REDIS_PORT:" \
        "use OLLAMANET_REDIS_PORT=$running, or stop it first (scripts/dev.sh stop)"
    fi
    log "Redis already running on 127.0.0.1:$REDIS_PORT"
  else
    port_in_use "$REDIS_PORT" && die "port $REDIS_PORT is in use by another program; set OLLAMANET_REDIS_PORT"
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --daemonize yes \
      --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save 60 1 \
      --appendonly no >/dev/null
    echo "$REDIS_PORT" > "$REDIS_DIR/port"
    for _ in $(seq 1 50); do port_in_use "$REDIS_PORT" && break; sleep 0.1; done
    port_in_use "$REDIS_PORT" || die "Redis did not start; see .local/redis/redis.log"
    STARTED+=(redis)
  fi
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

stop_redis() { [ -f "$REDIS_DIR/redis.pid" ] && kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true; }

# --- .env: where the local services listen, for manage.py, Celery and the next run ---------------------
# Ports moved from the defaults are written to a block of their own in .env (what was written by hand is
# kept as it is); back on the defaults, the block goes.
remember_ports() {
  local lines=()
  if [ "${LOCAL_POSTGRES:-}" = 1 ] && [ "$PG_PORT" != "$PG_DEFAULT_PORT" ]; then
    lines+=("OLLAMANET_PG_PORT=$PG_PORT" "DATABASE_URL=$DATABASE_URL")
  fi
  if [ "${LOCAL_REDIS:-}" = 1 ] && [ "$REDIS_PORT" != "$REDIS_DEFAULT_PORT" ]; then
    lines+=("OLLAMANET_REDIS_PORT=$REDIS_PORT" "REDIS_URL=$REDIS_URL")
  fi
  if [ ${#lines[@]} -eq 0 ] && ! grep -qxF "$ENV_BEGIN" "$ENV_FILE" 2>/dev/null; then return 0; fi
  local by_hand=""
  [ -f "$ENV_FILE" ] && by_hand="$(awk -v begin="$ENV_BEGIN" -v end="$ENV_END" \
    '$0 == begin { block = 1; next } $0 == end { block = 0; next } !block' "$ENV_FILE")"
  {
    [ -z "$by_hand" ] || printf '%s\n' "$by_hand"
    if [ ${#lines[@]} -gt 0 ]; then printf '%s\n' "$ENV_BEGIN" "${lines[@]}" "$ENV_END"; fi
  } > "$ENV_FILE.tmp"
  if cmp -s "$ENV_FILE.tmp" "$ENV_FILE"; then rm -f "$ENV_FILE.tmp"; return 0; fi
  if [ -s "$ENV_FILE.tmp" ]; then mv "$ENV_FILE.tmp" "$ENV_FILE"; else rm -f "$ENV_FILE.tmp" "$ENV_FILE"; fi
  if [ ${#lines[@]} -gt 0 ]; then log "ports written to .env: ${lines[*]}"; else log "ports removed from .env"; fi
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  [ -n "${CHILD_PIDS:-}" ] && kill $CHILD_PIDS 2>/dev/null && wait $CHILD_PIDS 2>/dev/null
  for svc in "${STARTED[@]}"; do
    case "$svc" in
      postgres) log "stopping PostgreSQL"; stop_postgres ;;
      replica) log "stopping the PostgreSQL replica"; stop_replica ;;
      redis) log "stopping Redis"; stop_redis ;;
    esac
  done
  exit "$code"
}

bootstrap() {
  install_system_packages
  install_python_deps
  trap cleanup EXIT INT TERM
  start_postgres
  start_redis
  remember_ports
  export PATH="$VENV/bin:$PATH"
}

cmd_run() {
  port_in_use "$HTTP_PORT" && die "port $HTTP_PORT is already in use; stop what listens there or set OLLAMANET_PORT"
  bootstrap
  # Development settings (debug on); the entry points themselves default to production settings.
  export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
  log "migrating"
  "$PY" manage.py migrate --no-input
  log "loading demo data"
  "$PY" manage.py load_demo_data
  collect_static
  log "starting Celery worker (log in .local/celery.log)"
  : > "$LOCAL/celery.log"
  supervise_worker &
  CHILD_PIDS="$!"
  log "serving on http://$HTTP_HOST:$HTTP_PORT  (API docs /api/docs/, admin /admin/; Ctrl-C stops)"
  # /metrics adds up every worker's figures from files here (prometheus_client's multiprocess mode).
  rm -rf "$LOCAL/prometheus" && mkdir -p "$LOCAL/prometheus"
  PROMETHEUS_MULTIPROC_DIR="$LOCAL/prometheus" "$VENV/bin/gunicorn" config.asgi:application -k config.workers.UvicornWorker \
    -b "$HTTP_HOST:$HTTP_PORT" -w "${WEB_CONCURRENCY:-2}" --access-logfile - &
  local web="$!"
  CHILD_PIDS="$CHILD_PIDS $web"
  # Only the web server ending ends `make run`; the worker is restarted by its supervisor.
  wait "$web"
}

# Static files (the Django admin's, Swagger UI's, Redoc's) hashed and compressed into STATIC_ROOT, where
# the application serves them (WhiteNoise). They come with the locked dependencies: collected again only
# when those or STATIC_ROOT change, or the manifest is missing.
collect_static() {
  local root want stamp="$LOCAL/static.stamp"
  root="$("$PY" -c 'import django; from django.conf import settings; django.setup(); print(settings.STATIC_ROOT)')"
  want="$(sha256sum requirements/dev.lock | cut -d' ' -f1) $root"
  if [ -f "$root/staticfiles.json" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  log "collecting static files into $root"
  "$PY" manage.py collectstatic --no-input -v0
  echo "$want" > "$stamp"
}

# Run the Celery worker (with beat) and start it again whenever it exits: a worker that dies (a long
# broker outage, a crash) must never take the API down. TERM stops the worker and the loop.
# The worker runs in a process group of its own (setsid), and the whole group is stopped when the worker
# ends: a worker killed outright leaves its embedded beat and pool processes behind, and a second beat
# would run every periodic task twice.
supervise_worker() {
  local worker="" code
  trap 'if [ -n "$worker" ]; then kill -TERM -- "-$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; fi; exit 0' TERM INT
  while true; do
    setsid "$VENV/bin/celery" -A config worker -B -l info --concurrency 2 \
      --schedule "$LOCAL/celerybeat-schedule" >> "$LOCAL/celery.log" 2>&1 &
    worker="$!"
    code=0
    wait "$worker" || code=$?
    kill -TERM -- "-$worker" 2>/dev/null || true
    worker=""
    log "Celery worker exited with status $code; starting it again in 5 s (see .local/celery.log)"
    sleep 5 & wait "$!"
  done
}

cmd_test() {
  # Tests never touch the development database: pytest-django creates test_<name> beside it.
  export OLLAMANET_PG_FSYNC=off
  bootstrap
  # The checks run with the development settings; pytest with config.settings.test (pyproject.toml).
  export DJANGO_SETTINGS_MODULE=config.settings.local
  start_replica  # the read replica's tests need a real one
  log "ruff"
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  log "manage.py check"
  "$PY" manage.py check --fail-level WARNING
  log "makemigrations --check"
  "$PY" manage.py makemigrations --check --dry-run
  log "OpenAPI schema"
  "$PY" manage.py spectacular --validate --fail-on-warn --file /dev/null
  log "mypy"
  "$VENV/bin/mypy" .
  log "pytest"
  DJANGO_SETTINGS_MODULE=config.settings.test "$VENV/bin/pytest" "$@"
}

cmd_bench() {
  # Benchmarks use databases of their own beside the development one; results go to docs/BENCHMARKS.md.
  bootstrap
  export DJANGO_SETTINGS_MODULE=config.settings.test
  for script in bench/[!_]*.py; do  # bench/_*.py are shared modules
    log "$script"
    "$PY" "$script"
  done
}

# Sourced (tests/core/test_dev_script.py), the script only defines its functions.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  test) shift; cmd_test "$@" ;;
  bootstrap) bootstrap; trap - EXIT; log "services running; DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL" ;;
  replica) bootstrap; start_replica; trap - EXIT; log "replica running; DATABASE_REPLICA_URL=$DATABASE_REPLICA_URL" ;;
  stop) stop_replica; stop_postgres; stop_redis ;;
  *) die "usage: scripts/dev.sh run|test|bench|bootstrap|replica|stop" ;;
esac
