#!/usr/bin/env bash
# Benchmark: Macaron against its parameter-matched Transformer twin on Multi30k De->En, trained to convergence,
# each seed's two runs side by side, with this project's own pipeline (prepare-multi30k.sh, then compare.sh).
#
#   bash benchmarks/multi30k.sh [--quick] [--help]
#
# Both models: the multi30k-quick recipe (d 128, 4 heads, 2+2 pre-norm layers, FFN 512 against 2 x 256; see
# scripts/settings.sh), seeds 1, 2 and 3: the widest and deepest pair whose three seeds converge in about 2.5 hours
# on 2 CPU cores (the next size, d 256 with 3+3 layers, takes 2.5 times as long per step). Each run stops when 5
# validations in a row (every 100 updates) bring no lower validation loss (fairseq's --patience), or at 4,000
# updates (16 epochs), whichever comes first; the report says which. On the CPU each seed's baseline and Macaron
# run train at the same time, each pinned to half of the cores with that many threads, so that their speed ratio
# compares like with like. Reports sacreBLEU,
# chrF and tokenized BLEU on test_2016_flickr (test) and test_2017_flickr (test1) per seed and mean, paired
# bootstrap per seed and pooled, validation loss and BLEU against updates, training tokens/s, decoding tokens/s
# and sentences/s (beam 5), peak memory. Writes results/multi30k-benchmark.md, .json and the plot.
#
#   --quick    a smoke run of the same pipeline (one seed, 60 updates per model): results/multi30k-benchmark-quick.md
#
# A finished run (its train.log says "done training", its eval/result.json exists) is reused and an interrupted
# one resumes from checkpoint_last.pt, so the same command, run again, continues where it stopped. Multi30k's raw
# files come from $MULTI30K_RAW_DIR, else ../shared/data/multi30k beside the repository, else they are downloaded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/env.sh"
source "$ROOT/benchmarks/lib/common.sh"

NAME=multi30k-benchmark
BUDGET=(--seeds "1 2 3" --max-update 4000 --patience 5)
COMMAND="bash benchmarks/multi30k.sh"
case "${1:-}" in
  "") ;;
  --quick) NAME=multi30k-benchmark-quick; BUDGET=(--seeds 1 --max-update 60); COMMAND+=" --quick"; shift ;;
  -h|--help) usage; exit 0 ;;
esac
[[ $# -eq 0 ]] || usage_error "unknown argument '$1': the only option is --quick"

set_up_environment

use_shared_multi30k
bash "$ROOT/scripts/prepare-multi30k.sh"

choose_compare_device
started=$SECONDS
cd "$ROOT"
bash scripts/compare.sh --setting multi30k-quick "${BUDGET[@]}" --runs-dir "checkpoints/$NAME" \
  --output "results/$NAME.md" --command "$COMMAND" "${DEVICE[@]}"
finished_in benchmark "$started"
