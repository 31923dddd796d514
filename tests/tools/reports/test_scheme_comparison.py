"""The report of the splitting-scheme benchmark from synthetic run folders: per-scheme tables, the pairs trained
side by side, the per-layer splitting error, and the correlation sentence the numbers support."""

import json

import pytest

from conftest import TRAINING_LOG as LOG
from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.reports import scheme_comparison
from macaron_tools.runs.side_by_side import RECORD_NAME
from macaron_tools.scoring.evaluation_record import Decoding, EvaluationRecord, SplitScores

PARAMETERS = {"strang": 1_924_096, "strang-tied": 1_923_584, "lie-trotter": 1_922_560,
              "reversed-lie-trotter": 1_922_560}
PAIRS = (("strang", "lie-trotter"), ("strang-tied", "reversed-lie-trotter"))
COMMAND = "bash benchmarks/schemes.sh --seeds '1 2'"


def scores(bleu):
    return SplitScores(
        hypotheses=10, sacrebleu=bleu, sacrebleu_signature="nrefs:1|case:mixed|eff:no|tok:13a", chrf=bleu + 20,
        chrf_signature="nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no", tokenized_bleu=bleu + 1,
        tokenized_bleu_variant="lowercase", lowercase=False, references={"detok": "refs/test.detok.en", "tok": None})


def make_run(root, scheme, seed, bleu, error, target_tokens_per_update=4000, probed_scheme=None):
    """A finished run folder: train.log (180 updates in 350 s of training steps), eval/result.json with test and
    test1, and splitting.json whose layer k (encoder 0, 1, decoder 0, 1) has splitting error ``error * (k + 1)``."""
    run = root / f"{scheme}-seed{seed}"
    (run / "eval").mkdir(parents=True)
    log = (LOG.replace("arch='macaron_transformer', seed=1", f"arch='macaron_transformer', seed={seed}")
           .replace("5,553,152", f"{PARAMETERS[scheme]:,}")
           .replace("| wpb 4000 |", f"| wpb {target_tokens_per_update} |"))
    (run / "train.log").write_text(log)
    (run / "train_command.txt").write_text(f"fairseq-train data --macaron-scheme {scheme} --seed {seed}\n")
    EvaluationRecord(
        setting="multi30k-quick", source_lang="de", target_lang="en", checkpoint=str(run / "checkpoint_best.pt"),
        averaged=None, data_dir="data", decoding=Decoding(5, 1.0, 1.2, 10), primary_split="test",
        splits={"test": scores(bleu), "test1": scores(bleu - 5)},
    ).write(run / "eval" / "result.json")
    layers = [{"stack": stack, "index": index, "step_sizes": {"self_attn": 0.5, "ffn": 0.25},
               "splitting_error": error * (k + 1)}
              for k, (stack, index) in enumerate([("encoder", 0), ("encoder", 1), ("decoder", 0), ("decoder", 1)])]
    (run / "splitting.json").write_text(json.dumps({
        "subset": "valid", "sentences": 200, "rk4_steps": 64,
        "checkpoints": [{"path": str(run / "checkpoint_best.pt"), "arch": "macaron_transformer",
                         "scheme": probed_scheme or scheme, "layers": layers}]}))
    return run


def side_by_side(first, second, started=0.0):
    for cpu, (run, partner) in enumerate(((first, second), (second, first))):
        (run / RECORD_NAME).write_text(json.dumps({
            "model": run.name.rsplit("-seed", 1)[0], "label": "seed 1", "parallel": True, "partner": str(partner),
            "share": {"cpus": [cpu], "threads": 1, "gpu": None}, "started": started, "finished": started + 10,
            "exit_status": 0, "peak_rss_mib": 900}))


def report_of(tmp_path, runs):
    output = tmp_path / "results" / "schemes.md"
    arguments = ["--setting", "multi30k-quick", "--output", str(output), "--command", COMMAND]
    for run in runs:
        arguments += ["--run", run.name.rsplit("-seed", 1)[0], str(run)]
    assert scheme_comparison.main(arguments) == 0
    return output.read_text(), json.loads((tmp_path / "results" / "schemes.json").read_text())


@pytest.fixture
def two_seeds(tmp_path):
    """Every scheme with seeds 1 and 2, each pair side by side. The splitting error falls from strang to
    reversed-lie-trotter while BLEU rises, so lower error goes with better BLEU in every run."""
    runs = []
    for seed in (1, 2):
        made = {}
        for rank, scheme in enumerate(scheme_comparison.SCHEMES):
            made[scheme] = make_run(tmp_path / "runs", scheme, seed, bleu=30.0 + rank + seed / 10,
                                    error=0.4 - rank * 0.1 - seed / 1000,
                                    target_tokens_per_update=4000 if scheme != "strang-tied" else 2250)
        for first, second in PAIRS:
            side_by_side(made[first], made[second])
        runs += [made[scheme] for pair in PAIRS for scheme in pair]
    return runs


