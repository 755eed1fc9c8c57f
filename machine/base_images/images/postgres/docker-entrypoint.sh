#!/bin/sh
# Entrypoint honouring the official postgres image's contract (a POSIX sh subset of it):
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (postgres),
#   POSTGRES_DB (= user), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (scram-sha-256),
#   any of them as <NAME>_FILE; PGDATA initialised on first start when empty;
#   /docker-entrypoint-initdb.d/*.sql and *.sh run once after init.
# Unlike upstream, POSTGRES_PASSWORD is applied on *every* start (apply_password), not only when an
# empty volume is initialised: a volume kept while the stack's generated password was replaced
# (`pulumi destroy`, then `pulumi up`) opens with the password the container is given.
# It ends in `exec postgres`, so postgres is PID 1 and gets the stop signal itself.
set -eu

die() { echo "docker-entrypoint: error: $*" >&2; exit 1; }
note() { echo "docker-entrypoint: $*" >&2; }

# file_env NAME [DEFAULT]: NAME from $NAME or from the file named by $NAME_FILE (not both).
file_env() {
    name="$1" default="${2:-}"
    eval "val=\${$name:-}" "file=\${${name}_FILE:-}"
    if [ -n "$val" ] && [ -n "$file" ]; then
        die "both $name and ${name}_FILE are set; set only one"
    fi
    if [ -n "$file" ]; then
        [ -r "$file" ] || die "${name}_FILE=$file is not a readable file"
        val="$(cat "$file")"
    fi
    [ -n "$val" ] || val="$default"
    export "$name=$val"
    unset "${name}_FILE" 2>/dev/null || true
}

# The server must run as the owner of PGDATA, and never as root.
check_user() {
    [ "$(id -u)" != 0 ] || die "refusing to run postgres as root; run as 999:999 (the image's USER)"
}

init_pgdata() {
    mkdir -p "$PGDATA" 2>/dev/null || die "cannot create PGDATA=$PGDATA as UID $(id -u)"
    chmod 700 "$PGDATA" 2>/dev/null || die "PGDATA=$PGDATA is not owned by UID $(id -u); chown it to $(id -u)"

    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
        die "database is uninitialised and POSTGRES_PASSWORD is not set; set POSTGRES_PASSWORD
       (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust to allow password-less access"
    fi

    note "initialising $PGDATA for user '$POSTGRES_USER'"
    # The password reaches initdb on stdin: it never appears in argv or a file.
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words by contract
    printf '%s\n' "$POSTGRES_PASSWORD" | initdb \
        --username="$POSTGRES_USER" --pwfile=/dev/stdin \
        --auth-local=trust --auth-host="$auth" \
        --encoding=UTF8 --locale=C.UTF-8 \
        ${POSTGRES_INITDB_ARGS:-} >/dev/null
    # Any address may connect over TCP, with a password (the network restricts who can reach it).
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

    # A server on the Unix socket only creates the database and runs init scripts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 60 start >/dev/null
    psql_q() { psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password "$@"; }
    if [ "$POSTGRES_DB" != postgres ]; then
        psql_q --dbname postgres --set db="$POSTGRES_DB" -q <<'SQL'
CREATE DATABASE :"db";
SQL
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sql) note "running $f"; psql_q --dbname "$POSTGRES_DB" -q -f "$f" ;;
            *.sh)
                note "running $f"
                # shellcheck source=/dev/null  # init scripts are the user's, found at run time
                . "$f"
                ;;
            *) if [ -e "$f" ]; then note "ignoring $f"; fi ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    note "initialisation complete"
}

# The password the container is given becomes the user's, on an initialised PGDATA, before the
# server listens on TCP: a server on the Unix socket only (local connections are trusted) runs
# ALTER ROLE and stops; then `exec postgres` opens TCP with that password in place. The password
# reaches psql through its environment (\getenv), never argv or a file.
apply_password() {
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "$POSTGRES_PASSWORD" ] || [ "$auth" = trust ]; then
        return 0
    fi
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 300 start >/dev/null \
        || die "cannot start postgres on its socket to apply POSTGRES_PASSWORD (see the lines above)"
    PGPASSWORD_TO_SET="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
        --username "$POSTGRES_USER" --no-password --dbname postgres --set user="$POSTGRES_USER" <<'SQL' \
        || { pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null; die "could not apply POSTGRES_PASSWORD to '$POSTGRES_USER'"; }
\getenv password PGPASSWORD_TO_SET
ALTER ROLE :"user" WITH PASSWORD :'password';
SQL
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    note "applied POSTGRES_PASSWORD to '$POSTGRES_USER'"
}

# Upstream: a first argument that is a flag means "postgres with these flags".
case "${1:-}" in -*) set -- postgres "$@" ;; esac

if [ "${1:-}" = postgres ]; then
    check_user
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        init_pgdata
    else
        apply_password
    fi
    # The password is not needed any more: keep it out of the server's environment.
    unset POSTGRES_PASSWORD
    exec "$@"
fi
exec "$@"
