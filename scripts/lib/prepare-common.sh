# What scripts/prepare-*.sh share; sourced, not run. The sourcing script sets TAG (its name, for messages) and then
# calls prepare_init WORK_DIR once it has read its arguments.
#
# A stage is a folder built in NAME.partial and renamed when complete, with a key of everything it depends on
# (inputs' names, sizes and times, the settings, this code); a later run reuses it only when the key is the same.
# scripts/prepare-corpus.sh runs the stages every corpus goes through (work folder tok/ and bpe/, then the result);
# the corpus scripts add their own download and extraction in front of it.

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
CURRENT_STEP="start"
PUBLISHED=0
FORCE=0

log() { echo "[$TAG] $*"; }
step() { CURRENT_STEP="$1"; log "$1 ..."; }

on_exit() {
  local status=$? lock
  # Built in a hidden folder (and log) beside the output, or in a stage's NAME.partial: unfinished, so removed.
  [[ -n "${OUT_PARTIAL:-}" ]] && rm -rf "$OUT_PARTIAL" "$OUT_PARTIAL.log"
  [[ -n "${STAGE:-}" ]] && rm -rf "$STAGE"
  if [[ -n "${INTERRUPTED:-}" && -n "${IN_CHILD_SCRIPT:-}" ]]; then
    :  # the prepare script it ran, interrupted as well, has said where
  elif [[ -n "${INTERRUPTED:-}" ]]; then
    echo "[$TAG] interrupted while: $CURRENT_STEP; ${OUT:-the output} was not changed and nothing was left behind;" \
      "rerun the same command to go on (finished stages are reused)" >&2
  elif [[ $status -ne 0 && -z "${DIED:-}" && $PUBLISHED -eq 0 ]]; then
    echo "[$TAG] stopped while: $CURRENT_STEP (exit status $status); ${OUT:-the output} was not changed" >&2
  fi
  # Still held here, so no other run holds them: see hold_lock.
  for lock in "${LOCKS_TAKEN[@]}"; do rm -f "$lock"; done
}

# on_interrupt: Ctrl-C (or a kill) ends the run through on_exit, which says so and removes the unfinished work.
on_interrupt() {
  INTERRUPTED=1
  exit 130
}

# hold_lock FILE FD WHAT: one run at a time on WHAT, through a lock on FILE held on file descriptor FD. A script
# that holds the lock and runs another prepare script on the same folders passes it down: the child inherits FD.
# The run that took a lock removes its file on exit, while it still holds it; so a run that locked a file which is
# no longer the one at FILE (removed, perhaps made anew, after it opened it) opens FILE again.
LOCKS_TAKEN=()
hold_lock() {
  local file="$1" fd="$2"
  if [[ -e /proc/$$/fd/$fd && /proc/$$/fd/$fd -ef "$file" ]]; then
    flock -n "$fd" || die "another run is preparing $3: wait for it to finish, or pass another folder"
    return 0
  fi
  while true; do
    { eval "exec $fd>>\"\$file\""; } 2>/dev/null \
      || die "cannot write in $(dirname "$file"), where $3 is prepared: give folders you can write (--out, --work-dir)"
    flock -n "$fd" || die "another run is preparing $3: wait for it to finish, or pass another folder"
    if [[ /proc/$$/fd/$fd -ef "$file" ]]; then
      LOCKS_TAKEN+=("$file")
      return 0
    fi
    eval "exec $fd>&-"
  done
}

# prepare_init WORK_DIR: the exit trap, the Python environment, the check of $OUT, the work folder (made absolute, as
# WORK) and its lock.
prepare_init() {
  WORKERS="$(nproc)"
  trap on_exit EXIT
  trap on_interrupt INT TERM
  find_python
  check_out_replaceable "$1" "${OUT_INPUTS[@]}"
  mkdir -p "$1" || die "cannot make the work folder $1: pass a --work-dir you can write"
  WORK="$(cd "$1" && pwd)"
  hold_lock "$WORK/.lock" 9 "$WORK"
}

# prepare_result_init: what a script that prepares $OUT from $OUT_INPUTS sets up first: NAME, the work folder
# (--work-dir, else data/work/NAME) with its lock, $OUT's folder, a lock on $OUT, and the stages TOK_STAGE, BPE_STAGE.
prepare_result_init() {
  NAME="$(basename "$OUT")"
  prepare_init "${WORK_DIR:-$ROOT/data/work/$NAME}"
  mkdir -p "$(dirname "$OUT")" || die "cannot make $(dirname "$OUT"): pass an --out you can write"
  # Two runs with one output (even with different work folders) would overwrite each other's result.
  hold_lock "$(dirname "$OUT")/.$NAME.lock" 8 "$OUT"
  TOK_STAGE="$WORK/tok"
  BPE_STAGE="$WORK/bpe"
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
  PREPARE=(python_step "$PY" -m macaron_tools.data.prepare_corpus)
}

