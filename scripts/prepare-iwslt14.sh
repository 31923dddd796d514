#!/usr/bin/env bash
# Prepares IWSLT14 German->English (TED talks) for fairseq as the standard recipe does: XML stripped, Moses
# tokenization, training pairs cleaned to 1-175 tokens and a length ratio of at most 1.5, lowercased; valid is
# every 23rd training pair (taken out of train), test is IWSLT14.TED.dev2010, IWSLT14.TEDX.dev2012 and
# IWSLT14.TED.tst2010-2012 (6,750 sentences). Joint sentencepiece BPE of 10,000 pieces.
#
#   scripts/prepare-iwslt14.sh ARCHIVE_OR_URL [--out DIR] [--work-dir DIR] [--force]
#
#   ARCHIVE_OR_URL  the 2014-01 TED archive de-en.tgz (de-en/train.tags.de-en.{de,en},
#                   de-en/IWSLT14.TED*.de-en.{de,en}.xml), as a local file or a mirror's URL. Its original
#                   host, wit3.fbk.eu, is gone.
#   --out DIR       the result (default data/data-bin/iwslt14.de-en): fairseq-preprocess output (joined
#                   dictionary), spm.model, spm.vocab, refs/{valid,test}.{detok,tok}.{de,en} (detok: the
#                   XML-stripped text as written, not lowercased; tok: the lowercased Moses tokens the model reads
#                   and the paper's BLEU is computed on), corpus.json
#   --work-dir DIR  downloads and the stages a later run reuses (default data/work/iwslt14.de-en)
#   --force         rebuild everything, even when the archive and settings have not changed
#
# Environment: VENV (the Python environment, default .venv). It unpacks the archive and strips the XML; the
# steps after that are scripts/prepare-corpus.sh's.
set -euo pipefail

TAG=prepare-iwslt14
SRC=de
TGT=en
TRAIN_FILE=train.tags.de-en.{lang}
# In the order of the standard preparation, so that test lines match other IWSLT14 de-en outputs line by line.
TEST_FILES=(IWSLT14.TED.dev2010 IWSLT14.TEDX.dev2012 IWSLT14.TED.tst2010 IWSLT14.TED.tst2011 IWSLT14.TED.tst2012)
TEST_SENTENCES=6750
# The standard recipe: lowercased, training pairs of 1-175 tokens and a length ratio of at most 1.5, every 23rd
# cleaned training pair taken out as valid, ’ written as ' in the test sets (not in the training text).
RECIPE=(--lowercase --min-tokens 1 --max-tokens 175 --ratio 1.5 --valid-every 23 --eval-straight-apostrophes
        --bpe-size 10000)

source "$(dirname "${BASH_SOURCE[0]}")/lib/prepare-common.sh"

ARCHIVE_OR_URL=""
OUT="$DATA_BIN_DIR/iwslt14.de-en"
WORK_DIR="$ROOT/data/work/iwslt14.de-en"
while (($#)); do
  case "$1" in
    --out) need_value "$@"; OUT="$(folder_option "$1" "$2")"; shift 2 ;;
    --work-dir) need_value "$@"; WORK_DIR="$(folder_option "$1" "$2")"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage_error "unknown argument '$1'" ;;
    *) [[ -z "$ARCHIVE_OR_URL" ]] || usage_error "one archive only, got '$ARCHIVE_OR_URL' and '$1'"
       ARCHIVE_OR_URL="$1"; shift ;;
  esac
done
[[ -n "$ARCHIVE_OR_URL" ]] || usage_error "name the IWSLT14 archive de-en.tgz (a file or a URL)"

prepare_init "$WORK_DIR"

NOT_FOUND_HINT="the original host wit3.fbk.eu is gone: pass a local copy of the 2014-01 TED archive de-en.tgz,"\
" or a mirror's URL"
if [[ -f "$ARCHIVE_OR_URL" ]]; then
  ARCHIVE="$(cd "$(dirname "$ARCHIVE_OR_URL")" && pwd)/$(basename "$ARCHIVE_OR_URL")"
elif [[ "$ARCHIVE_OR_URL" =~ ^[A-Za-z][A-Za-z0-9+.-]*:// ]]; then
  ARCHIVE="$WORK/download/$(basename "${ARCHIVE_OR_URL%%\?*}")"
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

# Stage text/: the training text without its metadata lines, and the test sets' <seg> text, one file per side.
build_text_stage() {
  local files=() name test_specs=()
  step "unpacking $ARCHIVE"
  mkdir -p "$STAGE/archive"
  for name in "${NEEDED[@]}"; do files+=("${ARCHIVE_DIR:+$ARCHIVE_DIR/}$name"); done
  tar -xzf "$ARCHIVE" -C "$STAGE/archive" "${files[@]}"
  local dir="$STAGE/archive${ARCHIVE_DIR:+/$ARCHIVE_DIR}"
  for name in "${TEST_FILES[@]}"; do test_specs+=("$dir/$name.de-en.{lang}.xml"); done
  step "stripping the XML"
  "${PREPARE[@]}" extract --langs "$SRC" "$TGT" --out-dir "$STAGE" \
    "train=$dir/$TRAIN_FILE" "test=$(IFS=,; echo "${test_specs[*]}")"
  rm -rf "$STAGE/archive"
  local test_lines
  test_lines="$(wc -l < "$STAGE/test.$SRC")"
  [[ "$test_lines" -eq "$TEST_SENTENCES" ]] \
    || log "note: test has $test_lines sentences, where the 2014-01 release gives $TEST_SENTENCES:" \
      "check that $ARCHIVE is that release"
}
run_stage "$WORK/text" "iwslt14 text | code $(code_fingerprint) | inputs $(fingerprint "$ARCHIVE")" build_text_stage

prepare_corpus --src "$SRC" --tgt "$TGT" --train "$WORK/text/train" --test "$WORK/text/test" "${RECIPE[@]}"
