#!/usr/bin/env bash
# Benchmark: Macaron against its parameter-matched Transformer twin on Multi30k De->En, quality and cost side by
# side, with this project's own pipeline (prepare-multi30k.sh, then compare.sh: train.sh and evaluate.sh).
#
#   bash benchmarks/multi30k.sh [--quick] [--help]
#
# Both models: the multi30k-quick recipe (d 128, 4 heads, 2+2 pre-norm layers, FFN 512 against 2 x 256; see
# scripts/settings.sh) with identical data, hyperparameters, update budget (1,000 updates) and seeds (1 and 2). Reports sacreBLEU and tokenized BLEU on
# test_2016_flickr (test) and test_2017_flickr (test1) per seed and mean, paired bootstrap significance, training
# target tokens/s and peak memory, decoding sentences/s with beam 5, parameter counts, and the targets (cost
# ratios within 3 % / 5 %, BLEU gain of at least 0.5). Writes results/multi30k-benchmark.md and its plot.
#
#   --quick    a smoke run of the same pipeline (60 updates per model), within 10 minutes on 2 CPU cores;
#              writes results/multi30k-benchmark-quick.md
#
# Multi30k's raw files come from $MULTI30K_RAW_DIR, else ../shared/data/multi30k beside the repository when
# present, else they are downloaded. BENCH_MAX_UPDATE overrides the update budget. On a GPU it trains there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/env.sh"

MAX_UPDATE="${BENCH_MAX_UPDATE:-1000}"
NAME=multi30k-benchmark
QUICK=
case "${1:-}" in
  "") ;;
  --quick) MAX_UPDATE="${BENCH_MAX_UPDATE:-60}"; NAME=multi30k-benchmark-quick; QUICK=" --quick"; shift ;;
  -h|--help) usage; exit 0 ;;
esac
[[ $# -eq 0 ]] || usage_error "unknown argument '$1': the only option is --quick"

bash "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/lib/env.sh"  # again: puts the environment setup.sh made on PATH

if [[ -z "${MULTI30K_RAW_DIR:-}" && -d "$ROOT/../shared/data/multi30k" ]]; then
  export MULTI30K_RAW_DIR="$(cd "$ROOT/../shared/data/multi30k" && pwd)"
fi
bash "$ROOT/scripts/prepare-multi30k.sh"

DEVICE=(--cpu)
if [[ "$(cuda_device_count)" -gt 0 ]]; then
  DEVICE=(-- --precision bf16)
fi
started=$SECONDS
bash "$ROOT/scripts/compare.sh" --setting multi30k-quick --seeds "1 2" --max-update "$MAX_UPDATE" \
  --runs-dir "$ROOT/checkpoints/$NAME" --output "$ROOT/results/$NAME.md" --targets \
  --command "bash benchmarks/multi30k.sh$QUICK   # $MAX_UPDATE updates per model" "${DEVICE[@]}"
echo "[benchmark] finished in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
