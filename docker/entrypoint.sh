#!/bin/sh
# The image's entrypoint. It takes what rqlite's image takes, so a compose file or a
# Kubernetes manifest written for rqlite/rqlite runs unchanged:
#   run            start a node with the defaults below and the data directory
#   -flag ...      rqlited flags: the defaults below for any address or id flag not
#                  given, then these flags, then the data directory
#   anything else  run as a command (a shell, `rqlite` for the shell, ...)
# Defaults, each overridable through the environment: -node-id $NODE_ID (the host name),
# -http-addr $HTTP_ADDR (0.0.0.0:4001), -http-adv-addr $HTTP_ADV_ADDR (FQDN:4001),
# -raft-addr $RAFT_ADDR (0.0.0.0:4002), -raft-adv-addr $RAFT_ADV_ADDR (FQDN:4002),
# data directory $DATA_DIR (/rqlite/file/data). CUSTOM_SQLITE_EXTENSIONS_PATH adds
# -extensions-path. START_DELAY (seconds; 5 by default on Kubernetes) waits for DNS.
# QUORUMLITE_SERVE names the program that serves (default: rqlited, from this package).
set -eu

serve="${QUORUMLITE_SERVE:-rqlited}"
host_name="$(hostname)"
host_fqdn="$(hostname -f 2>/dev/null || hostname)"

# True when some argument is the flag (any dash count, with or without "=value").
given() {
	flag="$1"
	shift
	for argument in "$@"; do
		case "$argument" in
			"-$flag" | "-$flag="* | "--$flag" | "--$flag="*) return 0 ;;
		esac
	done
	return 1
}

defaults() {
	given node-id "$@" || printf '%s\n' -node-id "${NODE_ID:-$host_name}"
	given http-addr "$@" || printf '%s\n' -http-addr "${HTTP_ADDR:-0.0.0.0:4001}"
	given http-adv-addr "$@" || printf '%s\n' -http-adv-addr "${HTTP_ADV_ADDR:-$host_fqdn:4001}"
	given raft-addr "$@" || printf '%s\n' -raft-addr "${RAFT_ADDR:-0.0.0.0:4002}"
	given raft-adv-addr "$@" || printf '%s\n' -raft-adv-addr "${RAFT_ADV_ADDR:-$host_fqdn:4002}"
	if [ -n "${CUSTOM_SQLITE_EXTENSIONS_PATH:-}" ]; then
		if given extensions-path "$@"; then
			echo "entrypoint: set -extensions-path or CUSTOM_SQLITE_EXTENSIONS_PATH, not both" >&2
			return 1
		fi
		printf '%s\n' "-extensions-path=$CUSTOM_SQLITE_EXTENSIONS_PATH"
	fi
}

if [ -n "${SQLITE_EXTENSIONS:-}" ]; then
	echo "entrypoint: this image bundles no SQLite extensions; mount yours and set CUSTOM_SQLITE_EXTENSIONS_PATH" >&2
	exit 1
fi
if [ -n "${KUBERNETES_SERVICE_HOST:-}" ] && [ -z "${START_DELAY:-}" ]; then
	START_DELAY=5
fi
if [ -n "${START_DELAY:-}" ]; then
	sleep "$START_DELAY"
fi

data_directory="${DATA_DIR:-/rqlite/file/data}"
case "${1:-run}" in
	run)
		[ "$#" -gt 0 ] && shift
		extra=""
		;;
	-*)
		extra="yes"
		;;
	*)
		exec "$@"
		;;
esac

# The defaults are single words (addresses, ids, paths without spaces): one per line.
default_flags="$(defaults "$@")"
old_ifs="$IFS"
IFS='
'
# shellcheck disable=SC2086 # split on newlines on purpose
set -- $default_flags ${extra:+"$@"} "$data_directory"
IFS="$old_ifs"
exec "$serve" "$@"
