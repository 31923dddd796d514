"""The language-model report from finished runs: perplexities over seeds, each pair's difference and cost ratios,
the JSON summary and the plot, with the translation report's pieces."""

import json

from conftest import TRAINING_LOG as LOG
from macaron_tools.reports import lm_comparison
from macaron_tools.runs.side_by_side import RECORD_NAME
from macaron_tools.scoring.lm_evaluation import RESULT_NAME, LanguageModelRecord, SplitPerplexity


def make_run(root, name, architecture, seed, valid, test, peak):
    run = root / name
    (run / "eval").mkdir(parents=True)
    (run / "train.log").write_text(LOG.replace("macaron_transformer", architecture).replace("seed=1", f"seed={seed}"))
    (run / "train_command.txt").write_text(f"fairseq-train data --arch {architecture} --seed {seed}\n")
    LanguageModelRecord("language_modeling", str(run / "checkpoint_best.pt"), "data", "fairseq-eval-lm",
                        {"valid": SplitPerplexity(valid, 2 ** valid), "test": SplitPerplexity(test, 2 ** test)}
                        ).write(run / RESULT_NAME)
    (run / RECORD_NAME).write_text(json.dumps({"parallel": True, "share": {"cpus": [seed % 2], "threads": 1,
                                                                             "gpu": None},
                                               "started": 0, "finished": 10, "peak_rss_mib": peak}))
    return run


def test_report_and_summary(tmp_path):
    baselines = [make_run(tmp_path, f"baseline-seed{s}", "transformer_lm", s, 5.0, 5.0, 500) for s in (1, 2)]
    macarons = [make_run(tmp_path, "macaron-seed1", "macaron_transformer_lm", 1, 4.0, 4.0, 550),
                make_run(tmp_path, "macaron-seed2", "macaron_transformer_lm", 2, 6.0, 5.0, 550)]
    output = tmp_path / "results" / "lm.md"
    lm_comparison.main(["--setting", "lm-quick", "--task", "language_modeling", "--baseline", *map(str, baselines),
                        "--macaron", *map(str, macarons), "--output", str(output), "--command", "scripts/compare.sh"])
    report = output.read_text()
    assert "# Macaron vs. baseline, language model: lm-quick" in report
    assert "| baseline | `transformer_lm` | 5,553,152 | 2 | 32.00 ± 0.00 | 32.00 ± 0.00 |" in report
    assert "| macaron | `macaron_transformer_lm` | 5,553,152 | 2 | 40.00 ± 33.94 | 24.00 ± 11.31 |" in report
    # valid: 16 - 32 and 64 - 32; test: 16 - 32 and 32 - 32
    assert "valid +8.00 ± 33.94 (Macaron lower in 1 of 2 pairs); test -8.00 ± 11.31 (Macaron lower in 1 of 2" in report
    assert "| 1 | at the same time, baseline on cores 1 (1 thread), Macaron on cores 1 (1 thread)" in report
    assert "| -16.00 | -16.00 | 1.000 | 1.100 |" in report
    assert (tmp_path / "results" / "lm-valid-loss.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "results" / "lm.json").read_text())
    assert summary["perplexity"]["baseline"]["test"] == {"mean": 32.0, "sd": 0.0}
    assert [pair["perplexity_difference"]["valid"] for pair in summary["pairs"]] == [-16.0, 32.0]
    assert [r["architecture"] for r in summary["runs"]] == ["transformer_lm"] * 2 + ["macaron_transformer_lm"] * 2
    assert summary["parallel"] is True and summary["task"] == "language_modeling"
