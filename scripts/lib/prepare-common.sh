# What scripts/prepare-*.sh share; sourced, not run. The sourcing script sets TAG (its name, for messages),
# DATA_NAME (its folder under $DATA_BIN), SRC and TGT (the direction), SPLITS (train first, then valid, test ...)
# and the BPE_* settings, then calls prepare_init.
#
# Layout of a run:
#   $DATA_WORK/download/      downloads, kept: a finished download is never fetched again
#   $DATA_WORK/tok/           stage 1: text/SPLIT.LANG (untokenized evaluation text, for refs/) and
#                             tok/SPLIT.LANG (Moses-tokenized, filtered training text and every evaluation split)
#   $DATA_WORK/bpe/           stage 2: spm.model, spm.vocab and SPLIT.LANG as sentencepiece pieces
#   $DATA_BIN/$DATA_NAME/     the result: fairseq-preprocess output, spm.*, refs/
# A stage is built in NAME.partial and renamed when complete, with a key of everything it depends on (inputs'
# names, sizes and times, the settings, this code); a later run reuses it only when the key is the same. The
# result is built beside its final place and moved there at the end, so a failed run leaves the old one intact.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CURRENT_STEP="start"
PUBLISHED=0
FORCE=0

log() { echo "[$TAG] $*"; }
step() { CURRENT_STEP="$1"; log "$1 ..."; }
# die MESSAGE: the one-line error of bad input; the message names the fix.
die() { echo "error: $*" >&2; DIED=1; exit 1; }
usage_error() { echo "error: $*; see $(basename "$0") --help" >&2; DIED=1; exit 2; }

# print_usage: the calling script's header comment.
print_usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }

on_exit() {
  local status=$?
  [[ -n "${OUT_PARTIAL:-}" && -d "$OUT_PARTIAL" ]] && rm -rf "$OUT_PARTIAL"
  if [[ $status -ne 0 && -z "${DIED:-}" && $PUBLISHED -eq 0 ]]; then
    echo "[$TAG] stopped while: $CURRENT_STEP (exit status $status); ${OUT:-the output} was not changed" >&2
  fi
}

prepare_init() {
  DATA_BIN="${DATA_BIN:-$ROOT/data/data-bin}"
  DATA_WORK="${DATA_WORK:-$ROOT/data/work/$DATA_NAME}"
  OUT="$DATA_BIN/$DATA_NAME"
  TOK_STAGE="$DATA_WORK/tok"
  BPE_STAGE="$DATA_WORK/bpe"
  WORKERS="$(nproc)"
  trap on_exit EXIT
  find_python
  mkdir -p "$DATA_WORK" "$DATA_BIN"
  DATA_WORK="$(cd "$DATA_WORK" && pwd)"
  # Two runs on one work folder would overwrite each other's stages.
  exec 9>"$DATA_WORK/.lock"
  flock -n 9 || die "another run is preparing $DATA_WORK: wait for it to finish, or set DATA_WORK to another folder"
}

# The project's environment when there is one (scripts/setup.sh makes it), else the python3 on PATH. Sets PY,
# PREPARE (the command of the Python steps) and TOOL_VERSIONS (a new sacremoses or sentencepiece can change the
# text, so results are keyed on them too).
find_python() {
  local venv="${VENV:-$ROOT/.venv}"
  if [[ -x "$venv/bin/python" ]]; then PY="$venv/bin/python"; else PY="$(command -v python3 || true)"; fi
  [[ -n "$PY" ]] || die "no python3 found: run scripts/setup.sh to create the project's environment"
  # Looks the packages up without importing them: importing fairseq takes seconds.
  TOOL_VERSIONS="$("$PY" - <<'EOF'
import importlib.metadata, importlib.util, sys
distributions = {"sacremoses": ["sacremoses"], "sentencepiece": ["sentencepiece"],
                 "fairseq_cli": ["fairseq-fixed", "fairseq"]}
missing = [module for module in distributions if importlib.util.find_spec(module) is None]
if missing:
    sys.exit("missing python packages: " + " ".join(missing))
for module, names in distributions.items():
    versions = []
    for name in names:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    print(" ".join(versions) or f"{module} (version unknown)", end="; ")
EOF
  )" || die "$PY lacks the packages above: run scripts/setup.sh, or set VENV to the project's environment"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  PREPARE=("$PY" -m macaron_fairseq.data.prepare_corpus)
}

