#!/usr/bin/env bash
# Prepares monolingual text for fairseq's language_modeling and masked_lm tasks (the lm-* and mlm-* settings of
# scripts/settings.sh): Moses tokenization, training lines cleaned by length, sentencepiece BPE, then
# fairseq-preprocess --only-source. The steps are scripts/prepare-corpus.sh's, one language at a time.
#
#   scripts/prepare-lm.sh [--text PREFIX] [--lang L] [--bpe-size N] --out DIR [options]
#
#   --text PREFIX         the text, one sentence (or document line) a line, UTF-8: PREFIX.train, PREFIX.valid and
#                         PREFIX.test, each plain or .gz; a PREFIX with {split} in it names the files itself
#                         (--text wikitext-103/wiki.{split}.tokens). Default: one side of Multi30k task 1
#                         (train 29,000 lines, valid val, test test_2016_flickr) from $MULTI30K_RAW_DIR, else
#                         ../shared/data/multi30k beside the repository
#   --lang L              the text's language, for Moses (default en; with the default text: the side, en or de)
#   --out DIR             the result, e.g. data/data-bin/NAME: {train,valid,test}.{bin,idx}, dict.txt, spm.model,
#                         spm.vocab, lm_corpus.json (the folder's facts)
#   --bpe-size N          sentencepiece pieces (default 4000: half prepare-corpus.sh's 8,000, which serve two
#                         languages); 0 keeps the tokens as they are, a word-level vocabulary (WikiText-103's)
#   --tokenized           the text is tokenized already (WikiText): no Moses step
#   --lowercase           lowercase the text
#   --min-tokens N --max-tokens N
#                         keep training lines of N to N tokens (default: at least 1, no upper limit); valid and
#                         test keep every line
#   --bpe-train-sentences N   learn BPE from N sampled training lines (default 0: all)
#   --work-dir DIR        the stages, reused by a later run with the same inputs (default data/work/NAME)
#   --force               rebuild everything, even when the inputs and settings have not changed
#
# A failed or interrupted run leaves the previous result in place.
set -euo pipefail

TAG=prepare-lm
source "$(dirname "${BASH_SOURCE[0]}")/lib/prepare-common.sh"

TEXT= LANG_CODE=en OUT= WORK_DIR= BPE_SIZE=4000 BPE_TRAIN_SENTENCES=0 TOKENIZED=0 LOWERCASE=0 MIN_TOKENS=1 MAX_TOKENS=
SPLITS=(train valid test)
# Multi30k's raw file stem of each split
declare -A MULTI30K_STEM=([train]=train [valid]=val [test]=test_2016_flickr)
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
while (($#)); do
  case "$1" in
    --text) need_value "$@"; TEXT="$2"; shift 2 ;;
    --lang) need_value "$@"; LANG_CODE="$2"; shift 2 ;;
    --out) need_value "$@"; OUT="$(folder_option "$1" "$2")"; shift 2 ;;
    --work-dir) need_value "$@"; WORK_DIR="$(folder_option "$1" "$2")"; shift 2 ;;
    --bpe-size) need_value "$@"; BPE_SIZE="$2"; shift 2 ;;
    --bpe-train-sentences) need_value "$@"; BPE_TRAIN_SENTENCES="$2"; shift 2 ;;
    --tokenized) TOKENIZED=1; shift ;;
    --lowercase) LOWERCASE=1; shift ;;
    --min-tokens) need_value "$@"; MIN_TOKENS="$2"; shift 2 ;;
    --max-tokens) need_value "$@"; MAX_TOKENS="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

[[ -n "$OUT" ]] || usage_error "--out is required: the folder to write, e.g. data/data-bin/NAME"
[[ "$LANG_CODE" =~ ^[A-Za-z0-9_]+$ ]] || usage_error "--lang $LANG_CODE: a language code of letters, digits and _ is needed"
for option in BPE_SIZE BPE_TRAIN_SENTENCES MIN_TOKENS ${MAX_TOKENS:+MAX_TOKENS}; do
  option_name="--${option,,}"
  is_count "${!option}" || usage_error "${option_name//_/-} must be a whole number, got '${!option}'"
done
((MIN_TOKENS >= 1)) || usage_error "--min-tokens must be 1 or more: an empty line is no training text"
[[ -z "$MAX_TOKENS" ]] || ((MAX_TOKENS >= MIN_TOKENS)) || usage_error "--max-tokens $MAX_TOKENS is below --min-tokens $MIN_TOKENS"

# The file of each split, plain or gzip.
declare -A FILE=()
if [[ -n "$TEXT" ]]; then
  for split in "${SPLITS[@]}"; do
    if [[ "$TEXT" == *"{split}"* ]]; then name="${TEXT//\{split\}/$split}"; else name="$TEXT.$split"; fi
    for candidate in "$name" "$name.gz"; do
      [[ -f "$candidate" ]] && { FILE[$split]="$(absolute_path "$candidate")"; break; }
    done
    [[ -n "${FILE[$split]:-}" ]] || die "--text $TEXT: there is no $name (nor $name.gz): give the prefix of" \
      "the files PREFIX.train, PREFIX.valid and PREFIX.test, or a name with {split} in it"
  done
else
  [[ "$LANG_CODE" == en || "$LANG_CODE" == de ]] || usage_error "--lang $LANG_CODE: Multi30k has en and de; pass --text for other text"
  RAW_DIR="${MULTI30K_RAW_DIR:-$ROOT/../shared/data/multi30k}"
  for split in "${SPLITS[@]}"; do
    file="$RAW_DIR/${MULTI30K_STEM[$split]}.$LANG_CODE.gz"
    [[ -f "$file" ]] || die "no Multi30k text at $file: set MULTI30K_RAW_DIR to the folder of Multi30k task 1's raw" \
      ".gz files, or pass --text PREFIX"
    FILE[$split]="$(absolute_path "$file")"
  done
