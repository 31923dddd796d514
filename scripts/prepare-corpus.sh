#!/usr/bin/env bash
# Prepares any parallel corpus for fairseq from raw, untokenized text: Moses tokenization, training pairs
# cleaned by length, joint sentencepiece BPE, fairseq-preprocess with a joined dictionary, the references of every
# evaluation split, and corpus.json, the folder's facts (direction, Moses options, BPE, splits) that train.sh,
# evaluate.sh, translate.sh and compare.sh read. scripts/prepare-{multi30k,iwslt14,wmt14-en-de}.sh run it.
#
#   scripts/prepare-corpus.sh --src L1 --tgt L2 --train PREFIX --valid PREFIX --test PREFIX [--test1 PREFIX]
#                             [--bpe-size N] [--lowercase] --out DIR [options]
#
#   --src L1 --tgt L2     the languages: each PREFIX names two files, PREFIX.L1 and PREFIX.L2 (or .L1.gz and
#                         .L2.gz), one sentence a line, UTF-8, line N of one the translation of line N of the other
#   --train/--valid/--test/--test1 PREFIX
#                         the splits; valid is what fairseq-train validates on, test and test1 what evaluate.sh scores
#   --out DIR             the result, e.g. data/data-bin/NAME: SPLIT.L1-L2.{L1,L2}.{bin,idx}, dict.*.txt, spm.model,
#                         spm.vocab, refs/SPLIT.{detok,tok}.{L1,L2} of every evaluation split, corpus.json
#   --bpe-size N          sentencepiece pieces (default 8000; a small corpus gets the pieces it has)
#   --lowercase           lowercase the tokenized text (its tokenized BLEU is then lowercased as well)
#   --work-dir DIR        the stages, reused by a later run with the same inputs (default data/work/NAME)
#   --force               rebuild everything, even when the inputs and settings have not changed
#
# The other recipes' steps:
#   --normalize-punctuation --remove-non-printing --aggressive-dash-splits
#                         Moses steps before and in tokenization (WMT14's recipe)
#   --eval-straight-apostrophes  write ’ as ' in the evaluation splits before tokenizing (IWSLT14's recipe)
#   --min-tokens N --max-tokens N --ratio R
#                         keep training pairs of N to N tokens a side and a length ratio of at most R (default: at
#                         least 1 token a side, no other limit); evaluation splits keep every line
#   --valid-every N       instead of --valid, take every Nth cleaned training pair out as valid (IWSLT14's recipe)
#   --bpe-character-coverage C (default 1.0)   --bpe-train-sentences N (learn from N sampled lines; default 0: all)
#
# A failed or interrupted run leaves the previous result in place.
set -euo pipefail

TAG=prepare-corpus
source "$(dirname "${BASH_SOURCE[0]}")/lib/prepare-common.sh"

SRC= TGT= OUT= WORK_DIR= VALID_EVERY= BPE_SIZE=8000 BPE_CHARACTER_COVERAGE=1.0 BPE_TRAIN_SENTENCES=0
MIN_TOKENS=1 MAX_TOKENS= LENGTH_RATIO= EVAL_STRAIGHT=0
declare -A PREFIX=()
MOSES_FLAGS=()
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
while (($#)); do
  case "$1" in
    --src) need_value "$@"; SRC="$2"; shift 2 ;;
    --tgt) need_value "$@"; TGT="$2"; shift 2 ;;
    --train|--valid|--test|--test1) need_value "$@"; PREFIX[${1#--}]="$2"; shift 2 ;;
    --out) need_value "$@"; OUT="$(folder_option "$1" "$2")"; shift 2 ;;
    --work-dir) need_value "$@"; WORK_DIR="$(folder_option "$1" "$2")"; shift 2 ;;
    --bpe-size) need_value "$@"; BPE_SIZE="$2"; shift 2 ;;
    --bpe-character-coverage) need_value "$@"; BPE_CHARACTER_COVERAGE="$2"; shift 2 ;;
    --bpe-train-sentences) need_value "$@"; BPE_TRAIN_SENTENCES="$2"; shift 2 ;;
    --lowercase|--normalize-punctuation|--remove-non-printing|--aggressive-dash-splits) MOSES_FLAGS+=("$1"); shift ;;
    --eval-straight-apostrophes) EVAL_STRAIGHT=1; shift ;;
    --min-tokens) need_value "$@"; MIN_TOKENS="$2"; shift 2 ;;
    --max-tokens) need_value "$@"; MAX_TOKENS="$2"; shift 2 ;;
    --ratio) need_value "$@"; LENGTH_RATIO="$2"; shift 2 ;;
    --valid-every) need_value "$@"; VALID_EVERY="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

