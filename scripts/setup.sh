#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment and installs everything into it:
# torch, fairseq, sacrebleu, sentencepiece, sacremoses, pytest (with pytest-xdist), matplotlib and this plugin
# (editable).
#
#   bash scripts/setup.sh [--help]
#
# Environment:
#   VENV=path              where the environment lives (default: .venv in the repository root)
#   PYTHON=python3.11      interpreter used to create it
#   FAIRSEQ_SOURCE=spec    what pip installs as fairseq (default: fairseq-fixed==0.12.3.1, the PyPI
#                          fairseq 0.12 code patched for Python 3.11+); a git checkout, a local wheel or
#                          sdist path, or any other pip requirement
#   TORCH_SPEC=spec        torch requirement (default: torch==2.13.0)
#
# A second run only checks that everything imports, and changes nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
case "${1:-}" in
  "") ;;
  -h|--help) usage; exit 0 ;;
  *) usage_error "unknown argument '$1': setup.sh takes none (its settings are the environment variables above)" ;;
esac
PYTHON="${PYTHON:-python3}"
FAIRSEQ_SOURCE="${FAIRSEQ_SOURCE:-fairseq-fixed==0.12.3.1}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
# fairseq's runtime requirements, less torchaudio (it pins another torch and translation does not use it).
FAIRSEQ_RUNTIME_DEPS=(cffi "hydra-core==1.3.2" "omegaconf==2.3.0" regex tqdm bitarray scikit-learn packaging)
PROJECT_DEPS=(sacrebleu sentencepiece sacremoses pytest pytest-xdist matplotlib tensorboardX)
# What a ready environment imports: the check that lets a second run skip everything. matplotlib comes first:
# importing fairseq turns on DEBUG logging, which matplotlib's import would then fill with lines.
IMPORTS="matplotlib, torch, fairseq, sacrebleu, sentencepiece, sacremoses, pytest, xdist, macaron_fairseq, macaron_tools"

step() { CURRENT_STEP="$1"; echo "[setup] $1"; }
trap 'echo "[setup] FAILED during: ${CURRENT_STEP:-start}. Fix the cause above and rerun scripts/setup.sh." >&2' ERR

STAMP="$VENV/.macaron-fairseq-setup"
stamp_key="$FAIRSEQ_SOURCE|$TORCH_SPEC|$(cat "$ROOT/setup.py" 2>/dev/null | cksum)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$stamp_key" ]] \
   && "$VENV/bin/python" -c "import $IMPORTS" 2>/dev/null; then
  echo "[setup] $VENV is ready (delete it or $STAMP to reinstall)"
  exit 0
fi

step "create virtual environment at $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step "install build tools and $TORCH_SPEC"
"${PIP[@]}" install -q --upgrade pip setuptools wheel
"${PIP[@]}" install -q "$TORCH_SPEC" cython numpy

step "build fairseq from $FAIRSEQ_SOURCE (takes about 3 minutes on 2 cores the first time)"
if ! "$VENV/bin/python" -c "import fairseq" 2>/dev/null; then
  # Without --no-build-isolation pip would fetch a second, multi-GB torch into a throwaway build environment.
  "${PIP[@]}" install -q --no-build-isolation --no-deps "$FAIRSEQ_SOURCE"
fi

step "install fairseq's runtime requirements (without torchaudio)"
"${PIP[@]}" install -q "$TORCH_SPEC" "${FAIRSEQ_RUNTIME_DEPS[@]}"

step "install ${PROJECT_DEPS[*]}"
"${PIP[@]}" install -q "$TORCH_SPEC" "${PROJECT_DEPS[@]}"

step "install the macaron_fairseq plugin and macaron_tools (editable)"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"

step "check that everything imports"
"$VENV/bin/python" -c "import $IMPORTS; print('[setup] torch', torch.__version__, '| fairseq', fairseq.__version__)"

echo "$stamp_key" > "$STAMP"
echo "[setup] done: activate with 'source $VENV/bin/activate'"
