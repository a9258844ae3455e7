#!/usr/bin/env bash
# Installs (Debian packages) and starts PostgreSQL and Redis on loopback for the service-backed tests.
# Idempotent: running it again leaves running services alone. Prints the environment the tests read,
# so `eval "$(scripts/services.sh)"` both starts the services and points the suite at them.
set -euo pipefail

PG_USER=${DUETTO_PG_USER:-duetto}
PG_PASSWORD=${DUETTO_PG_PASSWORD:-duetto}
PG_DB=${DUETTO_PG_DB:-duetto_test}
PG_PORT=${DUETTO_PG_PORT:-5432}
REDIS_PORT=${DUETTO_REDIS_PORT:-6379}

log() { echo "services: $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
  local missing=()
  command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >&2
  fi
}

start_postgres() {
  local version
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -q "^$version main$"; then
    log "creating PostgreSQL $version cluster"
    as_root pg_createcluster "$version" main -p "$PG_PORT" >&2
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    log "starting PostgreSQL $version"
    # Loopback only: the tests never need it reachable from elsewhere.
    as_root pg_ctlcluster "$version" main start -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT" >&2
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { log "PostgreSQL did not come up on port $PG_PORT"; exit 1; }
  # CREATEDB lets each test session make (and drop) a database of its own.
  as_root su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'\" | grep -q 1 \
    || psql -q -p $PG_PORT -c \"CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'\"" >&2
  as_root su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\" | grep -q 1 \
    || createdb -p $PG_PORT -O $PG_USER $PG_DB" >&2
}

start_redis() {
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "starting Redis on port $REDIS_PORT"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly no >&2
    for _ in $(seq 1 30); do
      redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || { log "Redis did not come up on port $REDIS_PORT"; exit 1; }
}

install_missing
start_postgres
start_redis
echo "export DUETTO_TEST_DATABASE_URL=postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
echo "export DUETTO_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
