"""The comparison report from finished runs: table, significance and plot."""

import json

from macaron_fairseq.evaluation import comparison
from test_training_log import LOG

REFERENCES = ["a small dog runs in the park .", "the old man sleeps .", "two girls play on the beach ."] * 4


def make_run(root, name, hypotheses, bleu, architecture):
    run = root / name
    (run / "eval").mkdir(parents=True)
    (run / "train.log").write_text(LOG.replace("macaron_transformer", architecture))
    (run / "eval" / "test.hyp.detok").write_text("\n".join(hypotheses) + "\n")
    split = {"sacrebleu": bleu, "sacrebleu_signature": "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2",
             "tokenized_bleu": bleu + 1, "tokenized_bleu_variant": "lowercase", "sentences": len(hypotheses),
             "sentences_per_second": 12.5}
    result = {"setting": "multi30k", "checkpoint": str(run / "checkpoint_best.pt"), "split": "test",
              **split, "splits": {"test": split}}
    (run / "eval" / "result.json").write_text(json.dumps(result))
    return run


def test_report_has_the_table_significance_and_plot(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "test.detok.en").write_text("\n".join(REFERENCES) + "\n")
    worse = [r.replace("dog", "cat").replace("old", "young") for r in REFERENCES]
    baseline = make_run(tmp_path, "baseline-seed1", worse, 40.0, "transformer")
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 100.0, "macaron_transformer")
    output = tmp_path / "results" / "multi30k.md"
    comparison.main(["--setting", "multi30k", "--baseline", str(baseline), "--macaron", str(macaron),
                     "--references", str(refs), "--target-lang", "en", "--output", str(output),
                     "--command", "scripts/compare.sh --setting multi30k", "--samples", "100", "--targets"])
    report = output.read_text()
    assert "scripts/compare.sh --setting multi30k" in report
    assert "| baseline | `transformer` | 5,553,152 | 1 | 40.00 | 41.00 |" in report
    assert "| macaron | `macaron_transformer` | 5,553,152 | 1 | 100.00 | 101.00 |" in report
    assert "training tokens/s 1.000" in report and "training peak memory n/a" in report
    significance_rows = [line for line in report.splitlines() if line.startswith("| `baseline-seed1` / `macaron-seed1`")]
    assert len(significance_rows) == 1 and "| Macaron better (p < 0.05) |" in significance_rows[0]
    assert "| mean sacreBLEU gain on test | +60.00 | >= +0.50 | yes |" in report
    assert "| training tokens/s, Macaron / baseline | 1.000 | >= 0.97 | yes |" in report
    assert "| training peak memory, Macaron / baseline | n/a | <= 1.05 | n/a |" in report
    assert "CPU cores" in report
    plot = tmp_path / "results" / "multi30k-valid-loss.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mean_and_spread():
    assert comparison.mean_and_spread([30.0]) == "30.00"
    assert comparison.mean_and_spread([30.0, 32.0]) == "31.00 ± 1.41"
    assert comparison.mean_and_spread([None]) == "n/a"
