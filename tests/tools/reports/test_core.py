"""The reports' core: a finished run read back, the pairs a report compares, how a pair shared the machine, where
the runs were measured, and the numbers' text."""

import json
from types import SimpleNamespace

import pytest
from conftest import TRAINING_LOG

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.reports import core
from macaron_tools.reports.core import FinishedRun
from macaron_tools.runs.training_log import parse_training_log


def side_by_side_record(cpus, started, finished, partner=None, parallel=True, hardware=None):
    return {"parallel": parallel, "partner": partner, "share": {"cpus": cpus, "threads": len(cpus), "gpu": None},
            "started": started, "finished": finished, "hardware": hardware}


def finished_run(tmp_path, label, seed=1, sharing=None, decoding=None, log=TRAINING_LOG):
    directory = tmp_path / f"{label}-seed{seed}"
    directory.mkdir(exist_ok=True)
    return FinishedRun(label, str(directory), parse_training_log(log.replace("seed=1", f"seed={seed}")), None,
                       sharing, decoding)


def test_a_finished_run_says_why_it_stopped_its_best_loss_and_its_command(tmp_path):
    run = finished_run(tmp_path, "baseline")
    assert (run.name, run.why_stopped, run.best_valid_loss, run.training_command) == (
        "baseline-seed1", "max-update", 7.25, None)
    (tmp_path / "baseline-seed1" / "train_command.txt").write_text("fairseq-train data --seed 1\n")
    assert run.training_command == "fairseq-train data --seed 1"
    unfinished = finished_run(tmp_path, "macaron", log=TRAINING_LOG.replace("done training", "saved checkpoint"))
    assert unfinished.why_stopped == "unfinished"
    assert core.stopped_by([run, unfinished, run]) == "max-update, unfinished"
    assert core.commands_text([("baseline", run), ("macaron", unfinished)]) == (
        "- baseline:\n\n  ```\n  fairseq-train data --seed 1\n  ```")


def test_twins_pair_by_their_place_in_the_lists_whatever_their_seeds(tmp_path):
    baselines = [finished_run(tmp_path, "baseline", seed) for seed in (2, 1)]
    macarons = [finished_run(tmp_path, "macaron", seed) for seed in (2, 1)]
    pairs = core.twin_pairs({"baseline": baselines, "macaron": macarons})
    assert [(b.name, m.name) for b, m in pairs] == [("baseline-seed2", "macaron-seed2"),
                                                    ("baseline-seed1", "macaron-seed1")]


def test_runs_pair_with_the_partner_that_names_them_back(tmp_path):
    a, b, c, d = (tmp_path / name for name in "abcd")
    runs = [
        FinishedRun("second", str(b), None, None, side_by_side_record([1], 0, 10, partner=str(a))),
        FinishedRun("first", str(a), None, None, side_by_side_record([0], 0, 10, partner=str(b))),
        FinishedRun("alone", str(c), None, None, side_by_side_record([0, 1], 20, 30, parallel=False)),
        FinishedRun("one-sided", str(d), None, None, side_by_side_record([0], 40, 50, partner=str(a))),
    ]
    pairs = core.pairs_of(runs, key=core.side_by_side_key, order=lambda run: run.label)
    assert [(first.label, second.label) for first, second in pairs] == [("first", "second")]


def test_how_a_pair_shared_the_machine(tmp_path):
    both = [side_by_side_record([0], 0, 10), side_by_side_record([1], 5, 10)]
    assert core.sharing_text(both, ("A", "B")) == (
        "A on cores 0 (1 thread), B on cores 1 (1 thread); both trained during 50% of the pair's wall time")
    gpu = {"parallel": True, "share": {"cpus": None, "threads": None, "gpu": "0"}}
    assert core.sharing_text([gpu, gpu], ("A", "B"), "decoded") == "A on GPU 0, B on GPU 0"
    assert core.share_text(None) == "unknown (no training_run.json)"
    assert core.share_text({"share": {"cpus": None, "gpu": None}}) == "the whole machine"

    baseline = finished_run(tmp_path, "baseline", sharing=both[0], decoding=both[0])
    macaron = finished_run(tmp_path, "macaron", sharing=both[1])
    assert core.twin_sharing_text(baseline, macaron) == (
        "at the same time, baseline on cores 0 (1 thread), Macaron on cores 1 (1 thread); both trained during 50% "
        "of the pair's wall time")
    assert core.twin_sharing_text(baseline, macaron, stage="evaluation") == (
        "one after the other (no side-by-side record)")
    macaron.sharing = {**both[1], "parallel": False}
    assert core.twin_sharing_text(baseline, macaron) == "one after the other"


