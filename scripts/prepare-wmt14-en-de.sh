#!/usr/bin/env bash
# Prepares WMT14 English->German for fairseq as the authors' recipe does: training text from europarl-v7,
# commoncrawl and news-commentary-v12; valid newstest2013 (3,000 sentences), test newstest2014 (the full set,
# 3,003). Punctuation normalized, non-printing characters removed, Moses tokenization with aggressive dash
# splitting (-a), cased; training pairs of 1-80 tokens with a length ratio of at most 1.5. Joint sentencepiece BPE
# of 32,000 pieces.
#
#   scripts/prepare-wmt14-en-de.sh [--archive-dir DIR] [--out DIR] [--work-dir DIR] [--force]
#
#   --archive-dir DIR  folder holding training-parallel-europarl-v7.tgz, training-parallel-commoncrawl.tgz,
#                      training-parallel-nc-v12.tgz, dev.tgz and test-full.tgz (default: download them from
#                      statmt.org into the work folder's download/, over 1.5 GB)
#   --out DIR          the result (default data/data-bin/wmt14.en-de): fairseq-preprocess output (joined
#                      dictionary), spm.model, spm.vocab, refs/{valid,test}.{detok,tok}.{en,de} (detok: the <seg>
#                      text of the sgm files, as sacreBLEU reads it; tok: the model's Moses tokens), corpus.json
#   --work-dir DIR     downloads and the stages a later run reuses (default data/work/wmt14.en-de)
#   --force            rebuild everything, even when the archives and settings have not changed
#
# Environment: VENV (the Python environment, default .venv). It unpacks the archives and reads the <seg> text;
# the steps after that are scripts/prepare-corpus.sh's. Tokenizing the 4.5 million training pairs dominates the
# run time: sacremoses manages a few thousand sentences per second per core, and every core of the machine is used.
set -euo pipefail

TAG=prepare-wmt14-en-de
SRC=en
TGT=de
# The archives and the addresses fairseq's examples/translation/prepare-wmt14en2de.sh fetches them from.
ARCHIVES=(training-parallel-europarl-v7.tgz training-parallel-commoncrawl.tgz training-parallel-nc-v12.tgz
          dev.tgz test-full.tgz)
declare -A ARCHIVE_URL=(
  [training-parallel-europarl-v7.tgz]=http://statmt.org/wmt13/training-parallel-europarl-v7.tgz
  [training-parallel-commoncrawl.tgz]=http://statmt.org/wmt13/training-parallel-commoncrawl.tgz
  [training-parallel-nc-v12.tgz]=http://data.statmt.org/wmt17/translation-task/training-parallel-nc-v12.tgz
  [dev.tgz]=http://data.statmt.org/wmt17/translation-task/dev.tgz
  [test-full.tgz]=http://statmt.org/wmt14/test-full.tgz
)
# The files taken from each archive ({lang}: en and de; the sgm files hold the source (en) and reference (de)).
declare -A ARCHIVE_FILES=(
  [training-parallel-europarl-v7.tgz]="europarl-v7.de-en.{lang}"
  [training-parallel-commoncrawl.tgz]="commoncrawl.de-en.{lang}"
  [training-parallel-nc-v12.tgz]="news-commentary-v12.de-en.{lang}"
  [dev.tgz]="newstest2013-src.en.sgm newstest2013-ref.de.sgm"
  [test-full.tgz]="newstest2014-deen-src.en.sgm newstest2014-deen-ref.de.sgm"
)
TRAIN_CORPORA=(europarl-v7.de-en commoncrawl.de-en news-commentary-v12.de-en)
VALID_SGM=(newstest2013-src.en.sgm newstest2013-ref.de.sgm)
TEST_SGM=(newstest2014-deen-src.en.sgm newstest2014-deen-ref.de.sgm)
TEST_SENTENCES=3003
RECIPE=(--normalize-punctuation --remove-non-printing --aggressive-dash-splits --min-tokens 1 --max-tokens 80
        --ratio 1.5 --bpe-size 32000
        # Web-crawled text holds thousands of characters from other scripts, each seen a few times; 0.9999 leaves
        # those out of the pieces sentencepiece learns (they stay whole characters) rather than spending the
        # vocabulary on them.
        --bpe-character-coverage 0.9999
        # Learn the merges from a sample of 4 million of the ~9 million training lines: the frequent merges come
        # out the same, at a fraction of the memory and time.
        --bpe-train-sentences 4000000)

source "$(dirname "${BASH_SOURCE[0]}")/lib/prepare-common.sh"

ARCHIVE_DIR=""
OUT="$DATA_BIN_DIR/wmt14.en-de"
WORK_DIR="$ROOT/data/work/wmt14.en-de"
while (($#)); do
  case "$1" in
    --archive-dir) need_value "$@"; ARCHIVE_DIR="$2"; shift 2 ;;
    --archive-dir=*) ARCHIVE_DIR="${1#*=}"; shift ;;
    --out) need_value "$@"; OUT="$(folder_option "$1" "$2")"; shift 2 ;;
    --work-dir) need_value "$@"; WORK_DIR="$(folder_option "$1" "$2")"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

prepare_init "$WORK_DIR"

