# What the benchmarks share; sourced after scripts/lib/env.sh, not run.

# use_shared_multi30k: where MULTI30K_RAW_DIR is unset, Multi30k's raw files from ../shared/data/multi30k beside
# the repository, when that folder exists (the data scripts download them otherwise).
use_shared_multi30k() {
  if [[ -z "${MULTI30K_RAW_DIR:-}" && -d "$ROOT/../shared/data/multi30k" ]]; then
    export MULTI30K_RAW_DIR="$(cd "$ROOT/../shared/data/multi30k" && pwd)"
  fi
}

# choose_compare_device: DEVICE, scripts/compare.sh's device options: the GPU(s) in bf16 where torch sees any,
# else the CPU.
choose_compare_device() {
  DEVICE=(--cpu)
  if [[ "$(cuda_device_count)" -gt 0 ]]; then
    DEVICE=(-- --precision bf16)
  fi
}

# finished_in TAG STARTED: the line that says how long the benchmark took since $SECONDS was STARTED.
finished_in() {
  local elapsed=$((SECONDS - $2))
  echo "[$1] finished in $((elapsed / 60)) min $((elapsed % 60)) s"
}
