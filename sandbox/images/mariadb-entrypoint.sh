#!/bin/sh
# Entry point of the sandbox's mariadb:10.11 image (installed as /usr/local/bin/docker-entrypoint.sh), modelled on
# the official image's docker-entrypoint.sh for the settings users give it (each MARIADB_ name also as MYSQL_):
#   MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD (one is required),
#   MARIADB_ROOT_HOST (default %), MARIADB_DATABASE, MARIADB_USER and MARIADB_PASSWORD, and *.sql files in
#   /docker-entrypoint-initdb.d.
# The system tables are created only when the datadir holds none (no mysql/ folder): a datadir that moved here
# with its volume is started as it is (InnoDB's crash recovery included). `docker run mariadb:10.11 --option`
# passes options to mariadbd; any other command (`mariadb …`, `sh -c …`) is run as given.
set -e

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
	exec "$@"
fi
shift
set -- mariadbd --user=mysql "$@"

env_of() { # env_of NAME: $MARIADB_NAME, or else $MYSQL_NAME
	eval "v=\${MARIADB_$1:-\${MYSQL_$1:-}}"
	printf '%s' "$v"
}
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g")"; }
sql_name() { printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')"; }

datadir=/var/lib/mysql
for a in "$@"; do
	case "$a" in --datadir=*) datadir=${a#--datadir=} ;; esac
done
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld

if [ ! -d "$datadir/mysql" ]; then
	root_password=$(env_of ROOT_PASSWORD)
	if [ -z "$root_password" ] && [ -z "$(env_of ALLOW_EMPTY_ROOT_PASSWORD)" ] && [ -z "$(env_of RANDOM_ROOT_PASSWORD)" ]; then
		cat >&2 <<-'EOF'
		error: database is uninitialized and password option is not specified
		       You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and
		       MARIADB_RANDOM_ROOT_PASSWORD
		EOF
		exit 1
	fi
	if [ -n "$(env_of RANDOM_ROOT_PASSWORD)" ]; then
		root_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
		echo "GENERATED ROOT PASSWORD: $root_password"
	fi
	root_host=$(env_of ROOT_HOST); root_host=${root_host:-%}
	database=$(env_of DATABASE); user=$(env_of USER); password=$(env_of PASSWORD)
	echo "entrypoint: initialising a new datadir in $datadir"
	init=$(mktemp)
	{
		# --bootstrap reads one statement per line.
		printf '%s\n' "CREATE DATABASE IF NOT EXISTS mysql;" "USE mysql;" "SET @auth_root_socket=NULL;"
		cat /usr/share/mysql/mysql_system_tables.sql /usr/share/mysql/mysql_performance_tables.sql \
			/usr/share/mysql/mysql_system_tables_data.sql /usr/share/mysql/maria_add_gis_sp_bootstrap.sql \
			/usr/share/mysql/mysql_sys_schema.sql
		# The system tables name root at this container's host name too; like the official image, keep only
		# root@localhost (and ROOT_HOST below).
		echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');"
		echo "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
		echo "FLUSH PRIVILEGES;"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
		if [ "$root_host" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY $(sql_string "$root_password");"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
		fi
		if [ -n "$database" ]; then
			echo "CREATE DATABASE IF NOT EXISTS $(sql_name "$database");"
		fi
		if [ -n "$user" ] && [ -n "$password" ]; then
			echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
			[ -z "$database" ] || echo "GRANT ALL ON $(sql_name "$database").* TO $(sql_string "$user")@'%';"
		fi
		for f in /docker-entrypoint-initdb.d/*.sql; do
			[ -e "$f" ] || continue
			[ -z "$database" ] || echo "USE $(sql_name "$database");"
			cat "$f"; echo
		done
	} > "$init"
	if ! "$@" --bootstrap --log-warnings=0 --enforce-storage-engine="" --max_allowed_packet=8M < "$init"; then
		rm -f "$init"
		echo "entrypoint: creating the system tables failed" >&2
		exit 1
	fi
	rm -f "$init"
	printf '%s' "$(mariadbd --version | sed -n 's/.*Ver \([^ ]*\).*/\1/p')" > "$datadir/mysql_upgrade_info"
	chown mysql:mysql "$datadir/mysql_upgrade_info"
	echo "entrypoint: initialisation done; starting mariadbd"
else
	echo "entrypoint: $datadir holds a datadir; starting it as it is"
fi

exec "$@"