fi

OUT_INPUTS=("${FILE[@]}")
prepare_result_init
LM=("$PY" -m macaron_tools.data.lm_corpus)

TEXT_FLAGS=(--min-tokens "$MIN_TOKENS" ${MAX_TOKENS:+--max-tokens "$MAX_TOKENS"})
[[ $TOKENIZED -eq 1 ]] && TEXT_FLAGS+=(--tokenized)
[[ $LOWERCASE -eq 1 ]] && TEXT_FLAGS+=(--lowercase)
INPUTS=("${FILE[train]}" "${FILE[valid]}" "${FILE[test]}")
CODE="$(code_fingerprint) $(cksum < "$ROOT/macaron_tools/data/lm_corpus.py" | cut -d' ' -f1)"
TOK_KEY="lm tok | code $CODE | inputs $(fingerprint "${INPUTS[@]}") | $LANG_CODE | ${TEXT_FLAGS[*]}"
BPE_KEY="$TOK_KEY | bpe $BPE_SIZE $BPE_TRAIN_SENTENCES"
RESULT_KEY="$BPE_KEY | out $NAME"

# binarized_count FILE.idx: the sentence count in the header of fairseq's mmap index
# (9-byte magic, 8-byte version, 1-byte dtype, then the count as little-endian uint64).
binarized_count() { od -An -t u8 -j 18 -N 8 "$1" | tr -d ' '; }
# binarized_tokens PREFIX: the tokens in PREFIX.bin, from its size and the index's element type.
binarized_tokens() {
  local code
  code="$(od -An -t u1 -j 17 -N 1 "$1.idx" | tr -d ' ')"
  local -A bytes=([1]=1 [2]=1 [3]=2 [4]=4 [5]=8 [6]=4 [7]=8 [8]=2)
  echo $(( $(stat -c %s "$1.bin") / ${bytes[$code]:-1} ))
}

summarize() {
  local out split vocabulary
  out="$(root_relative "$OUT")"
  if [[ -z "${1:-}" ]]; then log "wrote $out in ${SECONDS}s:"; else log "$1 $out:"; fi
  echo "  {train,valid,test}.{bin,idx}, dict.txt (fairseq-preprocess --only-source, $(wc -l < "$OUT/dict.txt") entries)"
  if [[ -f "$OUT/spm.model" ]]; then
    vocabulary="sentencepiece BPE, $(wc -l < "$OUT/spm.vocab") pieces"
    echo "  spm.model, spm.vocab ($vocabulary)"
  fi
  echo "  lm_corpus.json ($LANG_CODE; $([[ $TOKENIZED -eq 1 ]] && echo "tokenized text" || echo "Moses-tokenized")"\
"$([[ $LOWERCASE -eq 1 ]] && echo ", lowercased"))"
  printf '  %-6s %10s %12s\n' split lines tokens
  for split in "${SPLITS[@]}"; do
    printf '  %-6s %10s %12s\n' "$split" "$(binarized_count "$OUT/$split.idx")" "$(binarized_tokens "$OUT/$split")"
  done
}

exit_if_up_to_date summarize holds

build_tok_stage() {
  local specs=() split
  for split in "${SPLITS[@]}"; do specs+=("$split=${FILE[$split]}"); done
  local how="tokenizing (Moses, $LANG_CODE)"
  [[ $TOKENIZED -eq 1 ]] && how="taking the tokens as they are"
  step "reading ${SPLITS[*]}, $how, cleaning train"
  "${LM[@]}" text --lang "$LANG_CODE" --out-dir "$STAGE" "${TEXT_FLAGS[@]}" --workers "$WORKERS" "${specs[@]}"
}

build_bpe_stage() {
  step "learning sentencepiece BPE, $BPE_SIZE pieces, on tok/train.$LANG_CODE"
  "${PREPARE[@]}" bpe-train --model-prefix "$STAGE/spm" --vocab-size "$BPE_SIZE" \
    --input-sentence-size "$BPE_TRAIN_SENTENCES" --threads "$WORKERS" "$TOK_STAGE/train.$LANG_CODE"
  step "encoding every split as sentencepiece pieces"
  "${LM[@]}" encode --model "$STAGE/spm.model" --lang "$LANG_CODE" --in-dir "$TOK_STAGE" --out-dir "$STAGE" \
    --splits "${SPLITS[@]}" --threads "$WORKERS"
}

# The result: binarized in a new folder beside $OUT, with spm.* and lm_corpus.json, then swapped in.
build_result() {
  local prefix="$BPE_STAGE/" suffix=""
  if [[ $BPE_SIZE -eq 0 ]]; then prefix="$TOK_STAGE/" suffix=".$LANG_CODE"; fi
  step "binarizing with fairseq-preprocess --only-source ($WORKERS workers)"
  binarize --only-source --trainpref "${prefix}train$suffix" --validpref "${prefix}valid$suffix" \
    --testpref "${prefix}test$suffix"
  [[ $BPE_SIZE -eq 0 ]] || cp "$BPE_STAGE/spm.model" "$BPE_STAGE/spm.vocab" "$OUT_PARTIAL/"
  local flags=("${TEXT_FLAGS[@]}")
  "${LM[@]}" metadata --out-dir "$OUT_PARTIAL" --name "$NAME" --lang "$LANG_CODE" --splits "${SPLITS[@]}" \
    --bpe-size "$BPE_SIZE" "${flags[@]}"
  publish_result
}

run_stage "$TOK_STAGE" "$TOK_KEY" build_tok_stage
[[ $BPE_SIZE -eq 0 ]] || run_stage "$BPE_STAGE" "$BPE_KEY" build_bpe_stage
build_result
summarize
