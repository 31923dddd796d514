#!/usr/bin/env bash
# Trains (or takes already trained) baseline and Macaron runs of one setting, evaluates them, and writes the
# comparison: results/SETTING.md (architecture, parameters, BLEU both ways with mean and spread over seeds,
# training time and tokens/s, decoding sentences/s, paired bootstrap significance) and a validation-loss plot.
#
#   scripts/compare.sh --setting S [options] [-- extra scripts/train.sh options]
#
# On a language-model setting (lm-quick, mlm-quick, wikitext103-lm, bert-base; data of scripts/prepare-lm.sh) the
# runs train the same way, and each is scored by its perplexity on valid and test instead of BLEU
# (macaron_tools/scoring/lm_evaluation.py: fairseq-eval-lm for a causal LM, fairseq-validate's masked-token
# loss for a masked LM), side by side as well; the report (macaron_tools/reports/lm_comparison.py) gives the
# perplexities' mean and spread over seeds, each pair's difference, tokens/s and peak memory ratios, and the
# validation-loss plot. --average, --comet-model and --targets are translation's only; --splits names the splits
# to score (default "valid test").
#
# Options:
#   --seeds "1 2"        one run per model and seed (default: 1)
#   --max-update N       update limit of every run (default: the setting's)
#   --runs-dir DIR       where the runs live, DIR/{baseline,macaron}-seedN (default: checkpoints/SETTING)
#   --data-dir DIR       prepared data, any corpus (default: data/data-bin/ and the setting's usual data)
#   --output FILE        the report (default: results/SETTING.md; the plot beside it)
#   --average N          evaluate the average of the last N epoch checkpoints (default: checkpoint_best.pt)
#   --splits "A B"       test splits to decode (default: test, and test1 where the data has it)
#   --cpu                train and decode on the CPU
#   --parallel           train each seed's two runs at the same time, each on half the CPU cores (pinned, with
#                        that many threads) or on its own GPU (both on one GPU when there is only one); the default
#                        with --cpu on 2 or more cores, and with 2 or more GPUs. The report says how they shared
#   --sequential         train the runs one after the other, each on the whole machine
#   --patience N         stop a run after N validations without a lower validation loss (default: the setting's;
#                        0 = train to --max-update); the report records why each run stopped
#   --comet-model FILE   also score COMET with this local COMET checkpoint (see scripts/evaluate.sh)
#   --post-norm          post-norm layers for both models
#   --targets            add the benchmark's targets (cost ratios, BLEU gain) and whether they are met
#   --command TEXT       the command the report names as its producer (default: this compare.sh command, its
#                        paths inside the repository written relative to its root)
#
# A run whose train.log ends in "done training" is taken as it is; an unfinished one resumes from its last
# checkpoint. Options after -- go to scripts/train.sh (e.g. -- --gpus 0,1 --precision bf16).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
source "$ROOT/scripts/settings.sh"
with_lm_settings
ORIGINAL_ARGS=("$@")

REPORT_COMMAND= SETTING= SEEDS=1 PARALLEL= PATIENCE_ARG= COMET_MODEL= SPLITS= MAX_UPDATE_ARG= RUNS_DIR= DATA_DIR= OUTPUT= AVERAGE= USE_CPU=0 POST_NORM=0 REPORT_FLAGS=()
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
    --parallel) PARALLEL=1; shift ;;
    --sequential) PARALLEL=0; shift ;;
    --patience) need_value "$@"; PATIENCE_ARG="$2"; shift 2 ;;
    --comet-model) need_value "$@"; COMET_MODEL="$2"; shift 2 ;;
    --post-norm) POST_NORM=1; shift ;;
    --targets) REPORT_FLAGS+=(--targets); shift ;;
    --command) need_value "$@"; REPORT_COMMAND="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; TRAIN_EXTRA=("$@"); break ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
