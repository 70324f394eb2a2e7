#!/bin/sh
# Entry point of the sandbox's postgres:15 image (installed as /usr/local/bin/docker-entrypoint.sh), modelled on
# the official image's docker-entrypoint.sh for the settings users give it:
#   POSTGRES_PASSWORD (required, unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default postgres),
#   POSTGRES_DB (default: POSTGRES_USER), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256),
#   PGDATA (default /var/lib/postgresql/data), and *.sh / *.sql files in /docker-entrypoint-initdb.d.
# The cluster is initialised only when PGDATA holds none (no PG_VERSION file): a data directory that moved here
# with its volume is started as it is, crash recovery included. `docker run postgres:15 -c name=value` passes
# options to postgres; any other command (`psql …`, `sh -c …`) is run as given.
set -e

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export PGDATA POSTGRES_USER POSTGRES_DB

if [ "$1" != postgres ]; then
	exec "$@"
fi

# As root: the data directory and the socket folder belong to the postgres user, then run again as that user
# (postgres refuses to run as root).
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	chmod 3777 /var/run/postgresql
	# The full path: busybox runs its own (smaller) setpriv applet for a bare name.
	exec /usr/bin/setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOF'
		Error: Database is uninitialized and superuser password is not specified.
		       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser, or
		       POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a password (not recommended).
		EOF
		exit 1
	fi
	echo "entrypoint: initialising a new cluster in $PGDATA"
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS
	rm -f "$pwfile"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

	# A server for the set-up only, on the Unix socket: nothing reaches it over TCP before it is done.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	psql() { command psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"; }
	if [ "$POSTGRES_DB" != postgres ]; then
		psql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
		CREATE DATABASE :"db" ;
		EOSQL
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) echo "entrypoint: running $f"; . "$f" ;;
			*.sql) echo "entrypoint: running $f"; psql --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) echo "entrypoint: running $f"; gunzip -c "$f" | psql --dbname "$POSTGRES_DB" ;;
			*) [ -e "$f" ] && echo "entrypoint: ignoring $f" ;;
		esac
	done
	unset -f psql
	pg_ctl -D "$PGDATA" -m fast -w stop
	echo "entrypoint: initialisation done; starting postgres"
else
	echo "entrypoint: $PGDATA holds a cluster (PostgreSQL $(cat "$PGDATA/PG_VERSION")); starting it as it is"
fi

exec "$@"
