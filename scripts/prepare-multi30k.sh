#!/usr/bin/env bash
# Prepares Multi30k task 1 German->English (Elliott et al. 2016) for fairseq: train (29,000 pairs), valid (val,
# 1,014), test (test_2016_flickr, 1,000) and test1 (test_2017_flickr, 1,000). Cased text, Moses tokenization,
# joint sentencepiece BPE of 8,000 pieces; only training pairs with an empty side are dropped.
#
#   scripts/prepare-multi30k.sh [--raw-dir DIR] [--out DIR] [--work-dir DIR] [--force]
#
#   --raw-dir DIR   folder with the raw files train.{de,en}.gz, val.*, test_2016_flickr.*, test_2017_flickr.*
#                   (default: $MULTI30K_RAW_DIR; without either they are downloaded from the GitHub repository
#                   multi30k/dataset, data/task1/raw/). A synthetic corpus in the same layout:
#                   python -m macaron_tools.data.toy_corpus DIR
#   --out DIR       the result (default data/data-bin/multi30k.de-en): fairseq-preprocess output (joined
#                   dictionary), spm.model, spm.vocab, refs/{valid,test,test1}.{detok,tok}.{de,en}, corpus.json
#   --work-dir DIR  downloads and the stages a later run reuses (default data/work/multi30k.de-en)
#   --force         rebuild everything, even when the inputs and settings have not changed
#
# Environment: MULTI30K_RAW_DIR (the default of --raw-dir), MULTI30K_URL (where to download from), VENV (the
# Python environment, default .venv). The steps after download are scripts/prepare-corpus.sh's.
set -euo pipefail

TAG=prepare-multi30k
SRC=de
TGT=en
SPLITS=(train valid test test1)
# The raw file stem of each split.
declare -A RAW_STEM=([train]=train [valid]=val [test]=test_2016_flickr [test1]=test_2017_flickr)
RAW_URL="${MULTI30K_URL:-https://github.com/multi30k/dataset/raw/master/data/task1/raw}"
# 8,000 joint pieces: the tokenized training text has about 19,200 German and 11,300 English word types, most of
# them seen once or twice in 29,000 sentences. 8,000 pieces keep the frequent words whole and split the rare ones
# (German compounds above all) into pieces seen often enough to learn, and worked well for the small model of the
# multi30k setting; a larger vocabulary would add pieces seen only a handful of times.
BPE_SIZE=8000

source "$(dirname "${BASH_SOURCE[0]}")/lib/prepare-common.sh"

RAW_DIR="${MULTI30K_RAW_DIR:-}"
OUT="$DATA_BIN_DIR/multi30k.de-en"
WORK_DIR="$ROOT/data/work/multi30k.de-en"
while (($#)); do
  case "$1" in
    --raw-dir) need_value "$@"; RAW_DIR="$2"; shift 2 ;;
    --raw-dir=*) RAW_DIR="${1#*=}"; shift ;;
    --out) need_value "$@"; OUT="$(folder_option "$1" "$2")"; shift 2 ;;
    --work-dir) need_value "$@"; WORK_DIR="$(folder_option "$1" "$2")"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

prepare_init "$WORK_DIR"

raw_files() {  # the raw file names, split by split
  local split lang
  for split in "${SPLITS[@]}"; do
    for lang in "$SRC" "$TGT"; do echo "${RAW_STEM[$split]}.$lang.gz"; done
  done
}

if [[ -n "$RAW_DIR" ]]; then
  [[ -d "$RAW_DIR" ]] \
    || die "--raw-dir $RAW_DIR is not a folder: give the folder that holds Multi30k's train.de.gz, val.de.gz ..."
  RAW_DIR="$(cd "$RAW_DIR" && pwd)"
  missing=()
  for file in $(raw_files); do [[ -f "$RAW_DIR/$file" ]] || missing+=("$file"); done
  ((${#missing[@]} == 0)) || die "$RAW_DIR lacks ${missing[*]}: --raw-dir needs Multi30k task 1's raw files" \
    "{train,val,test_2016_flickr,test_2017_flickr}.{de,en}.gz" \
    "(or a synthetic set: python -m macaron_tools.data.toy_corpus DIR)"
else
  RAW_DIR="$WORK/download"
  for file in $(raw_files); do
    [[ -f "$RAW_DIR/$file" ]] && continue
    step "downloading $RAW_URL/$file"
    download "$RAW_URL/$file" "$RAW_DIR/$file" \
      || die "could not download $RAW_URL/$file: pass --raw-dir DIR (or set MULTI30K_RAW_DIR)" \
        "with the raw .gz files of Multi30k task 1"
  done
fi

SPLIT_FLAGS=()
for split in "${SPLITS[@]}"; do SPLIT_FLAGS+=("--$split" "$RAW_DIR/${RAW_STEM[$split]}"); done
# Cased text; only training pairs with an empty side are dropped.
prepare_corpus --src "$SRC" --tgt "$TGT" "${SPLIT_FLAGS[@]}" --bpe-size "$BPE_SIZE" --min-tokens 1
