#!/usr/bin/env bash
# Translates standard input, one sentence a line, with a trained model of one setting (scripts/settings.sh).
#
#   scripts/translate.sh --setting S --checkpoint FILE [--data-dir DIR] [--cpu] [--fairseq-output]
#                        [-- extra fairseq-interactive flags]
#
# Options:
#   --setting S        the recipe (settings listed below): the beam, length penalty and length cap
#   --checkpoint FILE  the model, e.g. checkpoints/SETTING/macaron-seed1/checkpoint_best.pt
#   --data-dir DIR     the prepared data the model was trained on (scripts/prepare-*.sh), with its dictionaries,
#                      spm.model and corpus.json (default: data/data-bin/ and the setting's usual data); a model
#                      trained for another direction is refused
#   --cpu              translate on the CPU
#   --fairseq-output   print fairseq-interactive's lines instead of plain text (see below)
#
# Output: one line per input line, in input order, the best translation as plain text (Moses-detokenized; as
# lowercased as the data, where it was lowercased). Each line is preprocessed as the data's evaluation text was
# (corpus.json's Moses options: tokenization without XML escaping, and lowercasing, punctuation normalization ...
# where the data has them), cut into the data's sentencepiece pieces and translated by fairseq-interactive.
# With --fairseq-output: for input line N (counting from 0), S-N the source pieces, H-N the score and the
# hypothesis pieces, D-N the score and the translation (Moses-tokenized text, as the model was trained on), P-N
# the score of each target piece.
#
# From a terminal each line is translated as soon as it is typed; from a file or a pipe, 64 lines at a time
# (fairseq-interactive's --buffer-size and --batch-size; "-- --buffer-size 1 --batch-size 1" answers a program
# that writes one line at a time and waits for its translation).
#
# An empty line is translated like any other. Characters the data never had become <unk>. A line that is not
# UTF-8 text, or has more pieces than the model's --max-source-positions, is not translated: its output line is
# empty (with --fairseq-output: it has no lines), and the lines after it are translated; once the input has
# ended, one error line names every such line and the exit status is 1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
source "$ROOT/scripts/settings.sh"

SETTING= CHECKPOINT= DATA_DIR= USE_CPU=0 FAIRSEQ_OUTPUT=() EXTRA_FLAGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setting) need_value "$@"; SETTING="$2"; shift 2 ;;
    --checkpoint) need_value "$@"; CHECKPOINT="$2"; shift 2 ;;
    --data-dir) need_value "$@"; DATA_DIR="$2"; shift 2 ;;
    --cpu) USE_CPU=1; shift ;;
    --fairseq-output) FAIRSEQ_OUTPUT=(--fairseq-output); shift ;;
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
[[ ! -f "$DATA_DIR" ]] || die "data directory $DATA_DIR is a file: pass the folder of the data the model was" \
  "trained on"
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

# A terminal is answered line by line; other input goes in batches, sorted by length within each.
BATCH_FLAGS=(--buffer-size 1)
[[ -t 0 ]] || BATCH_FLAGS=(--buffer-size 64 --batch-size 64)
# The input line number of each line fairseq-interactive is given (see macaron_tools/data/translation_stream.py).
LINE_NUMBERS="$(mktemp)"
trap 'rm -f "$LINE_NUMBERS"' EXIT
STREAM=(python -m macaron_tools.data.translation_stream)

# Should fairseq-interactive stop (a bad checkpoint), the source ends quietly on the closed pipe, the output
# names no line untranslated (it gets no FINISHED line), and the pipeline's status is fairseq's.
"${STREAM[@]}" source --lang "$SRC_LANG" --line-numbers "$LINE_NUMBERS" --moses-options "${PREPROCESS_OPTIONS[@]}" |
  { PYTHONUNBUFFERED=1 fairseq-interactive "$DATA_DIR" --user-dir "$PLUGIN_DIR" --task translation \
      --source-lang "$SRC_LANG" --target-lang "$TGT_LANG" --path "$CHECKPOINT" \
      --bpe sentencepiece --sentencepiece-model "$DATA_DIR/spm.model" \
      --beam "$BEAM" --lenpen "$LENPEN" --max-len-a "$MAX_LEN_A" --max-len-b "$MAX_LEN_B" "${BATCH_FLAGS[@]}" \
      --skip-invalid-size-inputs-valid-test "${DEVICE_FLAGS[@]}" "${EXTRA_FLAGS[@]}" \
      && echo "#fairseq-interactive finished"; } |
  "${STREAM[@]}" output --lang "$TGT_LANG" --line-numbers "$LINE_NUMBERS" "${FAIRSEQ_OUTPUT[@]}"
