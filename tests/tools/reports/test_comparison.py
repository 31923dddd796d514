"""The comparison report from finished runs: tables, pairs, significance per pair and pooled, JSON summary, plot."""

import dataclasses
import json
import os

import pytest

from conftest import TRAINING_LOG as LOG
from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.files import OutputFileError
from macaron_tools.reports import comparison
from macaron_tools.reports.core import FinishedRun
from macaron_tools.runs.side_by_side import EVALUATION_RECORD_NAME, RECORD_NAME
from macaron_tools.scoring.evaluation_record import Decoding, EvaluationRecord, SplitScores

REFERENCES = ["a small dog runs in the park .", "the old man sleeps .", "two girls play on the beach ."] * 4


def make_run(root, name, hypotheses, bleu, architecture, seed=1, tokens_per_second=100.0, sharing=None,
             decoding=None):
    run = root / name
    (run / "eval").mkdir(parents=True)
    log = LOG.replace("macaron_transformer", architecture).replace("seed=1", f"seed={seed}")
    (run / "train.log").write_text(log)
    (run / "eval" / "test.hyp.detok").write_text("\n".join(hypotheses) + "\n")
    scores = SplitScores(
        hypotheses=len(hypotheses), sacrebleu=bleu, sacrebleu_signature="nrefs:1|case:mixed|eff:no|tok:13a",
        chrf=bleu / 2, chrf_signature="nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no", tokenized_bleu=bleu + 1,
        tokenized_bleu_variant="lowercase", lowercase=False, references={"detok": "refs/test.detok.en", "tok": None},
        sentences_per_second=12.5, tokens_per_second=tokens_per_second,
    )
    EvaluationRecord(
        setting="multi30k", source_lang="de", target_lang="en", checkpoint=str(run / "checkpoint_best.pt"),
        averaged=None, data_dir="data", decoding=Decoding(5, 1.0, 1.2, 10), primary_split="test",
        splits={"test": scores},
    ).write(run / "eval" / "result.json")
    if sharing is not None:
        (run / RECORD_NAME).write_text(json.dumps(sharing))
    if decoding is not None:
        (run / EVALUATION_RECORD_NAME).write_text(json.dumps(decoding))
    return run


def side_by_side_record(cpu, started, finished, peak):
    return {"parallel": True, "share": {"cpus": [cpu], "threads": 1, "gpu": None}, "started": started,
            "finished": finished, "peak_rss_mib": peak, "exit_status": 0}


@pytest.fixture
def refs(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "test.detok.en").write_text("\n".join(REFERENCES) + "\n")
    return refs


def report_of(tmp_path, refs, baselines, macarons, *extra):
    output = tmp_path / "results" / "multi30k.md"
    comparison.main(["--setting", "multi30k", "--baseline", *map(str, baselines), "--macaron", *map(str, macarons),
                     "--references", str(refs), "--target-lang", "en", "--output", str(output),
                     "--command", "scripts/compare.sh --setting multi30k", "--samples", "100", *extra])
    return output.read_text(), json.loads((tmp_path / "results" / "multi30k.json").read_text())


def test_report_has_the_tables_significance_summary_and_plot(tmp_path, refs):
    worse = [r.replace("dog", "cat").replace("old", "young") for r in REFERENCES]
    baseline = make_run(tmp_path, "baseline-seed1", worse, 40.0, "transformer")
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 100.0, "macaron_transformer")
    report, summary = report_of(tmp_path, refs, [baseline], [macaron], "--targets")

    assert "scripts/compare.sh --setting multi30k" in report
    assert "| baseline | `transformer` | 5,553,152 | 1 | 40.00 | 20.00 | 41.00 |" in report
    assert "| macaron | `macaron_transformer` | 5,553,152 | 1 | 100.00 | 50.00 | 101.00 |" in report
    assert "training tokens/s 1.000" in report and "training peak memory n/a" in report
    significance_rows = [line for line in report.splitlines() if line.startswith("| `baseline-seed1` / `macaron-seed1`")]
    assert len(significance_rows) == 1 and "| Macaron better (p < 0.05) |" in significance_rows[0]
    assert "pooled" not in report  # one seed: nothing to pool
    assert "| mean sacreBLEU gain on test | +60.00 | >= +0.50 | yes |" in report
    assert "| training tokens/s, Macaron / baseline | 1.000 | >= 0.97 | yes |" in report
    assert "one after the other (no side-by-side record)" in report
    assert "COMET was not computed" in report
    # trained without --patience: the cap is where they were meant to stop, and nothing more is said
    assert "Training stopped by: max-update.\n" in report
    assert "CPU cores" in report
    plot = tmp_path / "results" / "multi30k-valid-loss.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert summary["parallel"] is False and "CPU cores" in summary["hardware"]
    assert [(r["model"], r["seed"], r["updates"], r["stopped"]) for r in summary["runs"]] == [
        ("baseline", 1, 180, "max-update"), ("macaron", 1, 180, "max-update")]
    assert summary["runs"][1]["splits"] == {"test": {"sacrebleu": 100.0, "chrf": 50.0, "tokenized_bleu": 101.0,
                                                     "comet": None}}
    for field in ("train_tokens_per_s", "decode_tokens_per_s", "peak_memory_mib"):
        assert field in summary["runs"][0]


