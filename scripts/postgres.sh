#!/usr/bin/env bash
# Starts the packaged PostgreSQL cluster for the records tests and prints the admin URL they use
# (REGCITE_TEST_POSTGRES). Debian's cluster runs as the postgres user (initdb refuses root), so this needs root
# or an already running server; without either it prints nothing and the PostgreSQL variants skip with a reason.
set -euo pipefail
url="postgresql+psycopg://regcite:regcite@127.0.0.1:5432/postgres"
if [ "$(id -u)" = 0 ]; then
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  fi
  read -r version cluster _ < <(pg_lsclusters -h | head -1)
  if [ -z "${version:-}" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    cluster=main
    pg_createcluster "$version" "$cluster" >/dev/null
  fi
  pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 || pg_ctlcluster "$version" "$cluster" status >/dev/null
  runuser -u postgres -- psql -qtAc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'regcite')
    THEN CREATE ROLE regcite LOGIN CREATEDB PASSWORD 'regcite'; END IF; END\$\$;" >/dev/null
fi
if PGPASSWORD=regcite psql -h 127.0.0.1 -U regcite -d postgres -qtAc "SELECT 1" >/dev/null 2>&1; then
  echo "$url"
else
  echo "postgres: no server for the records tests; their PostgreSQL variants will skip" >&2
fi