def test_per_scheme_summary_pairs_and_layers(tmp_path, two_seeds):
    report, summary = report_of(tmp_path, two_seeds)

    assert f"```\n{COMMAND}\n```" in report and "CPU cores" in report
    assert "first 200 sentences of `valid`" in report and "RK4 in 64 steps" in report
    # strang: parameters +0.08 % against lie-trotter; sacreBLEU 30.1 and 30.2; chrF and tokenized BLEU beside it;
    # the encoder's error is the mean of its layers 0 and 1: (0.399 + 0.798) / 2 and (0.398 + 0.796) / 2
    strang_row = next(line for line in report.splitlines() if line.startswith("| `strang` | 2 |"))
    assert "| 1,924,096 | +0.08 % | 30.15 ± 0.07 | 50.15 ± 0.07 | 31.15 ± 0.07 |" in strang_row
    assert "| 0.5978 ± 0.0011 |" in strang_row
    assert "| `lie-trotter` | 2 | 1,922,560 | +0.00 % |" in report
    # strang-tied trains more slowly than its partner: (2250*100 + 3000*80) / (4000*100 + 3000*80) = 0.727
    assert "`strang-tied` / `reversed-lie-trotter` 0.727 ± 0.000" in report
    assert "`strang` / `lie-trotter` 1.000 ± 0.000" in report
    pair_rows = [line for line in report.splitlines() if line.startswith("| 2 | `strang-tied` / `reversed")]
    assert len(pair_rows) == 1 and "A on cores 0 (1 thread), B on cores 1 (1 thread)" in pair_rows[0]
    assert "both trained during 100% of the pair's wall time" in pair_rows[0]
    assert "| scheme | encoder 0 | encoder 1 | decoder 0 | decoder 1 |" in report
    assert "| `reversed-lie-trotter` | 0.0985 ± 0.0007 | 0.1970 ± 0.0014 |" in report
    assert "beside `lie-trotter-seed1`, on cores 0 (1 thread)" in report
    assert "fairseq-train data --macaron-scheme strang-tied --seed 1" in report
    assert "Trained without a partner" not in report

    assert list(summary["schemes"]) == list(scheme_comparison.SCHEMES)  # the model's order, not the given one
    assert summary["schemes"]["strang"]["parameters"] == 1_924_096
    assert summary["schemes"]["strang"]["splits"]["test"]["sacrebleu"] == pytest.approx(30.15)
    assert summary["schemes"]["strang"]["layer_splitting_error"]["decoder 1"] == pytest.approx(1.6 - 0.006)
    assert [(p["seed"], p["schemes"]) for p in summary["pairs"]] == [
        (1, ["strang", "lie-trotter"]), (1, ["strang-tied", "reversed-lie-trotter"]),
        (2, ["strang", "lie-trotter"]), (2, ["strang-tied", "reversed-lie-trotter"])]
    assert summary["command"] == COMMAND and summary["probe"]["sentences"] == 200
    assert {r["scheme"] for r in summary["runs"]} == set(scheme_comparison.SCHEMES) and len(summary["runs"]) == 8


def test_the_sentence_follows_the_numbers(tmp_path, two_seeds):
    report, summary = report_of(tmp_path, two_seeds)
    # 8 runs in the same order by error (falling) and BLEU (rising): rho -1, and only 2 of the 8! orderings reach it
    test = next(c for c in summary["correlation"] if c["split"] == "test")
    assert test["rho"] == pytest.approx(-1.0) and test["p_value"] == pytest.approx(2 / 40320)
    assert summary["conclusion"] == ("Lower splitting error went with better sacreBLEU on test (Spearman's rho = "
                                     "-1.00 over 8 runs, permutation p < 0.001).")
    assert summary["conclusion"] in report
    assert ("from the lowest splitting error: reversed-lie-trotter, lie-trotter, strang-tied, strang; from the "
            "highest sacreBLEU on test: reversed-lie-trotter, lie-trotter, strang-tied, strang.") in report


def test_worse_bleu_with_lower_error_and_too_few_runs_for_significance(tmp_path):
    runs = [make_run(tmp_path, scheme, 1, bleu=30.0 - rank, error=0.4 - rank * 0.1)
            for rank, scheme in enumerate(scheme_comparison.SCHEMES)]
    report, summary = report_of(tmp_path, runs)
    assert summary["conclusion"] == (
        "Lower splitting error went with worse sacreBLEU on test in rank, but not significantly: Spearman's rho = "
        "+1.00 over 4 runs, permutation p = 0.083, so an ordering by chance alone does as well that often.")
    # none of them trained side by side: said, and no speed ratio made up
    assert "no pair trained side by side" in report and "Trained without a partner" in report
    assert "alone, on unknown (no training_run.json)" in report
    assert summary["pairs"] == []