# fingerprint FILE...: names, sizes and modification times of the files, as one number.
fingerprint() { stat -L -c '%n %s %Y' "$@" | cksum | cut -d' ' -f1; }

# code_fingerprint: the code a result depends on, as one number: the calling script, this file, the Python steps
# and the versions of the tools they run.
code_fingerprint() {
  local name steps=()
  for name in prepare_corpus text_files markup moses_tokenize length_filter sentencepiece_bpe; do
    steps+=("$ROOT/macaron_fairseq/data/$name.py")
  done
  { cat "$0" "${BASH_SOURCE[0]}" "${steps[@]}"; echo "$TOOL_VERSIONS"; } | cksum | cut -d' ' -f1
}

# run_stage DIR KEY FUNCTION: reuses DIR when it was built with the same KEY (and no --force), otherwise runs
# FUNCTION to build it in the empty folder $STAGE and renames that to DIR once FUNCTION has succeeded.
run_stage() {
  local dir="$1" key="$2" build="$3"
  if [[ "$FORCE" -eq 0 && -f "$dir/.stage-key" && "$(cat "$dir/.stage-key")" == "$key" ]]; then
    log "reusing $dir (built from the same inputs and settings)"
    return 0
  fi
  STAGE="$dir.partial"
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  "$build"
  echo "$key" > "$STAGE/.stage-key"
  rm -rf "$dir"
  mv "$STAGE" "$dir"
}

# build_bpe_stage: learns joint BPE on $TOK_STAGE's training text and encodes every split of $SPLITS as pieces.
# Settings: BPE_SIZE, BPE_CHARACTER_COVERAGE, BPE_TRAIN_SENTENCES (0: all).
build_bpe_stage() {
  step "learning joint sentencepiece BPE, $BPE_SIZE pieces, on tok/train.{$SRC,$TGT}"
  "${PREPARE[@]}" bpe-train --model-prefix "$STAGE/spm" --vocab-size "$BPE_SIZE" \
    --character-coverage "$BPE_CHARACTER_COVERAGE" --input-sentence-size "$BPE_TRAIN_SENTENCES" \
    --threads "$WORKERS" "$TOK_STAGE/tok/train.$SRC" "$TOK_STAGE/tok/train.$TGT"
  step "encoding every split as sentencepiece pieces"
  "${PREPARE[@]}" bpe-encode --model "$STAGE/spm.model" --langs "$SRC" "$TGT" --splits "${SPLITS[@]}" \
    --in-dir "$TOK_STAGE/tok" --out-dir "$STAGE" --threads "$WORKERS"
}

# download URL DEST: fetches URL to DEST (through DEST.part, so DEST exists only when complete); fails quietly.
download() {
  mkdir -p "$(dirname "$2")"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 2 --connect-timeout 30 -o "$2.part" "$1" 2>/dev/null || { rm -f "$2.part"; return 1; }
  elif command -v wget >/dev/null; then
    wget -q --tries=3 --timeout=30 -O "$2.part" "$1" || { rm -f "$2.part"; return 1; }
  else
    return 1
  fi
  mv "$2.part" "$2"
}

# exit_if_current KEY: when $OUT was built from the same inputs, settings and code (and no --force), says so,
# summarizes it and ends the run.
exit_if_current() {
  if [[ "$FORCE" -eq 0 && -f "$OUT/.prepared" && "$(cat "$OUT/.prepared")" == "$1" ]]; then
    log "$OUT is up to date (same inputs, settings and code); --force rebuilds it"
    summarize holds
    exit 0
  fi
}

