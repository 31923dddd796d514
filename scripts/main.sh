#!/usr/bin/env bash
# The main job: Macaron Net against its parameter-matched Transformer twin, from a fresh clone to a results table.
#
#   bash scripts/main.sh
#
# Sets up .venv when needed (scripts/setup.sh), prepares Multi30k De->En (from $MULTI30K_RAW_DIR, else
# downloaded from GitHub; when neither works, a synthetic corpus this project generates), then trains the baseline
# and the Macaron model of setting multi30k-quick, evaluates both and prints the comparison, which it also writes
# to results/multi30k-quick.md (results/synthetic-quick.md on the synthetic corpus). On a GPU it uses the GPU.
#
# Environment: MULTI30K_RAW_DIR (folder of Multi30k's raw .gz files), MAIN_MAX_UPDATE (updates per model,
# default: the setting's), MAIN_SEEDS (default "1").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

echo "[main] setting up the environment (scripts/setup.sh)"
bash "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/lib/env.sh"

SETTING=multi30k-quick
if bash "$ROOT/scripts/prepare-multi30k.sh"; then
  CORPUS="Multi30k (${MULTI30K_RAW_DIR:-downloaded})"
  OUTPUT="$ROOT/results/multi30k-quick.md"
  RUNS_DIR="$ROOT/checkpoints/multi30k-quick"
else
  echo "[main] Multi30k is not reachable (set MULTI30K_RAW_DIR to a folder of its raw .gz files to use it):" \
       "using a synthetic German-English corpus instead"
  SYNTHETIC_RAW="$ROOT/data/work/synthetic-raw"
  python -m macaron_fairseq.data.toy_corpus "$SYNTHETIC_RAW" --train 20000 --eval 1000 >/dev/null
  export DATA_BIN="$ROOT/data/data-bin/synthetic"
  bash "$ROOT/scripts/prepare-multi30k.sh" --raw-dir "$SYNTHETIC_RAW"
  CORPUS="synthetic (python -m macaron_fairseq.data.toy_corpus)"
  OUTPUT="$ROOT/results/synthetic-quick.md"
  RUNS_DIR="$ROOT/checkpoints/synthetic-quick"
fi
echo "[main] corpus: $CORPUS"

DEVICE=()
if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  DEVICE=(--cpu)
fi
COMPARE=(--setting "$SETTING" --seeds "${MAIN_SEEDS:-1}" --runs-dir "$RUNS_DIR" --output "$OUTPUT" "${DEVICE[@]}")
[[ -n "${MAIN_MAX_UPDATE:-}" ]] && COMPARE+=(--max-update "$MAIN_MAX_UPDATE")
COMPARE_COMMAND="bash scripts/main.sh   # corpus: $CORPUS" bash "$ROOT/scripts/compare.sh" "${COMPARE[@]}"
