#!/usr/bin/env bash
# Prepares IWSLT14 German->English (TED talks) for fairseq as the standard recipe does: XML stripped, Moses
# tokenization, training pairs cleaned to 1-175 tokens and a length ratio of at most 1.5, lowercased; valid is
# every 23rd training pair (taken out of train), test is IWSLT14.TED.dev2010, IWSLT14.TEDX.dev2012 and
# IWSLT14.TED.tst2010-2012 (6,750 sentences). Joint sentencepiece BPE of 10,000 pieces.
#
#   scripts/prepare-iwslt14.sh ARCHIVE_OR_URL [--force]
#
#   ARCHIVE_OR_URL  the 2014-01 TED archive de-en.tgz (de-en/train.tags.de-en.{de,en},
#                   de-en/IWSLT14.TED*.de-en.{de,en}.xml), as a local file or a mirror's URL. Its original
#                   host, wit3.fbk.eu, is gone.
#   --force         rebuild everything, even when the archive and settings have not changed
#
# Environment: DATA_BIN (default data/data-bin), DATA_WORK (default data/work/iwslt14.de-en), VENV (the Python
# environment, default .venv).
# Writes $DATA_BIN/iwslt14.de-en/: fairseq-preprocess output (joined dictionary), spm.model, spm.vocab and
# refs/{valid,test}.{detok,tok}.{de,en} (detok: the XML-stripped text as written, not lowercased; tok: the
# lowercased Moses tokens the model reads and the paper's BLEU is computed on).
set -euo pipefail

TAG=prepare-iwslt14
DATA_NAME=iwslt14.de-en
SRC=de
TGT=en
SPLITS=(train valid test)
TRAIN_FILE=train.tags.de-en.{lang}
# In the order of the standard preparation, so that test lines match other IWSLT14 de-en outputs line by line.
TEST_FILES=(IWSLT14.TED.dev2010 IWSLT14.TEDX.dev2012 IWSLT14.TED.tst2010 IWSLT14.TED.tst2011 IWSLT14.TED.tst2012)
TEST_SENTENCES=6750
MIN_TOKENS=1
MAX_TOKENS=175
LENGTH_RATIO=1.5
VALID_EVERY=23
BPE_SIZE=10000
BPE_CHARACTER_COVERAGE=1.0
BPE_TRAIN_SENTENCES=0  # all

source "$(dirname "${BASH_SOURCE[0]}")/lib/prepare-common.sh"

ARCHIVE_OR_URL=""
while (($#)); do
  case "$1" in
    --force) FORCE=1; shift ;;
    -h|--help) print_usage; exit 0 ;;
    -*) usage_error "unknown argument '$1'" ;;
    *) [[ -z "$ARCHIVE_OR_URL" ]] || usage_error "one archive only, got '$ARCHIVE_OR_URL' and '$1'"
       ARCHIVE_OR_URL="$1"; shift ;;
  esac
done
[[ -n "$ARCHIVE_OR_URL" ]] || usage_error "name the IWSLT14 archive de-en.tgz (a file or a URL)"

prepare_init

NOT_FOUND_HINT="the original host wit3.fbk.eu is gone: pass a local copy of the 2014-01 TED archive de-en.tgz,"\
" or a mirror's URL"
if [[ -f "$ARCHIVE_OR_URL" ]]; then
  ARCHIVE="$(cd "$(dirname "$ARCHIVE_OR_URL")" && pwd)/$(basename "$ARCHIVE_OR_URL")"
