#!/usr/bin/env bash
# Trains a setting's Macaron model under one splitting scheme, with its baseline's parameter count:
# scripts/train.sh --model macaron, plus --macaron-scheme SCHEME and, for a one-FFN scheme, the baseline's FFN
# width (the mapping is benchmarks/lib/schemes.sh's).
#
#   benchmarks/lib/train-scheme.sh SCHEME --setting S [scripts/train.sh options] [-- fairseq-train flags]
#
# SCHEME is one of --macaron-scheme's (strang, strang-tied, lie-trotter, reversed-lie-trotter). The scheme and
# the FFN widths are this script's to set: --model, --macaron-scheme, --encoder-ffn-embed-dim and
# --decoder-ffn-embed-dim are refused, since they would train another scheme, or break the parameter match, under
# the scheme's name. benchmarks/schemes.sh runs it once per scheme and seed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/env.sh"
source "$ROOT/scripts/settings.sh"
source "$ROOT/benchmarks/lib/schemes.sh"

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  ""|-*) usage_error "the first argument is the scheme, e.g. train-scheme.sh strang-tied --setting multi30k-quick" ;;
esac
SCHEME=$1; shift
TRAIN_ARGS=() FAIRSEQ_ARGS=() SETTING=
while (($#)); do
  case "$1" in
    --) shift; FAIRSEQ_ARGS=("$@"); break ;;
    --setting) need_value "$@"; SETTING=$2; TRAIN_ARGS+=("$1" "$2"); shift 2 ;;
    --model) usage_error "--model is this script's: it trains the Macaron model (scripts/train.sh trains the" \
      "baseline)" ;;
    *) TRAIN_ARGS+=("$1"); shift ;;
  esac
done
for flag in "${FAIRSEQ_ARGS[@]}"; do
  case "$flag" in
    --macaron-scheme|--macaron-scheme=*|--encoder-ffn-embed-dim|--encoder-ffn-embed-dim=*|\
    --decoder-ffn-embed-dim|--decoder-ffn-embed-dim=*)
      usage_error "${flag%%=*} is set by the scheme: leave it out (a one-FFN scheme gets the baseline's FFN" \
        "width, strang half of it)" ;;
  esac
done
require_setting "$SETTING"
load_schemes
scheme_flags "$SETTING" "$SCHEME"
exec bash "$ROOT/scripts/train.sh" "${TRAIN_ARGS[@]}" --model macaron -- "${SCHEME_FLAGS[@]}" "${FAIRSEQ_ARGS[@]}"
