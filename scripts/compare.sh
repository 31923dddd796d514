#!/usr/bin/env bash
# Trains (or takes already trained) baseline and Macaron runs of one setting, evaluates them, and writes the
# comparison: results/SETTING.md (architecture, parameters, BLEU both ways with mean and spread over seeds,
# training time and tokens/s, decoding sentences/s, paired bootstrap significance) and a validation-loss plot.
#
#   scripts/compare.sh --setting S [options] [-- extra scripts/train.sh options]
#
# Options:
#   --seeds "1 2"        one run per model and seed (default: 1)
#   --max-update N       update limit of every run (default: the setting's)
#   --runs-dir DIR       where the runs live, DIR/{baseline,macaron}-seedN (default: checkpoints/SETTING)
#   --data-dir DIR       binarized data (default: $DATA_BIN/DATA_NAME)
#   --output FILE        the report (default: results/SETTING.md; the plot beside it)
#   --average N          evaluate the average of the last N epoch checkpoints (default: checkpoint_best.pt)
#   --splits "A B"       test splits to decode (default: test, and test1 where the data has it)
#   --cpu                train and decode on the CPU
#   --post-norm          post-norm layers for both models
#   --targets            add the benchmark's targets (cost ratios, BLEU gain) and whether they are met
#
# A run whose train.log ends in "done training" is taken as it is; an unfinished one resumes from its last
# checkpoint. Options after -- go to scripts/train.sh (e.g. -- --gpus 0,1 --precision bf16).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
source "$ROOT/scripts/settings.sh"
ORIGINAL_ARGS=("$@")

SETTING= SEEDS=1 SPLITS= MAX_UPDATE_ARG= RUNS_DIR= DATA_DIR= OUTPUT= AVERAGE= USE_CPU=0 POST_NORM=0 REPORT_FLAGS=()
TRAIN_EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setting) need_value "$@"; SETTING="$2"; shift 2 ;;
    --seeds) need_value "$@"; SEEDS="$2"; shift 2 ;;
    --max-update) need_value "$@"; MAX_UPDATE_ARG="$2"; shift 2 ;;
    --runs-dir) need_value "$@"; RUNS_DIR="$2"; shift 2 ;;
    --data-dir) need_value "$@"; DATA_DIR="$2"; shift 2 ;;
    --output) need_value "$@"; OUTPUT="$2"; shift 2 ;;
    --average) need_value "$@"; AVERAGE="$2"; shift 2 ;;
    --splits) need_value "$@"; SPLITS="$2"; shift 2 ;;
    --cpu) USE_CPU=1; shift ;;
    --post-norm) POST_NORM=1; shift ;;
    --targets) REPORT_FLAGS+=(--targets); shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; TRAIN_EXTRA=("$@"); break ;;
    *) die "unknown option '$1' (see scripts/compare.sh --help)" 2 ;;
  esac
done
require_setting "$SETTING"
read -r -a SEED_LIST <<<"$SEEDS"
[[ ${#SEED_LIST[@]} -gt 0 ]] || die "--seeds names no seed, e.g. --seeds \"1 2\"" 2
for seed in "${SEED_LIST[@]}"; do [[ "$seed" =~ ^[0-9]+$ ]] || die "seed '$seed' is not a whole number" 2; done
DATA_DIR="${DATA_DIR:-$DATA_BIN/$DATA_NAME}"
[[ -d "$DATA_DIR/refs" ]] || die "no references in $DATA_DIR/refs: prepare the data of setting $SETTING first (scripts/prepare-*.sh) or pass --data-dir"
DATA_DIR="$(cd "$DATA_DIR" && pwd)"
NORM_NAME=$([[ $POST_NORM -eq 1 ]] && echo "-postnorm" || true)
RUNS_DIR="${RUNS_DIR:-$ROOT/checkpoints/$SETTING}"
OUTPUT="${OUTPUT:-$ROOT/results/$SETTING$NORM_NAME.md}"
require_fairseq

COMMON_TRAIN=(--setting "$SETTING" --data-dir "$DATA_DIR")
[[ -n "$MAX_UPDATE_ARG" ]] && COMMON_TRAIN+=(--max-update "$MAX_UPDATE_ARG")
[[ $USE_CPU -eq 1 ]] && COMMON_TRAIN+=(--cpu)
[[ $POST_NORM -eq 1 ]] && COMMON_TRAIN+=(--post-norm)
EVAL_OPTIONS=(--setting "$SETTING" --data-dir "$DATA_DIR")
[[ $USE_CPU -eq 1 ]] && EVAL_OPTIONS+=(--cpu)
[[ -n "$AVERAGE" ]] && EVAL_OPTIONS+=(--average "$AVERAGE")
[[ -n "$SPLITS" ]] && EVAL_OPTIONS+=(--splits "$SPLITS")

declare -A RUN_DIRS=([baseline]="" [macaron]="")
for seed in "${SEED_LIST[@]}"; do
  for model in baseline macaron; do
    run_dir="$RUNS_DIR/$model$NORM_NAME-seed$seed"
    RUN_DIRS[$model]+="$run_dir "
    if [[ -f "$run_dir/train.log" ]] && tail -n 5 "$run_dir/train.log" | grep -q "done training"; then
      echo "[compare] $model seed $seed: taking the finished run in $run_dir"
    else
      echo "[compare] $model seed $seed: training into $run_dir"
      # progress: one line per validation
      mkdir -p "$run_dir"
      python -m macaron_fairseq.evaluation.peak_memory --output "$run_dir/peak_memory.json" -- \
        bash "$ROOT/scripts/train.sh" "${COMMON_TRAIN[@]}" --model "$model" --seed "$seed" --save-dir "$run_dir" \
        "${TRAIN_EXTRA[@]}" | valid_progress || die "training $model seed $seed failed: see $run_dir/train.log"
      echo "[compare]   $(grep -m1 -o 'done training in .*' "$run_dir/train.log" || echo 'done')"
      rm -f "$run_dir/eval/result.json"  # a new model needs a new evaluation
    fi
    if [[ ! -f "$run_dir/eval/result.json" ]]; then
      echo "[compare] $model seed $seed: evaluating"
      bash "$ROOT/scripts/evaluate.sh" "${EVAL_OPTIONS[@]}" --checkpoint-dir "$run_dir" >"$run_dir/evaluate.log" 2>&1 \
        || die "evaluating $model seed $seed failed: see $run_dir/evaluate.log"
    fi
  done
done

echo "[compare] writing $OUTPUT"
read -r -a BASELINE_RUNS <<<"${RUN_DIRS[baseline]}"
read -r -a MACARON_RUNS <<<"${RUN_DIRS[macaron]}"
python -m macaron_fairseq.evaluation.comparison --setting "$SETTING$NORM_NAME" \
  --baseline "${BASELINE_RUNS[@]}" --macaron "${MACARON_RUNS[@]}" \
  --references "$DATA_DIR/refs" --target-lang "$TGT_LANG" --output "$OUTPUT" "${REPORT_FLAGS[@]}" \
  --command "${COMPARE_COMMAND:-scripts/compare.sh $(printf '%q ' "${ORIGINAL_ARGS[@]}")}"
