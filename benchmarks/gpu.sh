#!/usr/bin/env bash
# GPU benchmark, sized for about 8 minutes on one modern GPU, set-up included:
#
#   1. the cost table by width (python -m macaron_tools.runs.throughput): forward+backward steps/s of
#      each Macaron model against its baseline twin at d 128 to d 1024, interleaved in one process, bf16;
#   2. Multi30k De->En to convergence with the IWSLT14 small pair (transformer_iwslt_de_en, d 512, 6+6 layers, and
#      its twin; the multi30k-iwslt setting of scripts/settings.sh: validation every 250 updates, --patience 5),
#      seeds 1 and 2, each seed's two runs side by side on the GPU(s).
#
#   bash benchmarks/gpu.sh [--dry-run] [--help]
#
#   --dry-run   print every command it would run, and run none (works on a machine without a GPU)
#
# Writes results/gpu-throughput.md and .json, and results/gpu-multi30k-iwslt.md with its .json and plot. Multi30k's
# raw files come from $MULTI30K_RAW_DIR, else ../shared/data/multi30k beside the repository when present, else
# they are downloaded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/env.sh"
source "$ROOT/benchmarks/lib/common.sh"

DRY_RUN=0
while (($#)); do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1': the only option is --dry-run" ;;
  esac
done

use_shared_multi30k

# step NAME COMMAND...: prints the command (relative to the repository) and, unless --dry-run, runs it
step() {
  local name=$1; shift
  echo "[gpu] $name: $(printf '%q ' "$@" | sed 's/ $//')"
  if [[ $DRY_RUN -eq 0 ]]; then "$@"; fi
}

cd "$ROOT"
started=$SECONDS
step "set up" bash scripts/setup.sh
if [[ $DRY_RUN -eq 0 ]]; then
  source scripts/lib/env.sh  # again: puts the environment setup.sh made on PATH
  [[ "$(cuda_device_count)" -gt 0 ]] || die "no CUDA device found: benchmarks/gpu.sh needs a GPU (see --dry-run)"
fi
step "cost by width, bf16" python -m macaron_tools.runs.throughput --device cuda \
  --json results/gpu-throughput.json --markdown results/gpu-throughput.md
step "data" bash scripts/prepare-multi30k.sh
step "IWSLT14-sized pair on Multi30k, to convergence" bash scripts/compare.sh --setting multi30k-iwslt \
  --seeds "1 2" --parallel --runs-dir checkpoints/gpu-multi30k-iwslt --output results/gpu-multi30k-iwslt.md \
  --command "bash benchmarks/gpu.sh" -- --precision bf16
finished_in gpu "$started"
