#!/usr/bin/env bash
# Evaluates a trained model: chooses or averages its checkpoints, decodes the test splits with fairseq-generate,
# and scores every sentence with sacreBLEU and with the tokenized BLEU the paper reports.
#
#   scripts/evaluate.sh --setting S --checkpoint-dir DIR [--average N | --checkpoint FILE] [--data-dir DIR]
#                       [--splits "test test1"] [--cpu] [--max-tokens N] [--comet-model FILE]
#
#   --setting S           the recipe (settings listed below): its beam, length penalty, length cap and
#                         tokenized BLEU variant (the data's, where its corpus.json names one)
#   --checkpoint-dir DIR  the training run's --save-dir; results go to DIR/eval/
#   --average N           average the N newest numbered checkpoints (checkpoint<E>.pt, checkpoint_<E>_<U>.pt)
#   --checkpoint FILE     decode FILE (e.g. a converted authors' checkpoint); DIR defaults to its folder
#                         (default without either: DIR/checkpoint_best.pt)
#   --data-dir DIR        prepared data (default: data/data-bin/ and the setting's usual data); its direction is
#                         its own (DIR/corpus.json), and a model trained for another direction is refused.
#                         Without corpus.json (the authors' released data) the direction comes from the file
#                         names; without refs/ fairseq-generate's target lines are the references
#   --splits "A B"        splits to decode, the first is primary (default: test, and test1 when the data has it)
#   --cpu                 decode on the CPU
#   --max-tokens N        tokens per decoding batch (default: the setting's MAX_TOKENS)
#   --comet-model FILE    also score COMET with this local COMET checkpoint (needs the unbabel-comet package;
#                         nothing is downloaded); without it, COMET is not computed
#
# Writes DIR/eval/<split>.hyp.tok, <split>.hyp.detok, generate-<split>.log and result.json (the record of the
# evaluation: setting, direction, checkpoint, decoding options and every split's sacreBLEU, chrF and tokenized BLEU),
# and checkpoint_avg_last<N>.pt with --average. They replace an earlier evaluation only once all are written.
# Environment: VENV (the Python environment, default .venv).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
# shellcheck source=settings.sh
source "$ROOT/scripts/settings.sh"

stage() {
  echo "==> $*"
}

# The N newest numbered checkpoints in a folder, newest first. An update checkpoint checkpoint_<E>_<U>.pt is placed
# by (E, U). The epoch checkpoint checkpoint<E>.pt is written at the end of epoch E: after every update checkpoint
# of epoch E and before any of epoch E+1, so placing it at (E, infinity) orders both kinds by update count without
# loading a single file.
newest_checkpoints() {
  local dir=$1 count=$2 path name
  for path in "$dir"/checkpoint*.pt; do
    name=$(basename "$path")
    if [[ $name =~ ^checkpoint_([0-9]+)_([0-9]+)\.pt$ ]]; then
      echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} $path"
    elif [[ $name =~ ^checkpoint([0-9]+)\.pt$ ]]; then
      echo "${BASH_REMATCH[1]} 999999999999999 $path"
    fi
  done | sort -k1,1n -k2,2n | tail -n "$count" | tac | cut -d' ' -f3-
}

# fairseq-preprocess names the files of a split by the language pair, in either order.
is_binarized() {
  local split=$1
  [[ -f $DATA_DIR/$split.$SRC_LANG-$TGT_LANG.$SRC_LANG.idx || -f $DATA_DIR/$split.$TGT_LANG-$SRC_LANG.$SRC_LANG.idx ]]
}

SETTING="" CHECKPOINT_DIR="" AVERAGE="" CHECKPOINT="" DATA_DIR="" SPLITS="" DECODE_MAX_TOKENS="" COMET_MODEL=""
DEVICE_FLAGS=()
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --cpu) DEVICE_FLAGS=(--cpu); shift; continue ;;
    --setting | --checkpoint-dir | --average | --checkpoint | --data-dir | --splits | --max-tokens | --comet-model)
      need_value "$@" ;;  # an empty value too: --splits "" would decode the default splits
    *) usage_error "unknown option '$1'" ;;
  esac
  case $1 in
    --setting) SETTING=$2 ;;
    --checkpoint-dir) CHECKPOINT_DIR=$2 ;;
    --average) AVERAGE=$2 ;;
    --checkpoint) CHECKPOINT=$2 ;;
    --data-dir) DATA_DIR=$2 ;;
    --splits) SPLITS=$2 ;;
    --max-tokens) DECODE_MAX_TOKENS=$2 ;;
    --comet-model) COMET_MODEL=$2 ;;
  esac
  shift 2
done

# ---- what to evaluate, checked before anything is written ----
require_setting "$SETTING"
[[ -z $AVERAGE || $AVERAGE =~ ^[1-9][0-9]*$ ]] ||
  usage_error "--average needs a number of checkpoints (1 or more), got '$AVERAGE'"
[[ -z $DECODE_MAX_TOKENS || $DECODE_MAX_TOKENS =~ ^[1-9][0-9]*$ ]] ||
  usage_error "--max-tokens needs a positive number, got '$DECODE_MAX_TOKENS'"