require_setting "$SETTING"
read -r -a SEED_LIST <<<"$SEEDS"
[[ ${#SEED_LIST[@]} -gt 0 ]] || usage_error "--seeds names no seed, e.g. --seeds \"1 2\""
for seed in "${SEED_LIST[@]}"; do [[ "$seed" =~ ^[0-9]+$ ]] || usage_error "seed '$seed' is not a whole number"; done
DATA_DIR="${DATA_DIR:-$DATA_BIN_DIR/$DATA_NAME}"
if [[ "$TASK" == translation ]]; then
  [[ -d "$DATA_DIR/refs" ]] || die "no references in $DATA_DIR/refs: prepare the data of setting $SETTING first (scripts/prepare-*.sh) or pass --data-dir"
  DATA_DIR="$(cd "$DATA_DIR" && pwd)"
  corpus_facts "$DATA_DIR" tgt
  TGT_LANG="${FACTS[0]}"
else
  [[ -z "$AVERAGE" && -z "$COMET_MODEL" && ${#REPORT_FLAGS[@]} -eq 0 ]] \
    || usage_error "--average, --comet-model and --targets are for translation settings, not $TASK ($SETTING)"
  [[ -f "$DATA_DIR/dict.txt" ]] || die "no dict.txt in $DATA_DIR: prepare the text of setting $SETTING first" \
    "(scripts/prepare-lm.sh) or pass --data-dir"
  DATA_DIR="$(cd "$DATA_DIR" && pwd)"
fi
NORM_NAME="$(norm_suffix "$POST_NORM")"
RUNS_DIR="${RUNS_DIR:-$ROOT/checkpoints/$SETTING}"
OUTPUT="${OUTPUT:-$ROOT/results/$SETTING$NORM_NAME.md}"
require_fairseq
if [[ -z "$REPORT_COMMAND" ]]; then
  REPORT_ARGS=()
  for argument in "${ORIGINAL_ARGS[@]}"; do REPORT_ARGS+=("$(root_relative "$argument")"); done
  REPORT_COMMAND="scripts/compare.sh$(printf ' %q' "${REPORT_ARGS[@]}")"
fi

COMMON_TRAIN=(--setting "$SETTING" --data-dir "$DATA_DIR")
[[ -n "$MAX_UPDATE_ARG" ]] && COMMON_TRAIN+=(--max-update "$MAX_UPDATE_ARG")
[[ -n "$PATIENCE_ARG" ]] && COMMON_TRAIN+=(--patience "$PATIENCE_ARG")
[[ $USE_CPU -eq 1 ]] && COMMON_TRAIN+=(--cpu)
[[ $POST_NORM -eq 1 ]] && COMMON_TRAIN+=(--post-norm)
EVAL_OPTIONS=(--setting "$SETTING" --data-dir "$DATA_DIR")
[[ $USE_CPU -eq 1 ]] && EVAL_OPTIONS+=(--cpu)
[[ -n "$AVERAGE" ]] && EVAL_OPTIONS+=(--average "$AVERAGE")
[[ -n "$SPLITS" ]] && EVAL_OPTIONS+=(--splits "$SPLITS")
[[ -n "$COMET_MODEL" ]] && EVAL_OPTIONS+=(--comet-model "$COMET_MODEL")
# each run's evaluation: the command side_by_side.py runs ({run_dir}: the run's), and the record it leaves
if [[ "$TASK" == translation ]]; then
  EVAL_COMMAND=(bash "$ROOT/scripts/evaluate.sh" "${EVAL_OPTIONS[@]}" --checkpoint-dir "{run_dir}")
  EVAL_RECORD=eval/result.json
else
  EVAL_COMMAND=(python -m macaron_tools.scoring.lm_evaluation --task "$TASK" --data-dir "$DATA_DIR"
                --checkpoint-dir "{run_dir}")
  [[ $USE_CPU -eq 1 ]] && EVAL_COMMAND+=(--cpu)
  [[ -n "$SPLITS" ]] && EVAL_COMMAND+=(--splits $SPLITS)
  EVAL_COMMAND+=(-- "${EVAL_FLAGS[@]}")
  EVAL_RECORD=eval/lm_result.json
fi

# Side by side: each seed's two runs train at the same time, each on half the cores (or its own GPU); the default
# on a CPU machine of 2 or more cores and with 2 or more GPUs. Otherwise one after the other, on the whole machine.
if [[ $USE_CPU -eq 0 ]]; then
  GPU_COUNT=$(cuda_device_count)
  [[ $GPU_COUNT -gt 0 ]] || die "no CUDA device found: pass --cpu to train and decode on the CPU"
fi
if [[ -z $PARALLEL ]]; then
  if [[ $USE_CPU -eq 1 ]]; then
    PARALLEL=$([[ $(usable_cpu_count) -ge 2 ]] && echo 1 || echo 0)
  else
    PARALLEL=$([[ $GPU_COUNT -ge 2 ]] && echo 1 || echo 0)
  fi
fi
SHARE=()
if [[ $PARALLEL -eq 1 && $USE_CPU -eq 1 ]]; then
  SHARE=(--cpu)
elif [[ $PARALLEL -eq 1 ]]; then
  SHARE=(--gpus $(seq 0 $((GPU_COUNT - 1))))  # one GPU: both runs share it
fi
mkdir -p "$RUNS_DIR" 2>/dev/null && [[ -w "$RUNS_DIR" ]] \
  || die "cannot write to --runs-dir $RUNS_DIR: pass a folder you can write to"

# train RUN_DIR...: the given runs of one seed, side by side or alone; each directory is MODEL...-seedN
train_runs() {
  local seed=$1; shift
  local runs=() run_dir
  for run_dir in "$@"; do runs+=(--run "$(basename "$run_dir" | sed 's/-.*//')" "$run_dir"); done
  python -m macaron_tools.runs.side_by_side --label "seed $seed" "${SHARE[@]}" "${runs[@]}" -- \
    bash "$ROOT/scripts/train.sh" "${COMMON_TRAIN[@]}" --model "{model}" --seed "$seed" --save-dir "{run_dir}" \
    "${TRAIN_EXTRA[@]}" || exit 1  # side_by_side said which run failed, and where its log is
  for run_dir in "$@"; do
    echo "[compare]   $(basename "$run_dir"): $(grep -m1 -o 'done training in .*' "$run_dir/train.log" || echo 'done')"
    rm -f "$run_dir/$EVAL_RECORD"  # a new model needs a new evaluation
  done
}

# evaluate RUN_DIR...: decode and score the given runs of one seed, side by side (as they trained, so that their
# decoding speeds compare like with like) or alone; each run's output goes to its evaluate.log
evaluate_runs() {
  local seed=$1; shift
  local runs=() run_dir
  for run_dir in "$@"; do runs+=(--run "$(basename "$run_dir" | sed 's/-.*//')" "$run_dir"); done
  python -m macaron_tools.runs.side_by_side --stage evaluation --label "seed $seed" "${SHARE[@]}" \
    "${runs[@]}" -- "${EVAL_COMMAND[@]}" || exit 1
}

declare -A RUN_DIRS=([baseline]="" [macaron]="")
for seed in "${SEED_LIST[@]}"; do
  unfinished=()
  for model in baseline macaron; do
    run_dir="$(run_dir "$RUNS_DIR" "$model" "$seed" "$POST_NORM")"
    RUN_DIRS[$model]+="$run_dir "
    if is_trained "$run_dir"; then
      echo "[compare] $model seed $seed: taking the finished run in $run_dir"
    else
      echo "[compare] $model seed $seed: training into $run_dir"
      unfinished+=("$run_dir")
    fi
  done
  if ((${#unfinished[@]})); then
    if [[ $PARALLEL -eq 1 ]]; then
      train_runs "$seed" "${unfinished[@]}"
    else
      for run_dir in "${unfinished[@]}"; do train_runs "$seed" "$run_dir"; done
    fi
  fi
  unevaluated=()
  for model in baseline macaron; do
    run_dir="$(run_dir "$RUNS_DIR" "$model" "$seed" "$POST_NORM")"
    if [[ ! -f "$run_dir/$EVAL_RECORD" ]]; then
      echo "[compare] $model seed $seed: evaluating"
      unevaluated+=("$run_dir")
    fi
  done
  if ((${#unevaluated[@]})); then
    if [[ $PARALLEL -eq 1 ]]; then
      evaluate_runs "$seed" "${unevaluated[@]}"
    else
      for run_dir in "${unevaluated[@]}"; do evaluate_runs "$seed" "$run_dir"; done
    fi
  fi
done

echo "[compare] writing $OUTPUT"
read -r -a BASELINE_RUNS <<<"${RUN_DIRS[baseline]}"
read -r -a MACARON_RUNS <<<"${RUN_DIRS[macaron]}"
if [[ "$TASK" != translation ]]; then
  python -m macaron_tools.reports.lm_comparison --setting "$SETTING$NORM_NAME" --task "$TASK" \
    --baseline "${BASELINE_RUNS[@]}" --macaron "${MACARON_RUNS[@]}" --output "$OUTPUT" --command "$REPORT_COMMAND"
  exit
fi
python -m macaron_tools.reports.comparison --setting "$SETTING$NORM_NAME" \
  --baseline "${BASELINE_RUNS[@]}" --macaron "${MACARON_RUNS[@]}" \
  --references "$DATA_DIR/refs" --target-lang "$TGT_LANG" --output "$OUTPUT" "${REPORT_FLAGS[@]}" \
  --command "$REPORT_COMMAND"
