#!/bin/bash
# Written for Sentinel; mirrors the behaviour of the upstream postgres image's
# entrypoint for the variables Sentinel uses.
set -Eeuo pipefail

# `docker run img -c foo=bar` means postgres flags.
if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

# VAR_FILE (e.g. a swarm secret) wins over VAR.
file_env() {
  local var="$1" file_var="${1}_FILE" default="${2:-}"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo "error: both $var and $file_var are set; use one" >&2; exit 1
  fi
  local val="$default"
  if [ -n "${!var:-}" ]; then val="${!var}"
  elif [ -n "${!file_var:-}" ]; then val="$(< "${!file_var}")"
  fi
  export "$var"="$val"
  unset "$file_var"
}

init_cluster() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    echo "error: database is uninitialized and no password is set:" \
         "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi

  local pwfile; pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of flags
  as_postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" \
    ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  rm -f "$pwfile"

  # Trust only the local socket; every TCP client needs a password.
  {
    echo "local all all trust"
    echo "host  all all all $auth"
  } > "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

  # A socket-only server for the setup steps, as upstream does.
  as_postgres pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start
  export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
  local psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres)
  if [ "$POSTGRES_DB" != postgres ]; then
    as_postgres "${psql[@]}" --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql)    echo "running $f"; as_postgres "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | as_postgres "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *.sh)     echo "sourcing $f"; . "$f" ;;
      *)        if [ -e "$f" ]; then echo "ignoring $f"; fi ;;
    esac
  done
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo "PostgreSQL init process complete; ready for start up."
}

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_cluster
  fi
  # exec keeps postgres as PID 1 so `docker stop` reaches it directly.
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