# python_step COMMAND...: runs a Python step. Python says why it stopped when it exits with status 1 (its one
# error line, or a traceback) or 2 (argparse's usage line), so the script then ends with that status and adds no
# line of its own; a step killed by a signal (status above 128) is left to the exit trap, which says where.
python_step() {
  local status=0
  "$@" || status=$?
  if ((status == 1 || status == 2)); then
    DIED=1
    exit "$status"
  fi
  return "$status"
}

# check_out_replaceable WORK_DIR [INPUT...]: refuses an $OUT that is not an earlier result of these scripts (so
# publish_result would delete a user's files), or that holds the work folder or an input, before any work.
# prepare_init runs it with the input files the caller has put in OUT_INPUTS.
OUT_INPUTS=()
check_out_replaceable() {
  local work_dir="$1"
  shift
  python_step "$PY" -m macaron_tools.data.output_folder "$OUT" --work-dir "$work_dir" --inputs "$@"
}

# fingerprint FILE...: names, sizes and modification times of the files, as one number.
fingerprint() { stat -L -c '%n %s %Y' "$@" | cksum | cut -d' ' -f1; }

# code_fingerprint: the code a result depends on, as one number: the calling script, this file, the Python steps
# (and macaron_tools/files.py, which reads and writes their text) and the versions of the tools they run.
code_fingerprint() {
  local name steps=("$ROOT/macaron_tools/files.py")
  for name in prepare_corpus text_files markup moses_tokenize length_filter sentencepiece_bpe corpus_metadata; do
    steps+=("$ROOT/macaron_tools/data/$name.py")
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

# The result, $OUT: binarized into a new hidden folder beside it ($OUT_PARTIAL, which on_exit removes unless it was
# published), completed by the caller, marked with $RESULT_KEY and swapped in whole.

# exit_if_up_to_date COMMAND...: when $OUT was built from the same $RESULT_KEY (and no --force), says so, runs
# COMMAND (the caller's summary) and ends the run.
exit_if_up_to_date() {
  if [[ "$FORCE" -eq 0 && -f "$OUT/.prepared" && "$(cat "$OUT/.prepared")" == "$RESULT_KEY" ]]; then
    log "$OUT is up to date (same inputs, settings and code); --force rebuilds it"
    "$@"
    exit 0
  fi
}

# binarize FLAG...: fairseq-preprocess FLAG... into a new, empty $OUT_PARTIAL; its output is shown only when it
# fails.
binarize() {
  OUT_PARTIAL="$(dirname "$OUT")/.$NAME.partial.$$"
  rm -rf "$OUT_PARTIAL"
  "$PY" -m fairseq_cli.preprocess "$@" --destdir "$OUT_PARTIAL" --workers "$WORKERS" > "$OUT_PARTIAL.log" 2>&1 \
    || die_of_failed_binarizing
  rm -f "$OUT_PARTIAL.log"
}

# die_of_failed_binarizing: one line for a failed fairseq-preprocess, with the last line of its output (the error of
# its traceback), and where to look when that is a full disk.
die_of_failed_binarizing() {
  local cause
  cause="$(grep -v '^[[:space:]]*$' "$OUT_PARTIAL.log" 2>/dev/null | tail -n 1)"
  if grep -q "No space left on device" "$OUT_PARTIAL.log" 2>/dev/null; then
    die "fairseq-preprocess ran out of disk space writing in $(dirname "$OUT") ($cause): free space there, or" \
      "pass an --out on a disk with room"
  fi
  die "fairseq-preprocess failed (${cause:-no output}): check the inputs, or run it alone to see its log"
}

# publish_result: marks $OUT_PARTIAL as built from $RESULT_KEY and swaps it in for $OUT; the previous result (if
# any) goes only once the new one is in place.
publish_result() {
  echo "$RESULT_KEY" > "$OUT_PARTIAL/.prepared"
  local old="$(dirname "$OUT")/.$NAME.old.$$"
  [[ -e "$OUT" ]] && mv "$OUT" "$old"
  mv "$OUT_PARTIAL" "$OUT"
  PUBLISHED=1
  rm -rf "$old"
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

# prepare_corpus ARGUMENT...: scripts/prepare-corpus.sh with the caller's folders and --force. It says its own
# errors; the caller then ends with its status.
prepare_corpus() {
  local force=()
  [[ "$FORCE" -eq 1 ]] && force=(--force)
  CURRENT_STEP="scripts/prepare-corpus.sh" IN_CHILD_SCRIPT=1
  bash "$ROOT/scripts/prepare-corpus.sh" "$@" --out "$OUT" --work-dir "$WORK" "${force[@]}" || {
    local status=$?
    DIED=1
    exit "$status"
  }
}

# folder_option OPTION VALUE: a --out or --work-dir value, checked: a folder or nothing yet, not a file.
folder_option() {
  [[ ! -e "$2" || -d "$2" ]] || usage_error "$1 $2 is a file: give a folder"
  require_folder_path "$1" "$2"
  absolute_path "$2"
}
