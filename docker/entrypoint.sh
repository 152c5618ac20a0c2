#!/bin/sh
# The image's entrypoint: prepare what a bnn-tune service command needs, then replace this shell with the command
# (exec), so that the command itself receives the container's stop signal.
#
# - `bnn-tune serve` and `bnn-tune scheduler`: the database schema is brought up to date first. Migrations run here,
#   not at import time, so only the commands that use the database wait for it; Ray nodes start without touching
#   it. Alembic serialises concurrent upgrades, so an api and a scheduler starting together are safe.
# - `bnn-tune scheduler` with a Ray address (BNN_TUNE_RAY_ADDRESS or RAY_ADDRESS): a Ray driver must run on a node
#   of its cluster, so this container joins the cluster as a node with no CPUs and no GPUs first (no trial is ever
#   placed on it).
set -eu

command_is() {
    [ "${1:-}" = "bnn-tune" ] && [ "${2:-}" = "$3" ]
}

if command_is "${1:-}" "${2:-}" serve || command_is "${1:-}" "${2:-}" scheduler; then
    echo "entrypoint: migrating the database to the newest schema" >&2
    python - <<'PY'
import sys

from bnn_errors import BnnTuneError
from tuner.execution.runner import open_storage
from tuner.settings import get_settings

try:
    open_storage(get_settings()).close()
except BnnTuneError as error:
    sys.exit(f"entrypoint: cannot migrate the database: {error}")
PY
fi

ray_address="${BNN_TUNE_RAY_ADDRESS:-${RAY_ADDRESS:-}}"
if command_is "${1:-}" "${2:-}" scheduler && [ -n "$ray_address" ]; then
    echo "entrypoint: joining the Ray cluster at $ray_address as a node without resources" >&2
    ray start --address="$ray_address" --num-cpus=0 --num-gpus=0 --disable-usage-stats
fi

exec "$@"