elif [[ "$ARCHIVE_OR_URL" =~ ^[A-Za-z][A-Za-z0-9+.-]*:// ]]; then
  ARCHIVE="$DATA_WORK/download/$(basename "${ARCHIVE_OR_URL%%\?*}")"
  # A download is reused only for the same URL.
  if [[ ! -f "$ARCHIVE" || "$(cat "$ARCHIVE.url" 2>/dev/null)" != "$ARCHIVE_OR_URL" ]]; then
    step "downloading $ARCHIVE_OR_URL"
    rm -f "$ARCHIVE" "$ARCHIVE.url"
    download "$ARCHIVE_OR_URL" "$ARCHIVE" || die "could not download $ARCHIVE_OR_URL; $NOT_FOUND_HINT"
    echo "$ARCHIVE_OR_URL" > "$ARCHIVE.url"
  fi
else
  die "$ARCHIVE_OR_URL is neither a file nor a URL; $NOT_FOUND_HINT"
fi

# Check the archive's layout before any work: the folder that holds train.tags.de-en.de, and every file needed.
MEMBERS="$(tar -tzf "$ARCHIVE" 2>/dev/null)" \
  || die "$ARCHIVE is not a readable .tgz archive: download or copy it again ($NOT_FOUND_HINT)"
ARCHIVE_DIR="$(grep -m1 -E '(^|/)train\.tags\.de-en\.de$' <<< "$MEMBERS" \
  | sed -E 's#/?train\.tags\.de-en\.de$##' || true)"
NEEDED=()
for lang in "$SRC" "$TGT"; do
  NEEDED+=("${TRAIN_FILE/\{lang\}/$lang}")
  for name in "${TEST_FILES[@]}"; do NEEDED+=("$name.de-en.$lang.xml"); done
done
MISSING=()
for name in "${NEEDED[@]}"; do
  grep -qxF "${ARCHIVE_DIR:+$ARCHIVE_DIR/}$name" <<< "$MEMBERS" || MISSING+=("$name")
done
((${#MISSING[@]} == 0)) \
  || die "$ARCHIVE lacks ${MISSING[*]}: it is not the IWSLT14 de-en.tgz (2014-01 TED release); $NOT_FOUND_HINT"

TOK_KEY="iwslt14 tok | code $(code_fingerprint) | inputs $(fingerprint "$ARCHIVE")"\
" | lowercased, $MIN_TOKENS-$MAX_TOKENS tokens, ratio $LENGTH_RATIO, valid every $VALID_EVERY"
BPE_KEY="$TOK_KEY | bpe $BPE_SIZE $BPE_CHARACTER_COVERAGE $BPE_TRAIN_SENTENCES"
RESULT_KEY="$BPE_KEY | $SRC-$TGT"
exit_if_current "$RESULT_KEY"

build_tok_stage() {
  local files=() name lang test_specs=()
  step "unpacking $ARCHIVE"
  mkdir -p "$STAGE/archive"
  for name in "${NEEDED[@]}"; do files+=("${ARCHIVE_DIR:+$ARCHIVE_DIR/}$name"); done
  tar -xzf "$ARCHIVE" -C "$STAGE/archive" "${files[@]}"
  local dir="$STAGE/archive${ARCHIVE_DIR:+/$ARCHIVE_DIR}"
  for name in "${TEST_FILES[@]}"; do test_specs+=("$dir/$name.de-en.{lang}.xml"); done

  step "stripping the XML"
  "${PREPARE[@]}" extract --langs "$SRC" "$TGT" --out-dir "$STAGE/text" \
    "train=$dir/$TRAIN_FILE" "test=$(IFS=,; echo "${test_specs[*]}")"
  step "tokenizing (Moses, lowercased)"
  "${PREPARE[@]}" tokenize --langs "$SRC" "$TGT" --splits train --lowercase \
    --in-dir "$STAGE/text" --out-dir "$STAGE/all" --workers "$WORKERS"
  "${PREPARE[@]}" tokenize --langs "$SRC" "$TGT" --splits test --lowercase --straight-apostrophes \
    --in-dir "$STAGE/text" --out-dir "$STAGE/tok" --workers "$WORKERS"
  step "cleaning training pairs ($MIN_TOKENS-$MAX_TOKENS tokens, length ratio $LENGTH_RATIO)"
  "${PREPARE[@]}" clean --langs "$SRC" "$TGT" --split train --min-tokens "$MIN_TOKENS" --max-tokens "$MAX_TOKENS" \
    --ratio "$LENGTH_RATIO" --in-dir "$STAGE/all" --out-dir "$STAGE/clean" \
    --companion "$STAGE/text" "$STAGE/text-clean"  # the untokenized text keeps the same pairs, for valid's refs
  step "taking every ${VALID_EVERY}rd training pair out as valid"
  for lang in "$SRC" "$TGT"; do
    awk -v n="$VALID_EVERY" 'NR % n == 0' "$STAGE/clean/train.$lang" > "$STAGE/tok/valid.$lang"
    awk -v n="$VALID_EVERY" 'NR % n != 0' "$STAGE/clean/train.$lang" > "$STAGE/tok/train.$lang"
    awk -v n="$VALID_EVERY" 'NR % n == 0' "$STAGE/text-clean/train.$lang" > "$STAGE/text/valid.$lang"
  done
  [[ -s "$STAGE/tok/valid.$SRC" ]] \
    || die "fewer than $VALID_EVERY training pairs are left after cleaning, so valid would be empty:" \
      "$ARCHIVE holds too little training text"
  local test_lines
  test_lines="$(wc -l < "$STAGE/tok/test.$SRC")"
  [[ "$test_lines" -eq "$TEST_SENTENCES" ]] \
    || log "note: test has $test_lines sentences, where the 2014-01 release gives $TEST_SENTENCES:" \
      "check that $ARCHIVE is that release"
  rm -rf "$STAGE/archive" "$STAGE/all" "$STAGE/clean" "$STAGE/text-clean" "$STAGE/text/train."*
}

run_stage "$TOK_STAGE" "$TOK_KEY" build_tok_stage
run_stage "$BPE_STAGE" "$BPE_KEY" build_bpe_stage
build_result "$RESULT_KEY"
summarize
