#!/usr/bin/env bash
# The main job: Macaron Net against its parameter-matched Transformer twin, from a fresh clone to a results table.
#
#   bash scripts/main.sh [--help]
#
# Sets up .venv when needed (scripts/setup.sh), prepares Multi30k De->En (from $MULTI30K_RAW_DIR, else
# downloaded from GitHub; when neither works, a synthetic corpus this project generates), then trains the baseline
# and the Macaron model of setting multi30k-quick, evaluates both and prints the comparison, which it also writes
# to results/multi30k-quick.md (results/synthetic-quick.md on the synthetic corpus). On a GPU it uses the GPU.
#
# Environment: MULTI30K_RAW_DIR (folder of Multi30k's raw .gz files), MAIN_MAX_UPDATE (updates per model,
# default: the setting's), MAIN_SEEDS (default "1").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
case "${1:-}" in
  "") ;;
  -h|--help) usage; exit 0 ;;
  *) usage_error "unknown argument '$1': main.sh takes none (its settings are the environment variables above)" ;;
esac

# The environment is checked before the set-up, which can take minutes. A MULTI30K_RAW_DIR the corpus cannot be
# read from stops the job: the synthetic fallback is for a machine that cannot download it, not for a wrong path.
[[ -z "${MULTI30K_RAW_DIR:-}" || -d "$MULTI30K_RAW_DIR" ]] \
  || die "MULTI30K_RAW_DIR=$MULTI30K_RAW_DIR is not a folder: set it to the folder of Multi30k's raw .gz files," \
    "or unset it to download them"
[[ -z "${MAIN_MAX_UPDATE:-}" || "$MAIN_MAX_UPDATE" =~ ^[1-9][0-9]*$ ]] \
  || die "MAIN_MAX_UPDATE=$MAIN_MAX_UPDATE: give a number of updates, 1 or more (or unset it for the setting's)"
[[ -z "${MAIN_SEEDS+set}" || "$MAIN_SEEDS" =~ ^[[:space:]]*[0-9]+([[:space:]]+[0-9]+)*[[:space:]]*$ ]] \
  || die "MAIN_SEEDS=$MAIN_SEEDS: give whole numbers separated by spaces, e.g. MAIN_SEEDS=\"1 2\""

echo "[main] setting up the environment (scripts/setup.sh)"
set_up_environment

SETTING=multi30k-quick
DATA=()  # the setting's own data, data/data-bin/multi30k.de-en
if bash "$ROOT/scripts/prepare-multi30k.sh"; then
  CORPUS="Multi30k (${MULTI30K_RAW_DIR:-downloaded})"
  OUTPUT="$ROOT/results/multi30k-quick.md"
  RUNS_DIR="$ROOT/checkpoints/multi30k-quick"
elif [[ -n "${MULTI30K_RAW_DIR:-}" ]]; then
  exit 1  # prepare-multi30k.sh has said what MULTI30K_RAW_DIR lacks
else
  echo "[main] Multi30k is not reachable (set MULTI30K_RAW_DIR to a folder of its raw .gz files to use it):" \
       "using a synthetic German-English corpus instead"
  SYNTHETIC_RAW="$ROOT/data/work/synthetic-raw"
  python -m macaron_tools.data.toy_corpus "$SYNTHETIC_RAW" --train 20000 --eval 1000 >/dev/null
  DATA_DIR="$ROOT/data/data-bin/synthetic/multi30k.de-en"
  bash "$ROOT/scripts/prepare-multi30k.sh" --raw-dir "$SYNTHETIC_RAW" --out "$DATA_DIR" \
    --work-dir "$ROOT/data/work/synthetic"
  DATA=(--data-dir "$DATA_DIR")
  CORPUS="synthetic (python -m macaron_tools.data.toy_corpus)"
  OUTPUT="$ROOT/results/synthetic-quick.md"
  RUNS_DIR="$ROOT/checkpoints/synthetic-quick"
fi
echo "[main] corpus: $CORPUS"

DEVICE=()
[[ "$(cuda_device_count)" -gt 0 ]] || DEVICE=(--cpu)
COMPARE=(--setting "$SETTING" --seeds "${MAIN_SEEDS:-1}" --runs-dir "$RUNS_DIR" --output "$OUTPUT" "${DATA[@]}"
         "${DEVICE[@]}")
[[ -n "${MAIN_MAX_UPDATE:-}" ]] && COMPARE+=(--max-update "$MAIN_MAX_UPDATE")
bash "$ROOT/scripts/compare.sh" "${COMPARE[@]}" --command "bash scripts/main.sh   # corpus: $CORPUS"
