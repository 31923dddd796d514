#!/usr/bin/env bash
# Benchmark of the four splitting schemes of --macaron-scheme on Multi30k De->En, on the CPU: does a layer that is
# a more accurate splitting step of its own ODE (a lower splitting error) translate better?
#
#   bash benchmarks/schemes.sh [options] [-- extra scripts/train.sh options]
#
# Options:
#   --seeds "1 2"          seeds; each trains the four schemes (default: "1 2")
#   --max-update N         update limit of every run (default: the multi30k-quick setting's, 600)
#   --runs-dir DIR         where the runs live, DIR/SCHEME-seedN (default: checkpoints/schemes)
#   --output FILE          the report (default: results/schemes.md; its JSON summary beside it)
#   --data-dir DIR         prepared data (default: data/data-bin/multi30k.de-en, prepared by
#                          scripts/prepare-multi30k.sh when absent)
#   --splits "A B"         test splits to decode (default: test and test1, the two Flickr test sets)
#   --probe-sentences N    sentences of the valid split the splitting probe reads per model (default: 100, about
#                          1,400 positions; the probe integrates every layer in float64, a minute or two per model)
#   --quick                a smoke run of the same pipeline: seed 1, 40 updates, a probe of 20 sentences,
#                          checkpoints/schemes-quick and results/schemes-quick.md (options given beside it win)
#   --dry-run              print every command, run none
#
# Every run is the multi30k-quick recipe (d 128, 4 heads, 2+2 pre-norm layers, scripts/settings.sh) with its
# --macaron-scheme and the FFN width that keeps it at the baseline's parameter count: two FFNs of 256 for strang,
# one of 512 for strang-tied, lie-trotter and reversed-lie-trotter (benchmarks/lib/train-scheme.sh, the one
# definition of the scheme -> flags mapping).
#
# Each seed trains its four runs as two pairs side by side, each run pinned to half of the cores with that many
# threads, so that a pair's speed ratio compares like with like:
#   - strang with lie-trotter: the paper's comparison, Macaron against the Transformer's own layer order
#     (lie-trotter is fairseq's layer on the plugin's code path), at the same FFN compute;
#   - strang-tied with reversed-lie-trotter: the same one full-width FFN, which both layers run first (strang-tied
#     adds only a LayerNorm per layer), so their ratio is the price of strang-tied running its FFN twice.
# Each pair holds one second-order (Strang) and one first-order (Lie-Trotter) scheme. Speeds are compared within
# a pair only: the two pairs train at different times, under whatever else the machine runs then.
#
# Each pair is then evaluated side by side by scripts/evaluate.sh (checkpoint_best.pt, beam 5: sacreBLEU, chrF,
# tokenized BLEU; RUN/evaluate.log) and probed by python -m macaron_tools.probe.splitting (step sizes
# and splitting error per layer, on the first N valid sentences: RUN/splitting.json and splitting.log). The
# report (python -m macaron_tools.reports.scheme_comparison) gives per scheme its parameters, BLEU and chrF
# (mean +- sd over seeds), training tokens/s and each pair's ratio, the mean splitting error per stack and per
# layer, and the rank correlation over runs between splitting error and BLEU, and quotes the command that
# produced it.
#
# Resumable: a finished run (train.log says "done training") is taken as it is, and only what it lacks of
# eval/result.json and splitting.json is made; an unfinished one resumes from its checkpoint_last.pt, so the
# same command, run again, continues where it stopped. A finished run trained to another --max-update is
# refused: give another --runs-dir.
# Options after -- go to scripts/train.sh (e.g. -- --max-tokens 1000), and after a second -- to fairseq-train;
# the scheme, the FFN widths and what this script sets itself are refused there. Multi30k's raw files come from
# $MULTI30K_RAW_DIR, else ../shared/data/multi30k beside the repository, else they are downloaded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/env.sh"
source "$ROOT/scripts/settings.sh"
source "$ROOT/benchmarks/lib/common.sh"
source "$ROOT/benchmarks/lib/schemes.sh"
ORIGINAL_ARGS=("$@")