DECODE_MAX_TOKENS=${DECODE_MAX_TOKENS:-$MAX_TOKENS}
[[ -z $AVERAGE || -z $CHECKPOINT ]] || usage_error "--average and --checkpoint exclude each other: choose one"

if [[ -n $CHECKPOINT ]]; then
  [[ ! -d $CHECKPOINT ]] || die "checkpoint $CHECKPOINT is a folder: pass a .pt file, or the folder as --checkpoint-dir"
  [[ -f $CHECKPOINT ]] || die "checkpoint $CHECKPOINT does not exist: check the path"
  CHECKPOINT=$(absolute_path "$CHECKPOINT")
  CHECKPOINT_DIR=${CHECKPOINT_DIR:-$(dirname "$CHECKPOINT")}
fi
[[ -n $CHECKPOINT_DIR ]] || usage_error "--checkpoint-dir is required: the training run's --save-dir"
[[ ! -f $CHECKPOINT_DIR ]] || die "checkpoint dir $CHECKPOINT_DIR is a file: pass the training run's --save-dir" \
  "(or the file as --checkpoint)"
[[ -d $CHECKPOINT_DIR ]] || die "checkpoint dir $CHECKPOINT_DIR does not exist: pass the training run's --save-dir"
CHECKPOINT_DIR=$(cd "$CHECKPOINT_DIR" && pwd)

