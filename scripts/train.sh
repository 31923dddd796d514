#!/usr/bin/env bash
# Trains a Macaron model or its baseline twin with one setting's recipe (scripts/settings.sh) on prepared data.
#
#   scripts/train.sh --setting S --model {macaron,baseline} [options] [-- extra fairseq-train flags]
#
# Every setting trains with its own task (scripts/settings.sh): translation, or for lm-quick, mlm-quick,
# wikitext103-lm and bert-base language_modeling or masked_lm, on data of fairseq-preprocess --only-source
# (scripts/prepare-lm.sh).
#
# Options:
#   --setting S          the recipe: model, training and decoding (the settings are listed below)
#   --data-dir DIR       prepared data, any corpus and direction (default: data/data-bin/ and the setting's usual
#                        data); the direction is the data's own (DIR/corpus.json, or fairseq-preprocess's file names)
#   --save-dir DIR       checkpoints, train.log, train_command.txt and tensorboard/
#                        (default: checkpoints/SETTING/MODEL-seedN)
#   --seed N             (default: 1)
#   --max-update N       update limit (default: the setting's; 0 = none, as in the authors' scripts)
#   --patience N         stop after N validations without a lower validation loss (fairseq's --patience;
#                        default: the setting's; 0 = never)
#   --post-norm          post-norm layers instead of the recipe's pre-norm (both models alike; the settings whose
#                        pre-norm comes from their preset, wikitext103-lm, keep it, and the RoBERTa ones are post-norm)
#   --cpu                train on the CPU (small runs, tests)
#   --gpus LIST          CUDA devices to use, e.g. 0,1,2,3 (default: all visible)
#   --precision P        fp16 (default on GPUs), bf16, or fp32 (default on the CPU)
#   --max-tokens N       tokens per GPU per step (default: the recipe's)
#   --update-freq N      gradient accumulation (default: whatever keeps the recipe's tokens per update,
#                        MAX_TOKENS x RECIPE_GPUS x RECIPE_UPDATE_FREQ, on this many GPUs)
#   --nnodes N --node-rank R --master-addr HOST [--master-port PORT]
#                        multi-node: run this command on every node; launched through torchrun (GPUs only).
#                        --save-dir must be one folder all nodes see: rank 0 writes the checkpoints, and on a
#                        restart every rank looks for checkpoint_last.pt there
#   --dry-run            print the fairseq-train command (one line) and exit
#
# train_command.txt records the command with the paths inside the repository written relative to its root, as it
# runs from there.
#
# Single node, several GPUs: fairseq-train starts one process per visible GPU itself. Already inside a
# torchrun/SLURM launch (RANK, WORLD_SIZE, MASTER_ADDR set), fairseq picks that environment up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
source "$ROOT/scripts/settings.sh"
with_lm_settings

SETTING= MODEL= SAVE_DIR= SEED=1 MAX_UPDATE_ARG= PATIENCE_ARG= POST_NORM=0 DATA_DIR= USE_CPU=0 GPUS= PRECISION=
MAX_TOKENS_ARG= UPDATE_FREQ_ARG= NNODES=1 NODE_RANK=0 MASTER_ADDR_ARG= MASTER_PORT_ARG=29500 DRY_RUN=0
EXTRA_FLAGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setting) need_value "$@"; SETTING="$2"; shift 2 ;;
    --model) need_value "$@"; MODEL="$2"; shift 2 ;;
    --save-dir) need_value "$@"; SAVE_DIR="$2"; shift 2 ;;
    --seed) need_value "$@"; SEED="$2"; shift 2 ;;
    --max-update) need_value "$@"; MAX_UPDATE_ARG="$2"; shift 2 ;;
    --patience) need_value "$@"; PATIENCE_ARG="$2"; shift 2 ;;
    --post-norm) POST_NORM=1; shift ;;
    --data-dir) need_value "$@"; DATA_DIR="$2"; shift 2 ;;
    --cpu) USE_CPU=1; shift ;;
    --gpus) need_value "$@"; GPUS="$2"; shift 2 ;;
    --precision) need_value "$@"; PRECISION="$2"; shift 2 ;;
    --max-tokens) need_value "$@"; MAX_TOKENS_ARG="$2"; shift 2 ;;
    --update-freq) need_value "$@"; UPDATE_FREQ_ARG="$2"; shift 2 ;;
    --nnodes) need_value "$@"; NNODES="$2"; shift 2 ;;
    --node-rank) need_value "$@"; NODE_RANK="$2"; shift 2 ;;
    --master-addr) need_value "$@"; MASTER_ADDR_ARG="$2"; shift 2 ;;
    --master-port) need_value "$@"; MASTER_PORT_ARG="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA_FLAGS=("$@"); break ;;
    *) usage_error "unknown option '$1' (fairseq-train flags go after --)" ;;
  esac