SETTING=multi30k-quick
PAIRS=("strang lie-trotter" "strang-tied reversed-lie-trotter")
SEEDS= MAX_UPDATE_ARG= RUNS_DIR= OUTPUT= DATA_DIR= SPLITS= PROBE_SENTENCES= QUICK=0 DRY_RUN=0
TRAIN_EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) need_value "$@"; SEEDS="$2"; shift 2 ;;
    --max-update) need_value "$@"; MAX_UPDATE_ARG="$2"; shift 2 ;;
    --runs-dir) need_value "$@"; RUNS_DIR="$2"; shift 2 ;;
    --output) need_value "$@"; OUTPUT="$2"; shift 2 ;;
    --data-dir) need_value "$@"; DATA_DIR="$2"; shift 2 ;;
    --splits) need_value "$@"; SPLITS="$2"; shift 2 ;;
    --probe-sentences) need_value "$@"; PROBE_SENTENCES="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; TRAIN_EXTRA=("$@"); break ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
if [[ $QUICK -eq 1 ]]; then
  SEEDS="${SEEDS:-1}" MAX_UPDATE_ARG="${MAX_UPDATE_ARG:-40}" PROBE_SENTENCES="${PROBE_SENTENCES:-20}"
  RUNS_DIR="${RUNS_DIR:-$ROOT/checkpoints/schemes-quick}" OUTPUT="${OUTPUT:-$ROOT/results/schemes-quick.md}"
fi
load_setting "$SETTING"
SEEDS="${SEEDS:-1 2}" PROBE_SENTENCES="${PROBE_SENTENCES:-100}"
MAX_UPDATE="${MAX_UPDATE_ARG:-$MAX_UPDATE}"
RUNS_DIR="$(absolute_path "${RUNS_DIR:-$ROOT/checkpoints/schemes}")"
OUTPUT="$(absolute_path "${OUTPUT:-$ROOT/results/schemes.md}")"

