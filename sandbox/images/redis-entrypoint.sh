#!/bin/sh
# Entry point of the sandbox's redis:7 image (installed as /usr/local/bin/docker-entrypoint.sh), modelled on
# the official image's docker-entrypoint.sh: `docker run redis:7 [--option value ...]` runs redis-server with
# those options; any other command (`redis-cli ...`, `sh -c ...`) is run as given.
set -e

# No arguments, or the first one is an option or a config file: run redis-server with the arguments.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# The official image's redis-server is built with protected mode off; Debian's is not, and would refuse
# clients from other hosts. Turn it off unless the arguments (or the config file given) decide.
if [ "$1" = redis-server ] || [ "$1" = /usr/local/bin/redis-server ]; then
	add=yes
	for a in "$@"; do
		case "$a" in
			-v | --version | -h | --help | --test-memory | --check-system | --protected-mode) add=no ;;
		esac
	done
	if [ "$#" -ge 2 ] && [ "${2#-}" = "$2" ] && [ -f "$2" ] &&
		grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$2"; then
		add=no
	fi
	if [ "$add" = yes ]; then
		set -- "$@" --protected-mode no
	fi
fi

exec "$@"