def test_pairs_pooled_bootstrap_and_how_the_runs_shared_the_machine(tmp_path, refs):
    worse = [r.replace("dog", "cat").replace("old", "young") for r in REFERENCES]
    baselines, macarons = [], []
    for seed in (1, 2):
        # the second pair overlapped for half of their joint time: 0-10 s and 5-10 s
        baselines.append(make_run(tmp_path, f"baseline-seed{seed}", worse, 40.0, "transformer", seed=seed,
                                  tokens_per_second=200.0, sharing=side_by_side_record(0, 0, 10, 800),
                                  decoding=side_by_side_record(0, 20, 30, 500)))
        # the first pair was decoded side by side, the second one run after the other (no evaluation record)
        macarons.append(make_run(tmp_path, f"macaron-seed{seed}", REFERENCES, 100.0, "macaron_transformer",
                                 seed=seed, tokens_per_second=150.0,
                                 sharing=side_by_side_record(1, 0 if seed == 1 else 5, 10, 900),
                                 decoding=side_by_side_record(1, 20, 30, 500) if seed == 1 else None))
    report, summary = report_of(tmp_path, refs, baselines, macarons)

    assert "at the same time, baseline on cores 0 (1 thread), Macaron on cores 1 (1 thread); both trained during " \
           "100% of the pair's wall time" in report
    assert "both trained during 50% of the pair's wall time" in report
    assert "| 2 | at the same time" in report and "| 0.750 | 1.125 |" in report  # decode tok/s ratio, memory ratio
    pooled = [line for line in report.splitlines() if line.startswith("| pooled over 2 seeds | test |")]
    assert len(pooled) == 1 and "Macaron better (p < 0.05)" in pooled[0]
    assert summary["parallel"] is True
    assert [pair["overlap"] for pair in summary["pairs"]] == [1.0, 0.5]
    assert "both decoded during 100% of the pair's wall time" in summary["pairs"][0]["decoding_sharing"]
    assert summary["pairs"][1]["decoding_sharing"] == "one after the other (no side-by-side record)"
    assert [pair["decoding_overlap"] for pair in summary["pairs"]] == [1.0, None]
    assert [pair["decode_tokens_per_s_ratio"] for pair in summary["pairs"]] == [0.75, 0.75]
    assert [b["pair"] for b in summary["bootstrap"]] == [
        "baseline-seed1 / macaron-seed1", "baseline-seed2 / macaron-seed2", "pooled over 2 seeds"]
    # trained 0-10 s and decoded 20-30 s: 10 s each; the second pair has no evaluation record
    assert "| 0.2, 0.2 |" in report and "| 0.2, n/a |" in report
    assert summary["pairs"][0]["wall_minutes"] == {"training": 10 / 60, "evaluation": 10 / 60}
    assert "Wall time of the pairs" not in report  # not every pair has both records


def test_the_pairs_wall_time_adds_up_what_the_comparison_cost(tmp_path):
    def run(model, seed, started, trained, evaluated):
        record = lambda start, end: {"started": start, "finished": end}  # noqa: E731
        return FinishedRun(model, str(tmp_path / f"{model}-seed{seed}"), None, None, record(started, trained),
                           record(trained, evaluated))
    pairs = {"baseline": [run("baseline", 1, 0, 3000, 3060), run("baseline", 2, 4000, 7600, 7630)],
             "macaron": [run("macaron", 1, 0, 3120, 3060), run("macaron", 2, 4000, 7500, 7620)]}
    assert comparison.wall_time_text(pairs) == (" Wall time of the pairs, training and evaluation (side-by-side "
                                                "records): 53.0 + 62.2 = 115.2 min (1 h 55 min).")
    one = {model: runs[:1] for model, runs in pairs.items()}
    assert comparison.wall_time_text(one) == (" Wall time of the pair, training and evaluation (side-by-side "
                                              "records): 53.0 min.")


def test_unpaired_runs_are_refused(tmp_path, refs):
    baseline = make_run(tmp_path, "baseline-seed1", REFERENCES, 40.0, "transformer")
    with pytest.raises(SystemExit):
        report_of(tmp_path, refs, [baseline], [baseline, baseline])


def test_a_folder_that_is_no_run_is_refused_in_one_line(tmp_path, refs):
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 40.0, "macaron_transformer")
    with pytest.raises(MacaronFairseqError, match=r"baseline run .*absent is not a folder: pass the --save-dir"):
        report_of(tmp_path, refs, [tmp_path / "absent"], [macaron])
    (tmp_path / "untrained").mkdir()
    with pytest.raises(MacaronFairseqError, match=r"untrained/train.log does not exist: .* train it first"):
        report_of(tmp_path, refs, [tmp_path / "untrained"], [macaron])