def test_the_report_names_the_hardware_each_pair_recorded(tmp_path):
    def pair(seed, baseline_machine, macaron_machine=None):
        record = lambda machine: side_by_side_record([0], 0, 1, hardware=machine) if machine else None  # noqa: E731
        return [finished_run(tmp_path, model, seed, sharing=record(machine))
                for model, machine in (("baseline", baseline_machine),
                                       ("macaron", macaron_machine or baseline_machine))]

    def measured_on(*pairs):
        return core.measured_on({"baseline": [p[0] for p in pairs], "macaron": [p[1] for p in pairs]}, "here")

    seed1, seed2, seed3 = pair(1, "Xeon"), pair(2, "EPYC"), pair(3, None)
    assert measured_on(seed1) == "Xeon"
    assert measured_on(seed1, seed2, seed3) == "seed 1 on Xeon; seed 2 on EPYC; seed 3 on hardware not recorded"
    assert measured_on(seed3) == "hardware not recorded by the runs; this report was written on here"
    assert measured_on(pair(4, "Xeon", "EPYC")) == "seed 4 on Xeon (Macaron on EPYC)"


def test_mean_and_spread_and_ratios():
    assert core.mean_and_spread([30.0]) == "30.00"
    assert core.mean_and_spread([30.0, 32.0]) == "31.00 ± 1.41"
    assert core.mean_and_spread([None]) == "n/a"
    runs = {"baseline": [SimpleNamespace(x=2.0), SimpleNamespace(x=None)], "macaron": [SimpleNamespace(x=3.0)]}
    assert core.ratio_text(core.mean_ratio(runs, lambda run: run.x)) == "1.500"
    assert core.ratio_of(1.0, 0) is None


def test_a_repository_path_is_written_relative_to_it(tmp_path):
    assert core.relative(f"{core.REPOSITORY}/checkpoints/run") == "checkpoints/run"
    assert core.relative(str(tmp_path)) == str(tmp_path)


@pytest.mark.parametrize("record, message", [
    ({"share": {"cpus": [0]}}, "is not a side-by-side record (it has no field parallel)"),
    ({"parallel": "yes"}, 'parallel is "yes", not true or false'),
    ({"parallel": True, "share": {"cpus": [0, "1"], "threads": 2}}, 'share.cpus[1] is "1", not a whole number'),
    ({"parallel": True, "share": {"cpus": [0], "threads": "one"}}, 'share.threads is "one", not a whole number'),
    ({"parallel": True, "started": "10:00", "finished": 20.0}, 'started is "10:00", not a number'),
])
def test_a_side_by_side_record_is_checked_as_it_is_read(tmp_path, record, message):
    path = tmp_path / "training_run.json"
    path.write_text(json.dumps(record))
    with pytest.raises(MacaronFairseqError) as refused:
        core.optional_json(str(path))
    assert str(refused.value).startswith(f"{path}{'' if message.startswith('is not') else ':'} {message}: delete the "
                                         f"damaged record"), refused.value
    whole = side_by_side_record([0, 1], 0.0, 10.0, partner="run-b", hardware="2 CPU cores")
    path.write_text(json.dumps({**whole, "exit_status": 0, "gpu": None}))
    assert core.optional_json(str(path)) == {**whole, "exit_status": 0, "gpu": None}
