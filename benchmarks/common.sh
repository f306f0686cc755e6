# Shared by the per-method benchmark scripts: run from the repository root, two clips by default.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLIPS=${CLIPS:-../shared/data/clips}
ONLY=${ONLY:-carphone,tennis}
OUT=benchmarks/results
bench() { vidprior bench --clips "$CLIPS" --only "$ONLY" --out "$OUT" -q "$@"; }