# build_result KEY: binarizes $BPE_STAGE's splits with fairseq-preprocess into a new folder, adds spm.* and refs/,
# checks that every reference line has its sentence, and puts the folder at $OUT.
build_result() {
  local key="$1" tok_stage="$TOK_STAGE" bpe_stage="$BPE_STAGE" src="$SRC" tgt="$TGT"
  local eval_splits=("${SPLITS[@]:1}") split lang testprefs=()
  OUT_PARTIAL="$DATA_BIN/.$DATA_NAME.partial.$$"
  rm -rf "$OUT_PARTIAL"
  for split in "${eval_splits[@]:1}"; do testprefs+=("$bpe_stage/$split"); done

  step "binarizing with fairseq-preprocess ($WORKERS workers)"
  # SPLITS lists valid first; fairseq names the test prefixes test, test1 ... in the order given.
  "$PY" -m fairseq_cli.preprocess --source-lang "$src" --target-lang "$tgt" --joined-dictionary \
    --trainpref "$bpe_stage/train" --validpref "$bpe_stage/valid" \
    --testpref "$(IFS=,; echo "${testprefs[*]}")" \
    --destdir "$OUT_PARTIAL" --workers "$WORKERS" > "$OUT_PARTIAL.log" 2>&1 \
    || { cat "$OUT_PARTIAL.log" >&2; rm -f "$OUT_PARTIAL.log"; return 1; }
  rm -f "$OUT_PARTIAL.log"
  cp "$bpe_stage/spm.model" "$bpe_stage/spm.vocab" "$OUT_PARTIAL/"

  step "writing references"
  mkdir -p "$OUT_PARTIAL/refs"
  for split in "${eval_splits[@]}"; do
    for lang in "$src" "$tgt"; do
      cp "$tok_stage/text/$split.$lang" "$OUT_PARTIAL/refs/$split.detok.$lang"
      cp "$tok_stage/tok/$split.$lang" "$OUT_PARTIAL/refs/$split.tok.$lang"
    done
  done
  check_result "$OUT_PARTIAL" "${eval_splits[@]}"
  echo "$key" > "$OUT_PARTIAL/.prepared"

  # Swap the finished folder in; the previous result (if any) goes only once the new one is in place.
  local old="$DATA_BIN/.$DATA_NAME.old.$$"
  [[ -e "$OUT" ]] && mv "$OUT" "$old"
  mv "$OUT_PARTIAL" "$OUT"
  PUBLISHED=1
  rm -rf "$old"
}

# binarized_sentences FILE.idx: the sentence count in the header of fairseq's mmap index
# (9-byte magic, 8-byte version, 1-byte dtype, then the count as little-endian uint64).
binarized_sentences() { od -An -t u8 -j 18 -N 8 "$1" | tr -d ' '; }

# check_result DIR EVAL_SPLIT...: every reference file has one line per binarized sentence of its split.
check_result() {
  local dir="$1" src="$SRC" tgt="$TGT" split lang kind sentences lines
  shift
  for split in "$@"; do
    for lang in "$src" "$tgt"; do
      sentences="$(binarized_sentences "$dir/$split.$src-$tgt.$lang.idx")"
      for kind in detok tok; do
        lines="$(wc -l < "$dir/refs/$split.$kind.$lang")"
        [[ "$lines" -eq "$sentences" ]] || die "refs/$split.$kind.$lang has $lines lines but" \
          "$split.$src-$tgt.$lang holds $sentences sentences: a bug in $TAG, please report it"
      done
    done
  done
}

# summarize [VERB]: what $OUT holds ("wrote", or VERB) and the line counts of every split.
summarize() {
  local src="$SRC" tgt="$TGT" split refs lang kind
  if [[ -z "${1:-}" ]]; then log "wrote $OUT in ${SECONDS}s:"; else log "$1 $OUT:"; fi
  echo "  SPLIT.$src-$tgt.{$src,$tgt}.{bin,idx}, dict.{$src,$tgt}.txt" \
    "(fairseq-preprocess, joined dictionary of $(wc -l < "$OUT/dict.$src.txt") entries)"
  echo "  spm.model, spm.vocab (sentencepiece BPE, $(wc -l < "$OUT/spm.vocab") pieces)"
  echo "  refs/SPLIT.detok.LANG (untokenized) and refs/SPLIT.tok.LANG (Moses-tokenized) of every evaluation split"
  printf '  %-6s %12s %12s   %s\n' split "$src sents" "$tgt sents" \
    "reference lines (detok.$src detok.$tgt tok.$src tok.$tgt)"
  for split in "${SPLITS[@]}"; do
    refs="-"
    if [[ -f "$OUT/refs/$split.detok.$src" ]]; then
      refs=""
      for kind in detok tok; do
        for lang in "$src" "$tgt"; do refs+="$(wc -l < "$OUT/refs/$split.$kind.$lang") "; done
      done
    fi
    printf '  %-6s %12s %12s   %s\n' "$split" "$(binarized_sentences "$OUT/$split.$src-$tgt.$src.idx")" \
      "$(binarized_sentences "$OUT/$split.$src-$tgt.$tgt.idx")" "$refs"
  done
}
