"""The language-model report from finished runs: perplexities over seeds, each pair's difference and cost ratios,
the JSON summary and the plot, with the translation report's pieces."""

import json
import os

import pytest
from conftest import TRAINING_LOG as LOG

from macaron_fairseq.errors import MacaronFairseqError
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


def test_a_corrupt_perplexity_record_is_named_and_nothing_is_written(tmp_path):
    baseline = make_run(tmp_path, "baseline-seed1", "transformer_lm", 1, 5.0, 5.0, 500)
    macaron = make_run(tmp_path, "macaron-seed1", "macaron_transformer_lm", 1, 4.0, 4.0, 550)
    record = json.loads((macaron / RESULT_NAME).read_text())
    record["splits"]["test"]["perplexity"] = "low"
    (macaron / RESULT_NAME).write_text(json.dumps(record))
    output = tmp_path / "results" / "lm.md"
    with pytest.raises(MacaronFairseqError) as refused:
        lm_comparison.main(["--setting", "lm-quick", "--task", "language_modeling", "--baseline", str(baseline),
                            "--macaron", str(macaron), "--output", str(output), "--command", "scripts/compare.sh"])
    assert str(refused.value) == (f"{macaron / RESULT_NAME}: splits.test.perplexity is \"low\", not a number: "
                                  f"evaluate the run again (python -m macaron_tools.scoring.lm_evaluation)")
    assert not output.parent.exists()  # no plot without its report


def test_a_corrupt_side_by_side_record_is_named(tmp_path):
    baseline = make_run(tmp_path, "baseline-seed1", "transformer_lm", 1, 5.0, 5.0, 500)
    macaron = make_run(tmp_path, "macaron-seed1", "macaron_transformer_lm", 1, 4.0, 4.0, "550 MiB")
    with pytest.raises(MacaronFairseqError, match=rf'^{macaron / RECORD_NAME}: peak_rss_mib is "550 MiB", not a '
                                                  rf"number: delete the damaged record"):
        lm_comparison.main(["--setting", "lm-quick", "--task", "language_modeling", "--baseline", str(baseline),
                            "--macaron", str(macaron), "--output", str(tmp_path / "lm.md"), "--command", "c"])
    assert sorted(os.listdir(tmp_path)) == ["baseline-seed1", "macaron-seed1"]
