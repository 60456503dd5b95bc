#!/bin/sh
# Entry point of the add-on container: runs the daemon in the foreground.
# The exit code reaches the Supervisor: 2 means bad options (one line per problem in the log;
# restarting will not help until they are fixed), 1 a runtime failure the watchdog restarts.
set -eu

options="${EDGE_MINING_OPTIONS:-/data/options.json}"

if [ ! -r "${options}" ]; then
    echo "edge-mining: cannot read ${options}: is this running as a Home Assistant add-on?" >&2
    exit 2
fi

exec edge-mining run --addon --options "${options}"