def test_too_few_runs_leave_the_question_open(tmp_path):
    runs = [make_run(tmp_path, "strang", 1, 30.0, 0.3), make_run(tmp_path, "lie-trotter", 1, 31.0, 0.2)]
    _, summary = report_of(tmp_path, runs)
    assert summary["conclusion"].startswith("Over these 2 runs the rank correlation between splitting error and "
                                            "sacreBLEU on test is undefined (fewer than 3 runs)")
    assert set(summary["schemes"]) == {"strang", "lie-trotter"}


def test_ranks_spearman_and_the_exact_permutation_test():
    assert scheme_comparison.ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert scheme_comparison.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # of the 24 orderings of 4, 8 reach |rho| >= 0.8: the identity, its 3 adjacent swaps, and their reverses
    assert scheme_comparison.permutation_p_value([1, 2, 3, 4], [1, 3, 2, 4], 0.8) == pytest.approx(8 / 24)
    assert scheme_comparison.spearman([1, 2, 3], [5, 5, 5]) is None
    # beyond 8 runs the test samples, with a fixed seed: the same answer every time
    xs, ys = list(range(10)), [0, 2, 1, 3, 5, 4, 6, 9, 7, 8]
    rho = scheme_comparison.spearman(xs, ys)
    first = scheme_comparison.permutation_p_value(xs, ys, rho)
    assert first == scheme_comparison.permutation_p_value(xs, ys, rho) and 0 < first < 0.01


@pytest.mark.parametrize("damage, message", [
    ("no probe", "splitting.json does not exist: probe it"),
    ("other scheme", "measured a strang model, but the run is given as lie-trotter"),
    ("two checkpoints", "measured 2 checkpoints, not the run's one"),
    ("not json", "is not a splitting probe's JSON"),
])
def test_a_missing_or_foreign_probe_is_one_error(tmp_path, damage, message):
    run = make_run(tmp_path, "lie-trotter", 1, 30.0, 0.2, probed_scheme="strang" if damage == "other scheme" else None)
    probe = run / "splitting.json"
    if damage == "no probe":
        probe.unlink()
    elif damage == "two checkpoints":
        document = json.loads(probe.read_text())
        document["checkpoints"] *= 2
        probe.write_text(json.dumps(document))
    elif damage == "not json":
        probe.write_text("{")
    with pytest.raises(MacaronFairseqError, match=message):
        report_of(tmp_path, [run])


def test_the_same_scheme_and_seed_twice_and_runs_probed_unlike_are_refused(tmp_path):
    first = make_run(tmp_path / "a", "strang", 1, 30.0, 0.3)
    again = make_run(tmp_path / "b", "strang", 1, 31.0, 0.3)
    with pytest.raises(MacaronFairseqError, match="are both strang seed 1: give each scheme once per seed"):
        report_of(tmp_path, [first, again])
    other = make_run(tmp_path / "c", "lie-trotter", 1, 31.0, 0.3)
    document = json.loads((other / "splitting.json").read_text())
    document["sentences"] = 100
    (other / "splitting.json").write_text(json.dumps(document))
    with pytest.raises(MacaronFairseqError, match="probed on different sentences"):
        report_of(tmp_path, [first, other])


def test_unknown_scheme_and_missing_run_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        scheme_comparison.main(["--setting", "s", "--run", "macaron", str(tmp_path), "--output",
                                str(tmp_path / "r.md"), "--command", "c"])
    assert exit_info.value.code == 2 and "unknown scheme 'macaron'" in capsys.readouterr().err
    with pytest.raises(MacaronFairseqError, match="has no train.log: train the run first"):
        scheme_comparison.main(["--setting", "s", "--run", "strang", str(tmp_path), "--output",
                                str(tmp_path / "r.md"), "--command", "c"])
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("damage, message", [
    ("probe", r"splitting.json: checkpoints\[0\].layers\[1\]: splitting_error is \"x\", not a number: probe it"),
    ("probe layer", r"splitting.json: checkpoints\[0\].layers\[0\] lacks one of its fields \(stack, index, "
                    r"step_sizes, splitting_error\): probe it"),
    ("evaluation", r"eval/result.json: splits.test1.chrf is null, not a number: evaluate the run again"),
])
def test_a_corrupt_record_is_named_and_nothing_is_written(tmp_path, damage, message):
    run = make_run(tmp_path, "lie-trotter", 1, 30.0, 0.2)
    if damage == "evaluation":
        record = json.loads((run / "eval" / "result.json").read_text())
        record["splits"]["test1"]["chrf"] = None
        (run / "eval" / "result.json").write_text(json.dumps(record))
    else:
        document = json.loads((run / "splitting.json").read_text())
        if damage == "probe":
            document["checkpoints"][0]["layers"][1]["splitting_error"] = "x"
        else:
            del document["checkpoints"][0]["layers"][0]["stack"]
        (run / "splitting.json").write_text(json.dumps(document))
    with pytest.raises(MacaronFairseqError, match=message):
        report_of(tmp_path, [run])
    assert not (tmp_path / "results").exists()