read -r -a SEED_LIST <<<"$SEEDS"
[[ ${#SEED_LIST[@]} -gt 0 ]] || usage_error "--seeds names no seed, e.g. --seeds \"1 2\""
for seed in "${SEED_LIST[@]}"; do [[ "$seed" =~ ^[0-9]+$ ]] || usage_error "seed '$seed' is not a whole number"; done
[[ "$MAX_UPDATE" =~ ^[0-9]+$ && "$MAX_UPDATE" -gt 0 ]] \
  || usage_error "--max-update must be a whole number above 0, got '$MAX_UPDATE'"
[[ "$PROBE_SENTENCES" =~ ^[0-9]+$ && "$PROBE_SENTENCES" -gt 0 ]] \
  || usage_error "--probe-sentences must be a whole number above 0, got '$PROBE_SENTENCES'"
[[ "$OUTPUT" == *.md ]] || usage_error "--output must name a .md file (its .json goes beside it), got '$OUTPUT'"
for argument in "${TRAIN_EXTRA[@]}"; do
  [[ "$argument" == -- ]] && break  # fairseq-train's flags, which train-scheme.sh checks
  case "$argument" in
    --setting|--model|--seed|--save-dir|--data-dir|--max-update|--cpu|--gpus)
      usage_error "$argument after -- is this script's to set: use its own options (--seeds, --runs-dir," \
        "--data-dir, --max-update), the runs are on the CPU" ;;
  esac
done

load_schemes
PAIRED=()
for pair in "${PAIRS[@]}"; do read -r -a members <<<"$pair"; PAIRED+=("${members[@]}"); done
for scheme in "${SCHEMES[@]}"; do
  [[ " ${PAIRED[*]} " == *" $scheme "* ]] \
    || die "scheme $scheme is in no pair of benchmarks/schemes.sh: add it to PAIRS there"
done

if [[ -z "$DATA_DIR" ]]; then
  PREPARE=1
  DATA_DIR="$DATA_BIN_DIR/$DATA_NAME"
  use_shared_multi30k
else
  PREPARE=0
  [[ -d "$DATA_DIR" ]] || die "--data-dir $DATA_DIR is not a folder: prepare the data first (scripts/prepare-*.sh)"
fi
DATA_DIR="$(absolute_path "$DATA_DIR")"

REPORT_ARGS=()
for argument in "${ORIGINAL_ARGS[@]}"; do REPORT_ARGS+=("$(root_relative "$argument")"); done
REPORT_COMMAND="bash benchmarks/schemes.sh"
((${#REPORT_ARGS[@]} == 0)) || REPORT_COMMAND+="$(printf ' %q' "${REPORT_ARGS[@]}")"

TRAIN_OPTIONS=(--setting "$SETTING" --data-dir "$DATA_DIR" --max-update "$MAX_UPDATE" --cpu)
EVAL_OPTIONS=(--setting "$SETTING" --data-dir "$DATA_DIR" --cpu)
[[ -n "$SPLITS" ]] && EVAL_OPTIONS+=(--splits "$SPLITS")

# Every scheme's command line is checked (train.sh --dry-run) before anything runs or is written.
# Only its errors are shown: train.sh's notes on the batch size would repeat once per scheme.
for scheme in "${SCHEMES[@]}"; do
  status=0
  checked="$(bash "$ROOT/benchmarks/lib/train-scheme.sh" "$scheme" "${TRAIN_OPTIONS[@]}" --seed "${SEED_LIST[0]}" \
    --save-dir "$(run_dir "$RUNS_DIR" "$scheme" "${SEED_LIST[0]}" 0)" --dry-run "${TRAIN_EXTRA[@]}" 2>&1 >/dev/null)" \
    || status=$?
  if ((status)); then grep -v '^\[train\] note' <<<"$checked" >&2; DIED=1; exit "$status"; fi
done

# trained_max_update RUN_DIR: the --max-update the run was trained with, from its train_command.txt (nothing
# when it does not say)
trained_max_update() {
  { grep -o -- '--max-update [0-9]*' "$1/train_command.txt" 2>/dev/null || true; } | tail -n 1 | cut -d' ' -f2
}

# A finished run of another budget would be reported as what it is not: refused before anything runs.
for seed in "${SEED_LIST[@]}"; do
  for scheme in "${SCHEMES[@]}"; do
    run="$(run_dir "$RUNS_DIR" "$scheme" "$seed" 0)"
    if is_trained "$run"; then
      trained="$(trained_max_update "$run")"
      [[ -z "$trained" || "$trained" == "$MAX_UPDATE" ]] || die "$run was trained to --max-update $trained," \
        "not $MAX_UPDATE: pass --max-update $trained, or another --runs-dir for this budget"
    fi
  done
done

# show NAME COMMAND...: prints the command, its paths inside the repository relative to its root
show() {
  local name=$1 shown=() argument; shift
  for argument in "$@"; do shown+=("$(root_relative "$argument")"); done
  echo "[schemes] $name: $(printf '%q ' "${shown[@]}" | sed 's/ $//')"
}

# step NAME COMMAND...: shows the command and runs it, unless --dry-run
step() {
  show "$@"
  shift
  if [[ $DRY_RUN -eq 0 ]]; then "$@"; fi
}

# probe_runs SEED --run SCHEME RUN_DIR [--run SCHEME RUN_DIR]: the splitting probe of each run into
# RUN_DIR/splitting.json, side by side as they trained (each one's output in RUN_DIR/splitting.log)
probe_runs() {
  local seed=$1 share=(); shift
  (($# > 3)) && share=(--cpu)
  step "probe seed $seed" python -m macaron_tools.runs.side_by_side --stage probe --label "seed $seed" \
    "${share[@]}" "$@" -- python -m macaron_tools.probe.splitting --path "{run_dir}/checkpoint_best.pt" \
    "$DATA_DIR" --subset valid --max-sentences "$PROBE_SENTENCES" --json "{run_dir}/splitting.json" \
    || exit 1  # side_by_side named the run and its log
}

started=$SECONDS
cd "$ROOT"
if [[ $DRY_RUN -eq 0 ]]; then
  set_up_environment
  require_fairseq
fi
if [[ $PREPARE -eq 1 ]]; then
  step "data" bash scripts/prepare-multi30k.sh --out "$DATA_DIR"
fi
if [[ $DRY_RUN -eq 0 ]]; then
  mkdir -p "$RUNS_DIR" "$(dirname "$OUTPUT")" 2>/dev/null && [[ -w "$RUNS_DIR" ]] \
    || die "cannot write to --runs-dir $RUNS_DIR or beside --output $OUTPUT: pass folders you can write to"
fi

REPORT_RUNS=()
for seed in "${SEED_LIST[@]}"; do
  for pair in "${PAIRS[@]}"; do
    read -r -a members <<<"$pair"
    unfinished=() unfinished_runs=()
    for scheme in "${members[@]}"; do
      run="$(run_dir "$RUNS_DIR" "$scheme" "$seed" 0)"
      REPORT_RUNS+=(--run "$scheme" "$run")
      if [[ $DRY_RUN -eq 0 ]] && is_trained "$run"; then
        echo "[schemes] $scheme seed $seed: taking the finished run in $(root_relative "$run")"
      else
        [[ $DRY_RUN -eq 1 ]] || echo "[schemes] $scheme seed $seed: training into $(root_relative "$run")"
        unfinished+=(--run "$scheme" "$run")
        unfinished_runs+=("$run")
      fi
    done
    if ((${#unfinished_runs[@]})); then
      # Alone (its partner finished earlier) a run takes the whole machine, and the report says so.
      share=(); ((${#unfinished_runs[@]} > 1)) && share=(--cpu)
      step "train seed $seed" python -m macaron_tools.runs.side_by_side --label "seed $seed" \
        "${share[@]}" "${unfinished[@]}" -- bash "$ROOT/benchmarks/lib/train-scheme.sh" "{model}" \
        "${TRAIN_OPTIONS[@]}" --seed "$seed" --save-dir "{run_dir}" "${TRAIN_EXTRA[@]}" \
        || exit 1  # side_by_side said which run failed, and where its log is
      for run in "${unfinished_runs[@]}"; do
        rm -f "$run/eval/result.json" "$run/splitting.json"  # a new model needs new measurements
      done
    fi
    unevaluated=() unprobed=()
    for scheme in "${members[@]}"; do
      run="$(run_dir "$RUNS_DIR" "$scheme" "$seed" 0)"
      [[ $DRY_RUN -eq 0 && -f "$run/eval/result.json" ]] || unevaluated+=(--run "$scheme" "$run")
      [[ $DRY_RUN -eq 0 && -f "$run/splitting.json" ]] || unprobed+=(--run "$scheme" "$run")
    done
    if ((${#unevaluated[@]})); then
      # side by side as they trained, as compare.sh does (each run's output in its evaluate.log)
      share=(); ((${#unevaluated[@]} > 3)) && share=(--cpu)
      step "evaluate seed $seed" python -m macaron_tools.runs.side_by_side --stage evaluation \
        --label "seed $seed" "${share[@]}" "${unevaluated[@]}" -- bash "$ROOT/scripts/evaluate.sh" \
        "${EVAL_OPTIONS[@]}" --checkpoint-dir "{run_dir}" || exit 1  # side_by_side named the run and its log
    fi
    if ((${#unprobed[@]})); then probe_runs "$seed" "${unprobed[@]}"; fi
  done
done

step "report" python -m macaron_tools.reports.scheme_comparison --setting "$SETTING" "${REPORT_RUNS[@]}" \
  --output "$OUTPUT" --command "$REPORT_COMMAND"
[[ $DRY_RUN -eq 1 ]] || finished_in schemes "$started"