def test_a_damaged_side_by_side_record_is_named(tmp_path, refs):
    baseline = make_run(tmp_path, "baseline-seed1", REFERENCES, 40.0, "transformer")
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 41.0, "macaron_transformer")
    (macaron / RECORD_NAME).write_text('{"parallel": tr')
    with pytest.raises(MacaronFairseqError, match=rf"cannot read .*macaron-seed1/{RECORD_NAME} .*delete the damaged"):
        report_of(tmp_path, refs, [baseline], [macaron])


def test_split_scores_round_trip():
    scores = SplitScores(1, 2.0, "s", 3.0, "c", 4.0, "lowercase", True, {"detok": None, "tok": "t"})
    assert SplitScores(**dataclasses.asdict(scores)) == scores


def test_a_run_the_cap_stopped_says_how_far_its_best_loss_lay_before_the_end():
    from types import SimpleNamespace

    from macaron_tools.runs.training_log import TrainingLog

    def run(name, losses, stopped, patience=5):
        return SimpleNamespace(name=name, training=TrainingLog("transformer", 1, losses[-1][0], 1.0, 1.0, losses,
                                                               stopped=stopped, patience=patience))
    capped = run("macaron-seed3", [(100, 5.0), (200, 4.1), (300, 4.1), (400, 4.2)], "max-update")
    converged = run("baseline-seed3", [(100, 5.0), (200, 4.9)], "patience")
    uncapped = run("macaron-seed4", [(100, 5.0)], "max-update", patience=-1)  # no --patience: the cap is the plan
    assert comparison.stopped_by_the_cap({"baseline": [converged], "macaron": [capped, uncapped]}) == (
        " macaron `macaron-seed3` reached --max-update (400 updates) first: its lowest validation loss, 4.100, came "
        "at update 200, 2 validations before the end.")


def test_a_corrupt_evaluation_record_is_named_and_nothing_is_written(tmp_path, refs):
    baseline = make_run(tmp_path, "baseline-seed1", REFERENCES, 40.0, "transformer")
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 41.0, "macaron_transformer")
    record = json.loads((macaron / "eval" / "result.json").read_text())
    record["splits"]["test"]["sacrebleu"] = "high"
    (macaron / "eval" / "result.json").write_text(json.dumps(record))
    with pytest.raises(MacaronFairseqError) as refused:
        report_of(tmp_path, refs, [baseline], [macaron])
    assert str(refused.value) == (f"{macaron}/eval/result.json: splits.test.sacrebleu is \"high\", not a number: "
                                  f"evaluate the run again (scripts/evaluate.sh)")
    assert not (tmp_path / "results").exists()  # no plot without its report


def test_a_report_that_cannot_be_written_leaves_no_plot_and_no_summary(tmp_path, refs):
    baseline = make_run(tmp_path, "baseline-seed1", REFERENCES, 40.0, "transformer")
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 41.0, "macaron_transformer")
    report = tmp_path / "results" / "multi30k.md"
    report.parent.mkdir()
    # the report's temporary file (this process writes it) made a link to /dev/full: the disk fills up there
    os.symlink("/dev/full", f"{report}.partial{os.getpid()}")
    with pytest.raises(OutputFileError, match=rf"^cannot write {report} \(No space left on device\)"):
        report_of(tmp_path, refs, [baseline], [macaron])
    assert os.listdir(report.parent) == []


def test_runs_evaluated_on_other_splits_are_refused_in_one_line(tmp_path, refs):
    baseline = make_run(tmp_path, "baseline-seed1", REFERENCES, 40.0, "transformer")
    macaron = make_run(tmp_path, "macaron-seed1", REFERENCES, 41.0, "macaron_transformer")
    record = json.loads((baseline / "eval" / "result.json").read_text())
    record["splits"]["test1"] = record["splits"]["test"]
    (baseline / "eval" / "result.json").write_text(json.dumps(record))
    with pytest.raises(MacaronFairseqError, match=rf"^{macaron} was not evaluated on test1: evaluate every run on "
                                                  rf"the same splits"):
        report_of(tmp_path, refs, [baseline], [macaron])
    assert not (tmp_path / "results").exists()


def test_an_output_that_cannot_be_written_is_refused_before_the_runs_are_read(tmp_path, refs):
    (tmp_path / "a-file").write_text("text\n")
    with pytest.raises(OutputFileError, match=rf"^--output {tmp_path}/a-file/multi30k.md: {tmp_path}/a-file is a "
                                              rf"file, not a folder: give another path$"):
        comparison.main(["--setting", "multi30k", "--baseline", str(tmp_path / "absent"), "--macaron",
                         str(tmp_path / "absent"), "--references", str(refs), "--target-lang", "en", "--output",
                         str(tmp_path / "a-file" / "multi30k.md"), "--command", "c"])
