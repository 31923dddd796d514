# Sourced by every script: the repository root, the project's virtual environment on PATH, and the conventions
# they share: one-line errors (status 1 for bad input, 2 for a bad command line), --help from the header comment,
# the GPU probe, and paths written relative to the repository root.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
if [[ -x "$VENV/bin/python" ]]; then
  PATH="$VENV/bin:$PATH"
fi
PLUGIN_DIR="$ROOT/macaron_fairseq"
DATA_BIN_DIR="$ROOT/data/data-bin"  # where scripts/prepare-*.sh write, data/data-bin/NAME
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# die MESSAGE...: bad input. One line naming the problem and the fix, then exit status 1. The words of MESSAGE
# are joined by spaces, so long messages can be split. DIED tells an exit trap that the error has been said.
die() {
  echo "error: $*" >&2
  DIED=1
  exit 1
}

# usage_error MESSAGE...: a bad command line. One line pointing to --help, then exit status 2.
usage_error() {
  echo "error: $* (see $(basename "$0") --help)" >&2
  DIED=1
  exit 2
}

# usage: the calling script's header comment, from its second line down to "set -euo pipefail", and the
# settings of scripts/settings.sh when the script has read them.
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  if [[ -n "${SETTINGS+set}" ]]; then
    printf '\nSettings (scripts/settings.sh): %s\n' "${SETTINGS[*]}"
  fi
}

# need_value OPTION [VALUE ...]: an option's value is there, not empty and not the next option (call with "$@").
need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || usage_error "$1 needs a value"; }

# set_up_environment: makes or checks .venv (scripts/setup.sh) and puts it on PATH.
set_up_environment() {
  bash "$ROOT/scripts/setup.sh"
  source "$ROOT/scripts/lib/env.sh"  # again: the environment setup.sh made is on PATH only now
}

# cuda_device_count: the CUDA devices torch sees (0 without a GPU, or without torch).
cuda_device_count() { python -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0; }

# usable_cpu_count: the CPU cores this process may run on (its affinity). Not nproc, which prints OMP_NUM_THREADS
# instead when that is set.
usable_cpu_count() { python3 -c "import os; print(len(os.sched_getaffinity(0)))"; }

# root_relative PATH: PATH relative to the repository root when it lies inside it, else PATH as it is. Commands
# are recorded this way (train_command.txt, results/), so that they carry no machine's folders.
root_relative() {
  case "$1" in
    "$ROOT") echo . ;;
    "$ROOT"/*) echo "${1#"$ROOT"/}" ;;
    *) echo "$1" ;;
  esac
}

# absolute_path PATH: PATH from the root of the file system, without resolving links (the path may not exist yet).
absolute_path() { realpath -m -s -- "$1"; }

# require_folder_path OPTION PATH: PATH can be a folder: one already, or nothing yet inside a folder (not a file).
require_folder_path() {
  local parent
  [[ ! -e "$2" || -d "$2" ]] || die "$1 $2 is a file: give a folder"
  parent="$(dirname -- "$(absolute_path "$2")")"
  while [[ ! -e "$parent" ]]; do parent="$(dirname -- "$parent")"; done
  [[ -d "$parent" ]] || die "$1 $2 is inside $parent, which is a file: give a folder"
}

# corpus_facts DATA_DIR FIELD... [--checkpoint FILE]: fields of a prepared folder's corpus.json
# (macaron_tools/data/corpus_metadata.py), one per element of the array FACTS. With --checkpoint, a model of
# another direction than the data's is refused first. Errors are its own one line.
corpus_facts() {
  local data_dir="$1" arguments=() output
  shift
  while (($#)); do
    if [[ "$1" == --checkpoint ]]; then arguments+=("$1" "$2"); shift 2; else arguments+=(--get "$1"); shift; fi
  done
  # The "." keeps empty last fields, which $(...) would strip with the final newlines.
  output="$(python -m macaron_tools.data.corpus_metadata "$data_dir" "${arguments[@]}" && echo .)" \
    || { DIED=1; exit 1; }
  mapfile -t FACTS < <(printf '%s' "${output%.}")
}

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

# is_trained RUN_DIR: the run is trained to its end, its train.log's last session says why training stopped
# (macaron_tools/runs/trained.py, the one check of it).
is_trained() { python -m macaron_tools.runs.trained "$1"; }

require_fairseq() {
  command -v fairseq-train >/dev/null 2>&1 \
    || die "fairseq-train not found: run 'bash scripts/setup.sh' (or activate an environment with fairseq)"
}