done

require_setting "$SETTING"
case "$MODEL" in
  macaron) ARCH="$MACARON_ARCH"; ARCH_FLAGS=("${MACARON_FLAGS[@]}") ;;
  baseline) ARCH="$BASELINE_ARCH"; ARCH_FLAGS=("${BASELINE_FLAGS[@]}") ;;
  "") usage_error "--model is required: macaron or baseline" ;;
  *) usage_error "unknown model '$MODEL': choose macaron or baseline" ;;
esac
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_count "$SEED" || usage_error "--seed must be a whole number, got '$SEED'"
MAX_UPDATE="${MAX_UPDATE_ARG:-$MAX_UPDATE}"
is_count "$MAX_UPDATE" || usage_error "--max-update must be a whole number, got '$MAX_UPDATE'"
PATIENCE="${PATIENCE_ARG:-${PATIENCE:-0}}"
is_count "$PATIENCE" || usage_error "--patience must be a whole number, got '$PATIENCE'"
STOP_FLAGS=()
# fairseq counts patience in validations; 0 (fairseq's -1) trains to --max-update
[[ $PATIENCE -gt 0 ]] && STOP_FLAGS=(--patience "$PATIENCE")

if [[ $POST_NORM -eq 1 ]]; then
  pre_norm_flags=("${MODEL_FLAGS[@]}"); MODEL_FLAGS=()
  for flag in "${pre_norm_flags[@]}"; do
    [[ "$flag" == --encoder-normalize-before || "$flag" == --decoder-normalize-before ]] || MODEL_FLAGS+=("$flag")
  done
fi
SAVE_DIR="$(absolute_path "${SAVE_DIR:-$(run_dir "$ROOT/checkpoints/$SETTING" "$MODEL" "$SEED" "$POST_NORM")}")"
require_folder_path --save-dir "$SAVE_DIR"

DATA_DIR="$(absolute_path "${DATA_DIR:-$DATA_BIN_DIR/$DATA_NAME}")"
if [[ "$TASK" != translation ]]; then
  # one language: fairseq-preprocess --only-source's dict.txt and SPLIT.{bin,idx}
  [[ $DRY_RUN -eq 1 || -d "$DATA_DIR" ]] || die "data folder $DATA_DIR does not exist: prepare it" \
    "(scripts/prepare-lm.sh) or pass --data-dir"
elif [[ $DRY_RUN -eq 1 && ! -e "$DATA_DIR" ]]; then
  # Before the data is prepared, its folder's name tells the direction: the prepare scripts name it NAME.SRC-TGT.
  [[ "$DATA_DIR" =~ \.([A-Za-z0-9_]+)-([A-Za-z0-9_]+)$ ]] \
    || die "data folder $DATA_DIR does not exist: prepare it first (scripts/prepare-*.sh) or pass --data-dir"
  SRC_LANG="${BASH_REMATCH[1]}" TGT_LANG="${BASH_REMATCH[2]}"