if [[ -n "$ARCHIVE_DIR" ]]; then
  [[ -d "$ARCHIVE_DIR" ]] \
    || die "--archive-dir $ARCHIVE_DIR is not a folder: give the folder that holds ${ARCHIVES[*]}"
  ARCHIVE_DIR="$(cd "$ARCHIVE_DIR" && pwd)"
  MISSING=()
  MISSING_URLS=()
  for archive in "${ARCHIVES[@]}"; do
    [[ -f "$ARCHIVE_DIR/$archive" ]] || { MISSING+=("$archive"); MISSING_URLS+=("${ARCHIVE_URL[$archive]}"); }
  done
  ((${#MISSING[@]} == 0)) || die "$ARCHIVE_DIR lacks ${MISSING[*]}: download them from ${MISSING_URLS[*]}," \
    "or leave out --archive-dir to have them downloaded"
else
  ARCHIVE_DIR="$WORK/download"
  for archive in "${ARCHIVES[@]}"; do
    [[ -f "$ARCHIVE_DIR/$archive" ]] && continue
    step "downloading ${ARCHIVE_URL[$archive]}"
    download "${ARCHIVE_URL[$archive]}" "$ARCHIVE_DIR/$archive" \
      || die "could not download ${ARCHIVE_URL[$archive]}: fetch the archives elsewhere and pass --archive-dir DIR"
  done
fi
ARCHIVE_PATHS=()
for archive in "${ARCHIVES[@]}"; do ARCHIVE_PATHS+=("$ARCHIVE_DIR/$archive"); done

# unpack ARCHIVE FILE...: extracts the members named FILE (in whichever folder of the archive) into $STAGE/archive.
unpack() {
  local archive="$1" patterns=() name
  shift
  for name in "$@"; do patterns+=("*$name"); done
  mkdir -p "$STAGE/archive"
  tar -xzf "$ARCHIVE_DIR/$archive" -C "$STAGE/archive" --wildcards "${patterns[@]}" 2> "$STAGE/tar.err" || {
    if grep -q "Not found in archive" "$STAGE/tar.err"; then
      die "$ARCHIVE_DIR/$archive lacks $*: it is not the WMT archive of that name;" \
        "download it again from ${ARCHIVE_URL[$archive]}"
    fi
    die "$ARCHIVE_DIR/$archive is not a readable .tgz archive ($(head -1 "$STAGE/tar.err")):" \
      "download it again from ${ARCHIVE_URL[$archive]}"
  }
}

# unpacked FILE: the path of an extracted member, wherever it sat in its archive.
unpacked() { find "$STAGE/archive" -type f -name "$1" | head -1; }

# Stage text/: the training corpora and the <seg> text of newstest2013 (valid) and newstest2014 (test).
build_text_stage() {
  local archive name lang corpus train_specs=() files
  for archive in "${ARCHIVES[@]}"; do
    step "unpacking $archive"
    files=()
    for name in ${ARCHIVE_FILES[$archive]}; do
      if [[ "$name" == *"{lang}"* ]]; then
        for lang in "$SRC" "$TGT"; do files+=("${name/\{lang\}/$lang}"); done
      else
        files+=("$name")
      fi
    done
    unpack "$archive" "${files[@]}"
  done
  for corpus in "${TRAIN_CORPORA[@]}"; do
    train_specs+=("$(dirname "$(unpacked "$corpus.$SRC")")/$corpus.{lang}")
  done
  # The sgm files differ in more than the language (src/ref); links give each pair one name pattern.
  mkdir -p "$STAGE/links"
  ln -s "$(unpacked "${VALID_SGM[0]}")" "$STAGE/links/newstest2013.$SRC.sgm"
  ln -s "$(unpacked "${VALID_SGM[1]}")" "$STAGE/links/newstest2013.$TGT.sgm"
  ln -s "$(unpacked "${TEST_SGM[0]}")" "$STAGE/links/newstest2014.$SRC.sgm"
  ln -s "$(unpacked "${TEST_SGM[1]}")" "$STAGE/links/newstest2014.$TGT.sgm"

  step "reading the training text and the <seg> text of newstest2013 and newstest2014"
  "${PREPARE[@]}" extract --langs "$SRC" "$TGT" --out-dir "$STAGE" \
    "train=$(IFS=,; echo "${train_specs[*]}")" \
    "valid=$STAGE/links/newstest2013.{lang}.sgm" "test=$STAGE/links/newstest2014.{lang}.sgm"
  rm -rf "$STAGE/archive" "$STAGE/links" "$STAGE/tar.err"
  local test_lines
  test_lines="$(wc -l < "$STAGE/test.$SRC")"
  [[ "$test_lines" -eq "$TEST_SENTENCES" ]] \
    || log "note: test has $test_lines sentences, where newstest2014 (full) has $TEST_SENTENCES: check test-full.tgz"
}
run_stage "$WORK/text" "wmt14 text | code $(code_fingerprint) | inputs $(fingerprint "${ARCHIVE_PATHS[@]}")" \
  build_text_stage

prepare_corpus --src "$SRC" --tgt "$TGT" --train "$WORK/text/train" --valid "$WORK/text/valid" \
  --test "$WORK/text/test" "${RECIPE[@]}"
