#!/usr/bin/env bash
# Benchmark: Macaron's language models against their parameter-matched twins on the English side of Multi30k, with
# this project's own pipeline (prepare-lm.sh, then compare.sh), 3 seeds each, on the CPU.
#
#   bash benchmarks/lm.sh [--quick] [--help]
#
# Two settings of scripts/settings.sh, each seed's baseline and Macaron run trained side by side (each pinned to
# half of the cores with that many threads), 500 updates of at most 2,048 tokens, validation every 50:
#   lm-quick    causal LM: transformer_lm against macaron_transformer_lm (d 128, 2 pre-norm layers, FFN 512
#               against 2 x 256, blocks of 64 tokens); perplexity by fairseq-eval-lm on valid and test
#   mlm-quick   masked LM: roberta against macaron_roberta at the same size; perplexity of the masked tokens by
#               fairseq-validate on valid and test
# Seeds 1, 2 and 3. Reports per setting the perplexities (mean ± sd over seeds, each pair's difference), the
# training tokens/s ratio of each pair, peak memory and the validation-loss plot, in results/lm-benchmark-SETTING.md;
# results/lm-benchmark.md holds both reports and results/lm-benchmark.json both summaries.
#
# Sized for at most 40 minutes on 2 CPU cores. In the --quick smoke, side by side on 2 cores that other work was
# loading too, an update took 0.85 s (causal) and 0.37 s (masked); at that pace 3 x 500 x (0.85 + 0.37) s is 30
# minutes of training, and start-up, validation and evaluation add about 1 minute per pair: about 36 minutes.
#
#   --quick    a smoke run of the same pipeline (seed 1, 20 updates per model): results/lm-benchmark-quick.md
#
# A finished run (its train.log says "done training", its eval/lm_result.json exists) is reused and an interrupted
# one resumes from checkpoint_last.pt. Multi30k's raw files come from $MULTI30K_RAW_DIR, else ../shared/data/multi30k
# beside the repository.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/env.sh"
source "$ROOT/benchmarks/lib/common.sh"

NAME=lm-benchmark
BUDGET=(--seeds "1 2 3")
COMMAND="bash benchmarks/lm.sh"
case "${1:-}" in
  "") ;;
  --quick) NAME=lm-benchmark-quick; BUDGET=(--seeds 1 --max-update 20); COMMAND+=" --quick"; shift ;;
  -h|--help) usage; exit 0 ;;
esac
[[ $# -eq 0 ]] || usage_error "unknown argument '$1': the only option is --quick"

set_up_environment

DATA="$DATA_BIN_DIR/multi30k-en-lm"  # the lm-quick and mlm-quick settings' data
bash "$ROOT/scripts/prepare-lm.sh" --out "$DATA"

choose_compare_device
started=$SECONDS
cd "$ROOT"
REPORTS=()
for setting in lm-quick mlm-quick; do
  bash scripts/compare.sh --setting "$setting" "${BUDGET[@]}" --data-dir "$DATA" \
    --runs-dir "checkpoints/$NAME/$setting" --output "results/$NAME-$setting.md" --command "$COMMAND" "${DEVICE[@]}"
  REPORTS+=("results/$NAME-$setting")
done

# One report and one summary of both settings: each report's headings one level down, under a title of its own.
{
  printf '# Macaron vs. baseline: language models (%s)\n\nProduced by:\n\n```\n%s\n```\n' "lm-quick, mlm-quick" "$COMMAND"
  for report in "${REPORTS[@]}"; do printf '\n'; sed 's/^#/##/' "$report.md"; done
} > "results/$NAME.md.tmp" && mv "results/$NAME.md.tmp" "results/$NAME.md"
python - "results/$NAME.json" "${REPORTS[@]}" <<'PYTHON'
import json, os, sys
from macaron_tools.files import write_json
summaries = {}
for stem in sys.argv[2:]:
    with open(f"{stem}.json", encoding="utf-8") as f:
        summary = json.load(f)
    summaries[summary["setting"]] = summary
write_json(sys.argv[1], summaries)
PYTHON
echo "[benchmark] wrote results/$NAME.md and results/$NAME.json"
finished_in benchmark "$started"