else
  corpus_facts "$DATA_DIR" src tgt
  SRC_LANG="${FACTS[0]}" TGT_LANG="${FACTS[1]}"
fi
check_data_dir() {
  local f
  if [[ "$TASK" != translation ]]; then
    for f in dict.txt train.idx valid.idx; do
      [[ -f "$DATA_DIR/$f" ]] || die "$DATA_DIR has no $f: it is not monolingual data binarized with" \
        "fairseq-preprocess --only-source, with train and valid splits (prepare it with scripts/prepare-lm.sh)"
    done
    return
  fi
  for f in "dict.$SRC_LANG.txt" "dict.$TGT_LANG.txt" "train.$SRC_LANG-$TGT_LANG.$SRC_LANG.idx" \
           "valid.$SRC_LANG-$TGT_LANG.$TGT_LANG.idx"; do
    [[ -f "$DATA_DIR/$f" ]] || die "$DATA_DIR has no $f: it is not binarized $SRC_LANG-$TGT_LANG data with train and" \
      "valid splits (prepare it with scripts/prepare-*.sh)"
  done
}

# Devices and batch size: keep the recipe's tokens per update on whatever hardware this is.
if [[ $USE_CPU -eq 1 ]]; then
  DEVICES_PER_NODE=1
  DEVICE_FLAGS=(--cpu)
  PRECISION="${PRECISION:-fp32}"
else
  if [[ -n "$GPUS" ]]; then
    export CUDA_VISIBLE_DEVICES="$GPUS"
    DEVICES_PER_NODE=$(tr ',' '\n' <<<"$GPUS" | grep -c .)
  elif [[ $DRY_RUN -eq 1 ]] && ! command -v nvidia-smi >/dev/null 2>&1; then
    DEVICES_PER_NODE=$RECIPE_GPUS  # nothing to count: show the recipe's own command
  else
    DEVICES_PER_NODE=$(cuda_device_count)
    [[ "$DEVICES_PER_NODE" -gt 0 ]] || die "no CUDA device found: pass --cpu to train on the CPU, or --gpus to name devices"
  fi
  DEVICE_FLAGS=()
  PRECISION="${PRECISION:-fp16}"
fi
case "$PRECISION" in
  fp16) PRECISION_FLAGS=(--fp16) ;;
  bf16) PRECISION_FLAGS=(--bf16) ;;
  fp32) PRECISION_FLAGS=() ;;
  *) usage_error "unknown --precision '$PRECISION': choose fp16, bf16 or fp32" ;;
esac
[[ $USE_CPU -eq 1 && "$PRECISION" == fp16 ]] && usage_error "--precision fp16 needs a GPU: use bf16 or fp32 with --cpu"
is_count "$NNODES" && [[ $NNODES -ge 1 ]] || usage_error "--nnodes must be a positive whole number"
# fairseq 0.12 maps torchrun's ranks onto CUDA devices, dividing by their count: zero on the CPU.
[[ $USE_CPU -eq 1 && $NNODES -gt 1 ]] && usage_error "--nnodes needs GPUs: fairseq's torchrun launch does not run with --cpu"
WORLD_SIZE_TOTAL=$((DEVICES_PER_NODE * NNODES))
RECIPE_TOKENS_PER_UPDATE=$((MAX_TOKENS * RECIPE_GPUS * RECIPE_UPDATE_FREQ))
MAX_TOKENS="${MAX_TOKENS_ARG:-$MAX_TOKENS}"
is_count "$MAX_TOKENS" && [[ $MAX_TOKENS -gt 0 ]] || usage_error "--max-tokens must be a positive whole number"
if [[ -n "$UPDATE_FREQ_ARG" ]]; then
  is_count "$UPDATE_FREQ_ARG" && [[ $UPDATE_FREQ_ARG -gt 0 ]] || usage_error "--update-freq must be a positive whole number"
  UPDATE_FREQ="$UPDATE_FREQ_ARG"
