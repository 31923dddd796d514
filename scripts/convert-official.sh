#!/usr/bin/env bash
# Converts a checkpoint released by Macaron Net's authors (their fairseq v0.6 fork) into one that
# fairseq-generate --user-dir macaron_fairseq loads. See docs/official-checkpoints.md.
#
#   scripts/convert-official.sh IN.pt OUT.pt
#
# Environment: VENV (the project's environment, default .venv, as scripts/setup.sh makes it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  -*) usage_error "unknown option '$1'" ;;
esac
[[ $# -eq 2 ]] || usage_error "give two files, IN.pt and OUT.pt"
[[ -x "$VENV/bin/python" ]] || die "no Python environment at $VENV: run scripts/setup.sh first, or set VENV"
exec "$VENV/bin/python" -m macaron_tools.conversion.convert_official "$1" "$2"