[[ -n "$SRC" && -n "$TGT" ]] || usage_error "--src and --tgt are required: the two languages, e.g. --src de --tgt en"
[[ "$SRC" =~ ^[A-Za-z0-9_]+$ && "$TGT" =~ ^[A-Za-z0-9_]+$ && "$SRC" != "$TGT" ]] \
  || usage_error "--src $SRC --tgt $TGT: two different language codes of letters, digits and _ are needed"
[[ -n "$OUT" ]] || usage_error "--out is required: the folder to write, e.g. data/data-bin/NAME"
[[ -n "${PREFIX[train]:-}" && -n "${PREFIX[test]:-}" ]] || usage_error "--train and --test are required"
if [[ -n "$VALID_EVERY" ]]; then
  [[ -z "${PREFIX[valid]:-}" ]] || usage_error "--valid and --valid-every exclude each other: choose one"
  is_count "$VALID_EVERY" && ((VALID_EVERY >= 2)) || usage_error "--valid-every needs a whole number of 2 or more"
else
  [[ -n "${PREFIX[valid]:-}" ]] || usage_error "--valid is required (or --valid-every N)"
fi
for option in BPE_SIZE MIN_TOKENS BPE_TRAIN_SENTENCES ${MAX_TOKENS:+MAX_TOKENS} ${VALID_EVERY:+VALID_EVERY}; do
  option_name="--${option,,}"
  is_count "${!option}" || usage_error "${option_name//_/-} must be a whole number, got '${!option}'"