else
  step_tokens=$((MAX_TOKENS * WORLD_SIZE_TOTAL))
  UPDATE_FREQ=$(( (RECIPE_TOKENS_PER_UPDATE + step_tokens - 1) / step_tokens ))
  if (( UPDATE_FREQ * step_tokens != RECIPE_TOKENS_PER_UPDATE )); then
    echo "[train] note: $WORLD_SIZE_TOTAL device(s) x $MAX_TOKENS tokens x update-freq $UPDATE_FREQ does not equal the recipe's $RECIPE_TOKENS_PER_UPDATE tokens per update" >&2
  fi
fi

# Checkpoints: every epoch (the last 10 kept, for averaging), checkpoint_last.pt and checkpoint_best.pt.
if [[ "$TASK" != translation ]]; then
  BATCH_FLAGS=(--max-tokens "$MAX_TOKENS")
  [[ $MAX_SENTENCES -gt 0 ]] && BATCH_FLAGS+=(--batch-size "$MAX_SENTENCES")
  if [[ " ${OPTIMIZER_FLAGS[*]} " == *" polynomial_decay "* ]]; then
    # the decay ends where this run does (fairseq 0.12 has no default for it on the command line)
    [[ $MAX_UPDATE -gt 0 ]] || usage_error "setting $SETTING decays its learning rate to --max-update: give one above 0"
    OPTIMIZER_FLAGS+=(--total-num-update "$MAX_UPDATE")
  fi
  TRAIN_FLAGS=(
    "$DATA_DIR" --user-dir "$PLUGIN_DIR" --task "$TASK"
    --arch "$ARCH" "${MODEL_FLAGS[@]}" "${ARCH_FLAGS[@]}" "${TASK_FLAGS[@]}" "${OPTIMIZER_FLAGS[@]}"
    "${BATCH_FLAGS[@]}" --update-freq "$UPDATE_FREQ" --max-update "$MAX_UPDATE"
    --validate-interval-updates "$VALIDATE_INTERVAL_UPDATES" "${STOP_FLAGS[@]}"
    "${DEVICE_FLAGS[@]}" "${PRECISION_FLAGS[@]}" --seed "$SEED"
    --save-dir "$SAVE_DIR" --keep-last-epochs 10
    --log-format simple --log-interval 50
    --tensorboard-logdir "$SAVE_DIR/tensorboard"
  )
else
TRAIN_FLAGS=(
  "$DATA_DIR" --user-dir "$PLUGIN_DIR" --task translation --source-lang "$SRC_LANG" --target-lang "$TGT_LANG"
  --arch "$ARCH" "${MODEL_FLAGS[@]}" "${ARCH_FLAGS[@]}"
  --dropout "$DROPOUT" --attention-dropout "$ATTENTION_DROPOUT" --activation-dropout "$ACTIVATION_DROPOUT"
  --optimizer adam --adam-betas "(0.9, 0.98)" --weight-decay "$WEIGHT_DECAY" --clip-norm 0.0
  --lr "$LR" --lr-scheduler inverse_sqrt --warmup-init-lr 1e-07 --warmup-updates "$WARMUP_UPDATES"
  --criterion label_smoothed_cross_entropy --label-smoothing 0.1
  --max-tokens "$MAX_TOKENS" --update-freq "$UPDATE_FREQ" --max-update "$MAX_UPDATE"
  --validate-interval-updates "$VALIDATE_INTERVAL_UPDATES" "${STOP_FLAGS[@]}"
  # validation BLEU (greedy, sacreBLEU on Moses-detokenized text) beside the loss: the report's BLEU curve
  --eval-bleu --eval-bleu-detok moses --eval-bleu-remove-bpe sentencepiece
  --eval-bleu-args "{\"beam\": 1, \"max_len_a\": $MAX_LEN_A, \"max_len_b\": $MAX_LEN_B}"
  "${DEVICE_FLAGS[@]}" "${PRECISION_FLAGS[@]}" --seed "$SEED"
  --save-dir "$SAVE_DIR" --keep-last-epochs 10
  --log-format simple --log-interval 50
  --tensorboard-logdir "$SAVE_DIR/tensorboard"
)
fi
DISTRIBUTED_FLAGS=()
if [[ $NNODES -gt 1 ]]; then
  [[ -n "$MASTER_ADDR_ARG" ]] || usage_error "--nnodes $NNODES needs --master-addr (the address of the node with --node-rank 0)"
  LAUNCH=(torchrun --nnodes "$NNODES" --node-rank "$NODE_RANK" --nproc-per-node "$DEVICES_PER_NODE"
          --master-addr "$MASTER_ADDR_ARG" --master-port "$MASTER_PORT_ARG" "$(command -v fairseq-train || echo fairseq-train)")
  # fairseq reads rank and world size from torchrun's environment only when its own --distributed-world-size,
  # by default the node's GPU count, is above 1: with one GPU per node each node would train a model of its own.
  DISTRIBUTED_FLAGS=(--distributed-world-size "$WORLD_SIZE_TOTAL")
