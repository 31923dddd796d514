# Sourced by every script: the repository root, the project's virtual environment on PATH, one-line errors.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
if [[ -x "$VENV/bin/python" ]]; then
  PATH="$VENV/bin:$PATH"
fi
PLUGIN_DIR="$ROOT/macaron_fairseq"
DATA_BIN="${DATA_BIN:-$ROOT/data/data-bin}"

# die MESSAGE [STATUS]: one line naming the problem and the fix, then exit (status 1 unless given).
die() {
  echo "error: $1" >&2
  exit "${2:-1}"
}

require_fairseq() {
  command -v fairseq-train >/dev/null 2>&1 \
    || die "fairseq-train not found: run 'bash scripts/setup.sh' (or activate an environment with fairseq)"
}