AVERAGED=()
if [[ -n $AVERAGE ]]; then
  mapfile -t AVERAGED < <(newest_checkpoints "$CHECKPOINT_DIR" "$AVERAGE")
  ((${#AVERAGED[@]} == AVERAGE)) ||
    die "--average $AVERAGE needs $AVERAGE numbered checkpoints (checkpoint<E>.pt, checkpoint_<E>_<U>.pt) in" \
      "$CHECKPOINT_DIR, found ${#AVERAGED[@]}: average fewer or train longer"
elif [[ -z $CHECKPOINT ]]; then
  CHECKPOINT=$CHECKPOINT_DIR/checkpoint_best.pt
  [[ -f $CHECKPOINT ]] ||
    die "no checkpoint_best.pt in $CHECKPOINT_DIR: train first, or pass --checkpoint FILE or --average N"
fi

DATA_DIR=${DATA_DIR:-$DATA_BIN_DIR/$DATA_NAME}
[[ ! -f $DATA_DIR ]] || die "data dir $DATA_DIR is a file: pass the folder of the prepared data"
[[ -d $DATA_DIR ]] ||
  die "data dir $DATA_DIR does not exist: prepare the data of setting $SETTING (scripts/prepare-*.sh), or pass" \
    "--data-dir"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
# The data's facts; a model trained for another direction is refused here, before anything is written.
corpus_facts "$DATA_DIR" src tgt tokenized_bleu --checkpoint "${AVERAGED[0]:-$CHECKPOINT}"
SRC_LANG=${FACTS[0]} TGT_LANG=${FACTS[1]} TOKENIZED_BLEU=${FACTS[2]:-$TOKENIZED_BLEU}
[[ -f $DATA_DIR/dict.$TGT_LANG.txt ]] ||
  die "$DATA_DIR has no dict.$TGT_LANG.txt: --data-dir must be a fairseq-preprocess output for $SRC_LANG-$TGT_LANG"

if [[ -z $SPLITS ]]; then
  SPLITS=test
  if is_binarized test1; then SPLITS="test test1"; fi
fi
read -r -a SPLIT_LIST <<<"$SPLITS"
((${#SPLIT_LIST[@]} > 0)) || usage_error "--splits names no split: e.g. --splits \"test test1\""
for split in "${SPLIT_LIST[@]}"; do
  is_binarized "$split" ||
    die "split '$split' is not binarized in $DATA_DIR (no $split.$SRC_LANG-$TGT_LANG.$SRC_LANG.idx): choose" \
      "--splits among the data's splits or prepare the data again"
done

# References: refs/ from the data scripts; the authors' released data has none, so fairseq-generate's own target
# lines (the binarized reference, tokenized and subwords removed) stand in.
REFS_FROM_LOG=""
if [[ -d $DATA_DIR/refs ]]; then
  for split in "${SPLIT_LIST[@]}"; do
    for kind in detok tok; do
      [[ -f $DATA_DIR/refs/$split.$kind.$TGT_LANG ]] ||
        die "missing reference $DATA_DIR/refs/$split.$kind.$TGT_LANG: prepare the data of setting $SETTING again" \
          "(scripts/prepare-*.sh writes refs/ for every evaluation split)"
    done
  done
else
  REFS_FROM_LOG=1
fi

# Subwords: the data scripts use sentencepiece and keep spm.model beside the data; the authors' data is BPE (@@).
if [[ -f $DATA_DIR/spm.model ]]; then POST_PROCESS=sentencepiece; else POST_PROCESS=subword_nmt; fi

# lib/env.sh put the project's environment (scripts/setup.sh makes it) first on PATH when there is one.
command -v fairseq-generate >/dev/null ||
  die "fairseq-generate not found: run scripts/setup.sh, or set VENV to the project's environment"

EVAL_DIR=$CHECKPOINT_DIR/eval
mkdir -p "$EVAL_DIR" 2>/dev/null && [[ -w $EVAL_DIR ]] && touch "$EVAL_DIR" 2>/dev/null ||
  die "cannot write in $EVAL_DIR: evaluate.sh writes beside the checkpoints; copy the run to a folder you can write"
# Everything is built in a work folder and moved into eval/ only when all of it is done: a failure leaves an
# earlier, finished evaluation as it was.
# An attempt that fails stays in eval/partial/, which its error names, until the next evaluation starts.
WORK=$EVAL_DIR/partial
rm -rf "$WORK"
mkdir "$WORK" 2>/dev/null || die "cannot make $WORK: copy the run to a folder you can write"

# ---- checkpoint ----
if ((${#AVERAGED[@]})); then
  CHECKPOINT=$EVAL_DIR/checkpoint_avg_last$AVERAGE.pt
  stage "averaging the $AVERAGE newest checkpoints: ${AVERAGED[*]##*/}"
  # newest first, so that the average keeps the newest checkpoint's configuration and update count
  python -m macaron_tools.average_checkpoints --inputs "${AVERAGED[@]}" --output "$WORK/${CHECKPOINT##*/}"
  DECODED=$WORK/${CHECKPOINT##*/}
else
  DECODED=$CHECKPOINT
fi
stage "evaluating $CHECKPOINT on $DATA_DIR (${SPLIT_LIST[*]})"
if [[ -n $REFS_FROM_LOG ]]; then
  stage "no refs/ in $DATA_DIR: scoring against fairseq-generate's target lines (T-), tokenized; sacreBLEU then" \
    "uses their Moses detokenization, not the original references"
fi
if [[ $POST_PROCESS != sentencepiece ]]; then
  stage "no spm.model in $DATA_DIR: removing BPE continuation markers (@@) from the output"
fi

# ---- decode each split ----
SPLIT_LOGS=()
for split in "${SPLIT_LIST[@]}"; do
  stage "decoding $split: beam $BEAM, length penalty $LENPEN, at most $MAX_LEN_A x source length + $MAX_LEN_B" \
    "tokens, $DECODE_MAX_TOKENS tokens per batch"
  log=$WORK/generate-$split.log
  # stdout (S/T/H/D/P lines) and stderr (the log) apart: when both share one file, a buffered stdout write can cut
  # a hypothesis line in two around a log line.
  status=0
  fairseq-generate "$DATA_DIR" --user-dir "$ROOT/macaron_fairseq" --path "$DECODED" --task translation \
    --source-lang "$SRC_LANG" --target-lang "$TGT_LANG" --gen-subset "$split" \
    --beam "$BEAM" --lenpen "$LENPEN" --max-len-a "$MAX_LEN_A" --max-len-b "$MAX_LEN_B" \
    --post-process "$POST_PROCESS" --max-tokens "$DECODE_MAX_TOKENS" \
    "${DEVICE_FLAGS[@]}" >"$WORK/$split.out" 2>"$WORK/$split.err" || status=$?
  cat "$WORK/$split.out" "$WORK/$split.err" 2>/dev/null >"$log" ||
    die "cannot write $log (is the disk full?): free space, or copy the run to a disk with room"
  rm -f "$WORK/$split.out"
  if ((status != 0)); then
    reason=$(grep -m1 '^error: ' "$WORK/$split.err" | cut -c8- || true)
    die "fairseq-generate failed on $split${reason:+ ($reason)}: see $log"
  fi
  rm -f "$WORK/$split.err"
  SPLIT_LOGS+=(--split "$split" "$log")
done

# ---- scores of every split, one record: result.json ----
stage "scoring ${SPLIT_LIST[*]}: sacreBLEU, chrF and tokenized BLEU ($TOKENIZED_BLEU)"
AVERAGED_FLAGS=()
if ((${#AVERAGED[@]})); then AVERAGED_FLAGS=(--averaged "${AVERAGED[@]}"); fi
COMET_FLAGS=()
if [[ -n $COMET_MODEL ]]; then COMET_FLAGS=(--comet-model "$COMET_MODEL"); fi
python -m macaron_tools.scoring.result --output "$WORK/result.json" --hypotheses-dir "$WORK" \
  --setting "$SETTING" --source-lang "$SRC_LANG" --target-lang "$TGT_LANG" --variant "$TOKENIZED_BLEU" \
  --data-dir "$DATA_DIR" --checkpoint "$CHECKPOINT" "${AVERAGED_FLAGS[@]}" --beam "$BEAM" --lenpen "$LENPEN" \
  --max-len-a "$MAX_LEN_A" --max-len-b "$MAX_LEN_B" "${SPLIT_LOGS[@]}" "${COMET_FLAGS[@]}"

# result.json last, so that a reader who finds it finds everything it describes
for file in "$WORK"/*; do
  [[ ${file##*/} == result.json ]] || mv -f "$file" "$EVAL_DIR/"
done
mv -f "$WORK/result.json" "$EVAL_DIR/result.json"
rmdir "$WORK"