else
  LAUNCH=(fairseq-train)
fi
COMMAND=("${LAUNCH[@]}" "${TRAIN_FLAGS[@]}" "${DISTRIBUTED_FLAGS[@]}" "${EXTRA_FLAGS[@]}")

if [[ $DRY_RUN -eq 1 ]]; then
  printf '%q ' "${COMMAND[@]}" | sed 's/ $/\n/'
  exit 0
fi

# saved_architecture CHECKPOINT: the --arch a checkpoint was trained with, read weights-only (one error line
# when it cannot be read).
saved_architecture() {
  python -m macaron_tools.saved_architecture "$1" || { DIED=1; exit 1; }
}

require_fairseq
check_data_dir
# Every check before anything is written: a run already in the save dir must be one this command resumes.
if [[ -f "$SAVE_DIR/checkpoint_last.pt" ]]; then
  SAVED_ARCH="$(saved_architecture "$SAVE_DIR/checkpoint_last.pt")"
  [[ "$SAVED_ARCH" == "$ARCH" ]] || die "--save-dir $SAVE_DIR holds a $SAVED_ARCH run, not a $ARCH one: train" \
    "into another --save-dir, or resume it with its own --model"
fi
mkdir -p "$SAVE_DIR" 2>/dev/null || die "cannot make --save-dir $SAVE_DIR: give a folder you can write"
# One run per save dir: two would interleave train.log and overwrite each other's checkpoints. fairseq-train
# inherits the lock and holds it to its end; the system releases it when the run ends, however it ends.
{ exec 9>>"$SAVE_DIR/.train.lock"; } 2>/dev/null \
  || die "cannot write in --save-dir $SAVE_DIR: give a folder you can write"
flock -n 9 || die "another run is training into --save-dir $SAVE_DIR: wait for it to end, or pass another --save-dir"
RECORDED=()
for argument in "${COMMAND[@]}"; do RECORDED+=("$(root_relative "$argument")"); done
printf '%q ' "${RECORDED[@]}" | sed 's/ $/\n/' > "$SAVE_DIR/train_command.txt"
echo "[train] $SETTING / $MODEL ($ARCH), seed $SEED -> $SAVE_DIR"
echo "[train] $WORLD_SIZE_TOTAL device(s) x $MAX_TOKENS tokens x update-freq $UPDATE_FREQ; log: $SAVE_DIR/train.log"
# Restarting the same command resumes from $SAVE_DIR/checkpoint_last.pt (fairseq's default --restore-file).
# The log is tee'd rather than written with --log-file, which fairseq 0.12 attaches once more every epoch
# (each line of epoch N would appear N times).
"${COMMAND[@]}" 2>&1 | tee -a "$SAVE_DIR/train.log"
