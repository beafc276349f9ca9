#!/usr/bin/env bash
# Run the whole test suite. Installs what the browser and PostgreSQL tests need
# (Debian's chromium, postgresql and postgis) when it can (root or sudo), starts a
# throwaway PostgreSQL cluster on a free local port, and runs pytest on SQLite and
# PostgreSQL/PostGIS. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgis)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}" >&2
  if ! { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null; }; then
    echo "warning: could not install ${need[*]}; the tests that need them will be skipped" >&2
  fi
fi

PGDIR=""
cleanup() {
  if [ -n "$PGDIR" ] && [ -d "$PGDIR" ]; then
    as_root su postgres -c "$PGBIN/pg_ctl -D $PGDIR -m immediate stop" >/dev/null 2>&1 || true
    as_root rm -rf "$PGDIR" || true
  fi
}
trap cleanup EXIT

if [ -z "${GCRM_TEST_POSTGRES_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  PGPORT=$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  PGDIR=$(mktemp -d /tmp/gcrm-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; RUN="su postgres -c"; else RUN="bash -c"; fi
  if $RUN "$PGBIN/initdb -D $PGDIR -A trust -U postgres >/dev/null" \
     && $RUN "$PGBIN/pg_ctl -D $PGDIR -o '-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off' -l $PGDIR/log -w start >/dev/null"; then
    export GCRM_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
    echo "PostgreSQL test server on 127.0.0.1:$PGPORT" >&2
  else
    echo "warning: could not start PostgreSQL; its tests will be skipped" >&2
  fi
fi

if [ $# -eq 0 ]; then
  echo "lint: ruff check, ruff format --check, mypy" >&2
  $PY -m ruff check .
  $PY -m ruff format --check .
  $PY -m mypy
fi
$PY -m pytest "$@"
