# Sourced by every script: the repository root, the project's virtual environment on PATH, one-line errors.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
if [[ -x "$VENV/bin/python" ]]; then
  PATH="$VENV/bin:$PATH"
fi
PLUGIN_DIR="$ROOT/macaron_fairseq"
DATA_BIN="${DATA_BIN:-$ROOT/data/data-bin}"

# die MESSAGE... [STATUS]: one line naming the problem and the fix, then exit (status 1 unless a last argument
# that is a number gives it). The words of MESSAGE are joined by spaces, so long messages can be split.
die() {
  local status=1
  if (($# > 1)) && [[ "${!#}" =~ ^[0-9]+$ ]]; then
    status="${!#}"
    set -- "${@:1:$#-1}"
  fi
  echo "error: $*" >&2
  exit "$status"
}

# usage: the calling script's header comment, from its second line down to "set -euo pipefail".
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# need_value OPTION [VALUE ...]: an option's value is there, not empty and not the next option (call with "$@").
need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value (see $(basename "$0") --help)" 2; }

# valid_progress: reads fairseq-train's log on stdin and prints each validation summary as it arrives, as
# "[compare]   valid epoch ... | loss ... | num_updates N". Bash's read takes one line at a time; awk (mawk) would
# hold the lines back until a whole input block has come.
valid_progress() {
  local line
  while IFS= read -r line; do
    if [[ "$line" == *"| valid | epoch "* ]]; then
      echo "[compare]   valid ${line#*| valid | }"
    fi
  done
}

require_fairseq() {
  command -v fairseq-train >/dev/null 2>&1 \
    || die "fairseq-train not found: run 'bash scripts/setup.sh' (or activate an environment with fairseq)"
}