done
[[ -z "$LENGTH_RATIO" || "$LENGTH_RATIO" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--ratio must be a number"
# Checked here, not by the Python step that takes them, which would stop only once the stages before it had run.
((10#$BPE_SIZE >= 1)) || usage_error "--bpe-size must be 1 or more"
((10#$MIN_TOKENS >= 1)) || usage_error "--min-tokens must be 1 or more: an empty sentence is no training pair"
[[ -z "$MAX_TOKENS" ]] || ((10#$MAX_TOKENS >= 10#$MIN_TOKENS)) \
  || usage_error "--max-tokens $MAX_TOKENS is below --min-tokens $MIN_TOKENS: no pair could pass"
# sentencepiece's own limits on the share of characters its pieces cover
[[ "$BPE_CHARACTER_COVERAGE" =~ ^(0\.9[89][0-9]*|1(\.0*)?)$ ]] \
  || usage_error "--bpe-character-coverage must be a number from 0.98 to 1, got '$BPE_CHARACTER_COVERAGE'"

SPLITS=(train)
[[ -n "$VALID_EVERY" ]] && SPLITS+=(valid)
for split in valid test test1; do [[ -n "${PREFIX[$split]:-}" ]] && SPLITS+=("$split"); done
GIVEN=()  # the splits read from files, train first
for split in "${SPLITS[@]}"; do [[ -n "${PREFIX[$split]:-}" ]] && GIVEN+=("$split"); done

# The two files of each split, plain or gzip: SOURCE[split] is the name with {lang}, as the extract step reads it.
declare -A SOURCE=()
INPUTS=()
for split in "${GIVEN[@]}"; do
  prefix="${PREFIX[$split]}"
  for suffix in "" .gz; do
    if [[ -f "$prefix.$SRC$suffix" && -f "$prefix.$TGT$suffix" ]]; then
      SOURCE[$split]="$(absolute_path "$prefix").{lang}$suffix"
      INPUTS+=("$prefix.$SRC$suffix" "$prefix.$TGT$suffix")
      break
    fi
  done
  for lang in "$SRC" "$TGT"; do
    [[ -n "${SOURCE[$split]:-}" || ! -d "$prefix.$lang" ]] \
      || die "--$split $prefix: $prefix.$lang is a folder, not a file: give the prefix of the two files of the split"
  done
  [[ -n "${SOURCE[$split]:-}" ]] || die "--$split $prefix: there is no $prefix.$SRC and $prefix.$TGT" \
    "(nor $prefix.$SRC.gz and $prefix.$TGT.gz): give the prefix of the two files of the split"
done
OUT_INPUTS=("${INPUTS[@]}")

prepare_result_init

EVAL_MOSES_FLAGS=("${MOSES_FLAGS[@]}")
[[ $EVAL_STRAIGHT -eq 1 ]] && EVAL_MOSES_FLAGS+=(--straight-apostrophes)
CLEAN_FLAGS=(--min-tokens "$MIN_TOKENS" ${MAX_TOKENS:+--max-tokens "$MAX_TOKENS"} ${LENGTH_RATIO:+--ratio "$LENGTH_RATIO"})
TOK_KEY="tok | code $(code_fingerprint) | inputs $(fingerprint "${INPUTS[@]}") | ${GIVEN[*]} | $SRC-$TGT"\
" | ${MOSES_FLAGS[*]} | eval ${EVAL_MOSES_FLAGS[*]} | ${CLEAN_FLAGS[*]} | valid every ${VALID_EVERY:-0}"
BPE_KEY="$TOK_KEY | bpe $BPE_SIZE $BPE_CHARACTER_COVERAGE $BPE_TRAIN_SENTENCES"
RESULT_KEY="$BPE_KEY | out $NAME"

# binarized_sentences FILE.idx: the sentence count in the header of fairseq's mmap index
# (9-byte magic, 8-byte version, 1-byte dtype, then the count as little-endian uint64).
binarized_sentences() { od -An -t u8 -j 18 -N 8 "$1" | tr -d ' '; }

# summarize [VERB]: what $OUT holds ("wrote", or VERB) and the line counts of every split.
summarize() {
  local split refs lang kind
  local out
  out="$(root_relative "$OUT")"
  if [[ -z "${1:-}" ]]; then log "wrote $out in ${SECONDS}s:"; else log "$1 $out:"; fi
  echo "  SPLIT.$SRC-$TGT.{$SRC,$TGT}.{bin,idx}, dict.{$SRC,$TGT}.txt" \
    "(fairseq-preprocess, joined dictionary of $(wc -l < "$OUT/dict.$SRC.txt") entries)"
  echo "  spm.model, spm.vocab (sentencepiece BPE, $(wc -l < "$OUT/spm.vocab") pieces)"
  echo "  refs/SPLIT.detok.LANG (untokenized) and refs/SPLIT.tok.LANG (Moses-tokenized) of every evaluation split"
  echo "  corpus.json ($SRC->$TGT; Moses: ${MOSES_FLAGS[*]:-default options})"
  printf '  %-6s %12s %12s   %s\n' split "$SRC sents" "$TGT sents" \
    "reference lines (detok.$SRC detok.$TGT tok.$SRC tok.$TGT)"
  for split in "${SPLITS[@]}"; do
    refs="-"
    if [[ -f "$OUT/refs/$split.detok.$SRC" ]]; then
      refs=""
      for kind in detok tok; do
        for lang in "$SRC" "$TGT"; do refs+="$(wc -l < "$OUT/refs/$split.$kind.$lang") "; done
      done
    fi
    printf '  %-6s %12s %12s   %s\n' "$split" "$(binarized_sentences "$OUT/$split.$SRC-$TGT.$SRC.idx")" \
      "$(binarized_sentences "$OUT/$split.$SRC-$TGT.$TGT.idx")" "$refs"
  done
}

exit_if_up_to_date summarize holds

# Stage 1, tok/: text/SPLIT.LANG (the untokenized evaluation text, for refs/) and tok/SPLIT.LANG (the tokenized,
# cleaned training text and every evaluation split).
build_tok_stage() {
  local specs=() split lang eval_given=("${GIVEN[@]:1}") train_files=(--read-from "${INPUTS[@]:0:2}")
  for split in "${GIVEN[@]}"; do specs+=("$split=${SOURCE[$split]}"); done
  step "reading ${GIVEN[*]}"
  "${PREPARE[@]}" extract --langs "$SRC" "$TGT" --out-dir "$STAGE/text" "${specs[@]}"
  step "tokenizing (Moses${MOSES_FLAGS[*]:+, ${MOSES_FLAGS[*]#--}})"
  "${PREPARE[@]}" tokenize --langs "$SRC" "$TGT" --splits train "${MOSES_FLAGS[@]}" \
    --in-dir "$STAGE/text" --out-dir "$STAGE/all" --workers "$WORKERS"
  "${PREPARE[@]}" tokenize --langs "$SRC" "$TGT" --splits "${eval_given[@]}" "${EVAL_MOSES_FLAGS[@]}" \
    --in-dir "$STAGE/text" --out-dir "$STAGE/tok" --workers "$WORKERS"
  step "cleaning training pairs (${CLEAN_FLAGS[*]})"
  if [[ -z "$VALID_EVERY" ]]; then
    "${PREPARE[@]}" clean --langs "$SRC" "$TGT" --split train "${CLEAN_FLAGS[@]}" "${train_files[@]}" \
      --in-dir "$STAGE/all" --out-dir "$STAGE/tok"
  else
    # The untokenized text keeps the same pairs, for valid's references.
    "${PREPARE[@]}" clean --langs "$SRC" "$TGT" --split train "${CLEAN_FLAGS[@]}" "${train_files[@]}" \
      --in-dir "$STAGE/all" --out-dir "$STAGE/clean" --companion "$STAGE/text" "$STAGE/text-clean"
    step "taking every ${VALID_EVERY}th training pair out as valid"
    for lang in "$SRC" "$TGT"; do
      awk -v n="$VALID_EVERY" 'NR % n == 0' "$STAGE/clean/train.$lang" > "$STAGE/tok/valid.$lang"
      awk -v n="$VALID_EVERY" 'NR % n != 0' "$STAGE/clean/train.$lang" > "$STAGE/tok/train.$lang"
      awk -v n="$VALID_EVERY" 'NR % n == 0' "$STAGE/text-clean/train.$lang" > "$STAGE/text/valid.$lang"
    done
    [[ -s "$STAGE/tok/valid.$SRC" ]] \
      || die "fewer than $VALID_EVERY training pairs are left after cleaning, so valid would be empty:" \
        "give more training text or a smaller --valid-every"
  fi
  rm -rf "$STAGE/all" "$STAGE/clean" "$STAGE/text-clean" "$STAGE/text/train."*
}

# Stage 2, bpe/: joint BPE learned on the tokenized training text, and every split as pieces.
build_bpe_stage() {
  step "learning joint sentencepiece BPE, $BPE_SIZE pieces, on tok/train.{$SRC,$TGT}"
  "${PREPARE[@]}" bpe-train --model-prefix "$STAGE/spm" --vocab-size "$BPE_SIZE" \
    --character-coverage "$BPE_CHARACTER_COVERAGE" --input-sentence-size "$BPE_TRAIN_SENTENCES" \
    --threads "$WORKERS" "$TOK_STAGE/tok/train.$SRC" "$TOK_STAGE/tok/train.$TGT"
  step "encoding every split as sentencepiece pieces"
  "${PREPARE[@]}" bpe-encode --model "$STAGE/spm.model" --langs "$SRC" "$TGT" --splits "${SPLITS[@]}" \
    --in-dir "$TOK_STAGE/tok" --out-dir "$STAGE" --threads "$WORKERS"
}

# check_result DIR: every reference file has one line per binarized sentence of its split.
check_result() {
  local split lang kind sentences lines
  for split in "${SPLITS[@]:1}"; do
    for lang in "$SRC" "$TGT"; do
      sentences="$(binarized_sentences "$1/$split.$SRC-$TGT.$lang.idx")"
      for kind in detok tok; do
        lines="$(wc -l < "$1/refs/$split.$kind.$lang")"
        [[ "$lines" -eq "$sentences" ]] || die "refs/$split.$kind.$lang has $lines lines but" \
          "$split.$SRC-$TGT.$lang holds $sentences sentences: a bug in $TAG, please report it"
      done
    done
  done
}

# The result: binarized in a new folder beside $OUT, with spm.*, refs/ and corpus.json, then swapped in.
build_result() {
  local split lang eval_splits=("${SPLITS[@]:1}") testprefs=()
  for split in "${eval_splits[@]:1}"; do testprefs+=("$BPE_STAGE/$split"); done

  step "binarizing with fairseq-preprocess ($WORKERS workers)"
  # fairseq names the test prefixes test, test1 ... in the order given.
  binarize --source-lang "$SRC" --target-lang "$TGT" --joined-dictionary \
    --trainpref "$BPE_STAGE/train" --validpref "$BPE_STAGE/valid" --testpref "$(IFS=,; echo "${testprefs[*]}")"
  cp "$BPE_STAGE/spm.model" "$BPE_STAGE/spm.vocab" "$OUT_PARTIAL/"

  step "writing references and corpus.json"
  mkdir -p "$OUT_PARTIAL/refs"
  for split in "${eval_splits[@]}"; do
    for lang in "$SRC" "$TGT"; do
      cp "$TOK_STAGE/text/$split.$lang" "$OUT_PARTIAL/refs/$split.detok.$lang"
      cp "$TOK_STAGE/tok/$split.$lang" "$OUT_PARTIAL/refs/$split.tok.$lang"
    done
  done
  check_result "$OUT_PARTIAL"
  local eval_flags=()
  [[ $EVAL_STRAIGHT -eq 1 ]] && eval_flags=(--eval-straight-apostrophes)
  "${PREPARE[@]}" metadata --langs "$SRC" "$TGT" --out-dir "$OUT_PARTIAL" --name "$NAME" --splits "${SPLITS[@]}" \
    --bpe-size "$BPE_SIZE" "${MOSES_FLAGS[@]}" "${eval_flags[@]}" "${CLEAN_FLAGS[@]}"
  publish_result
}

run_stage "$TOK_STAGE" "$TOK_KEY" build_tok_stage
run_stage "$BPE_STAGE" "$BPE_KEY" build_bpe_stage
build_result
summarize
