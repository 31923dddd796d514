#!/usr/bin/env bash
# Converts a checkpoint released by Macaron Net's authors (their fairseq v0.6 fork) into one that
# fairseq-generate --user-dir macaron_fairseq loads. See docs/official-checkpoints.md.
#
#   scripts/convert-official.sh IN.pt OUT.pt
#
#   VENV=path    the project's virtual environment (default: .venv in the repository root, as scripts/setup.sh makes)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

if [[ $# -ne 2 ]]; then
  echo "usage: scripts/convert-official.sh IN.pt OUT.pt" >&2
  exit 2
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "error: no Python environment at $VENV: run scripts/setup.sh first, or set VENV" >&2
  exit 1
fi

exec "$VENV/bin/python" -m macaron_fairseq.convert_official "$1" "$2"
