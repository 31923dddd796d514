#!/usr/bin/env bash
# Translates standard input, one sentence a line, with a trained model of one setting (scripts/settings.sh).
#
#   scripts/translate.sh --setting S --checkpoint FILE [--data-dir DIR] [--cpu] [-- extra fairseq-interactive flags]
#
# Options:
#   --setting S        the recipe (settings listed below): the beam, length penalty and length cap
#   --checkpoint FILE  the model, e.g. checkpoints/SETTING/macaron-seed1/checkpoint_best.pt
#   --data-dir DIR     the prepared data the model was trained on (scripts/prepare-*.sh), with its dictionaries,
#                      spm.model and corpus.json (default: data/data-bin/ and the setting's usual data); a model
#                      trained for another direction is refused
#   --cpu              translate on the CPU
#
# Each line is preprocessed as the data's evaluation text was (corpus.json's Moses options: tokenization without
# XML escaping, and lowercasing, punctuation normalization ... where the data has them), cut into the data's
# sentencepiece pieces and translated by fairseq-interactive as soon as it is read. Output is
# fairseq-interactive's: for input line N (counting from 0), S-N the source pieces, H-N the score and the
# hypothesis pieces, D-N the score and the translation (Moses-tokenized text, as the model was trained on), P-N
# the score of each target piece.
#
# An empty line is translated like any other. Characters the data never had become <unk>. A line of more pieces
# than the model's --max-source-positions is not translated: fairseq logs "samples have invalid sizes and will be
# skipped" on stderr and N has no output lines; the lines after it are translated.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
source "$ROOT/scripts/settings.sh"

SETTING= CHECKPOINT= DATA_DIR= USE_CPU=0 EXTRA_FLAGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setting) need_value "$@"; SETTING="$2"; shift 2 ;;
    --checkpoint) need_value "$@"; CHECKPOINT="$2"; shift 2 ;;
    --data-dir) need_value "$@"; DATA_DIR="$2"; shift 2 ;;
    --cpu) USE_CPU=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA_FLAGS=("$@"); break ;;
    *) usage_error "unknown option '$1' (fairseq-interactive flags go after --)" ;;
  esac
done

require_setting "$SETTING"
[[ -n "$CHECKPOINT" ]] || usage_error "--checkpoint is required: the .pt file of a trained model"
[[ ! -d "$CHECKPOINT" ]] || die "checkpoint $CHECKPOINT is a folder: pass the .pt file of a trained model"
[[ -f "$CHECKPOINT" ]] || die "checkpoint $CHECKPOINT does not exist: check the path or train the model first"
DATA_DIR="${DATA_DIR:-$DATA_BIN_DIR/$DATA_NAME}"
[[ -d "$DATA_DIR" ]] || die "data directory $DATA_DIR does not exist: pass the --data-dir the model was trained on"
# The direction and the MosesPreprocessor options are the data's; a model of another direction is refused.
corpus_facts "$DATA_DIR" src tgt has_metadata eval_moses --checkpoint "$CHECKPOINT"
SRC_LANG="${FACTS[0]}" TGT_LANG="${FACTS[1]}"
[[ -n "${FACTS[2]}" ]] || die "$DATA_DIR has no corpus.json, so its preprocessing is unknown: prepare it again with" \
  "scripts/prepare-*.sh"
read -r -a PREPROCESS_OPTIONS <<<"${FACTS[3]}"
for f in "dict.$SRC_LANG.txt" "dict.$TGT_LANG.txt" spm.model; do
  [[ -f "$DATA_DIR/$f" ]] || die "$DATA_DIR has no $f: it is not data prepared by scripts/prepare-*.sh"
done
require_fairseq
DEVICE_FLAGS=()
[[ $USE_CPU -eq 1 ]] && DEVICE_FLAGS=(--cpu)

# One line in, one line out, flushed at once: fairseq-interactive translates each line as it arrives. Should
# fairseq-interactive stop (a bad checkpoint), the filter ends quietly on the closed pipe, and the pipeline's
# status is fairseq's.
preprocess() {
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" python -u -c '
import signal, sys
from macaron_fairseq.data.moses_tokenize import MosesPreprocessor
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
preprocess = MosesPreprocessor(sys.argv[1], **{option: True for option in sys.argv[2:]})
for line in sys.stdin:
    print(preprocess(line.rstrip("\n")), flush=True)
' "$SRC_LANG" "${PREPROCESS_OPTIONS[@]}"
}

preprocess | PYTHONUNBUFFERED=1 fairseq-interactive "$DATA_DIR" --user-dir "$PLUGIN_DIR" --task translation \
  --source-lang "$SRC_LANG" --target-lang "$TGT_LANG" --path "$CHECKPOINT" \
  --bpe sentencepiece --sentencepiece-model "$DATA_DIR/spm.model" \
  --beam "$BEAM" --lenpen "$LENPEN" --max-len-a "$MAX_LEN_A" --max-len-b "$MAX_LEN_B" --buffer-size 1 --skip-invalid-size-inputs-valid-test \
  "${DEVICE_FLAGS[@]}" "${EXTRA_FLAGS[@]}"
