"""The records of a benchmark's finished runs: the files compare.sh reuses a run from, without machine paths."""

import json

import pytest

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools import REPOSITORY
from macaron_tools.runs import benchmark_records


def make_run(runs_dir, name, finished=True, evaluated=True):
    run = runs_dir / name
    (run / "eval").mkdir(parents=True)
    save_dir = f"{REPOSITORY}/checkpoints/bench/{name}"
    (run / "train.log").write_text(f"save_dir='{save_dir}'\n" + ("| INFO | fairseq_cli.train | done training in 9.0 "
                                                                   "seconds\n" if finished else ""))
    (run / "train_command.txt").write_text(f"fairseq-train --save-dir {save_dir}\n")
    (run / "training_run.json").write_text(json.dumps({"partner": "checkpoints/bench/other"}))
    (run / "checkpoint_best.pt").write_bytes(b"weights")
    (run / "eval" / "test.hyp.detok").write_text("a dog .\n")
    (run / "eval" / "generate-test.log").write_text("S-0\n")
    if evaluated:
        (run / "eval" / "result.json").write_text(json.dumps({"checkpoint": f"{save_dir}/checkpoint_best.pt"}))
    return run


def test_finished_runs_are_kept_without_checkpoints_or_machine_paths(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "baseline-seed1")
    make_run(runs, "macaron-seed1", finished=False)
    make_run(runs, "macaron-seed2", evaluated=False)
    benchmark_records.main([str(runs), str(tmp_path / "records")])

    kept = tmp_path / "records" / "baseline-seed1"
    assert sorted(str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file()) == [
        "eval/result.json", "eval/test.hyp.detok", "train.log", "train_command.txt", "training_run.json"]
    assert (kept / "train_command.txt").read_text() == "fairseq-train --save-dir checkpoints/bench/baseline-seed1\n"
    assert json.loads((kept / "eval" / "result.json").read_text()) == {
        "checkpoint": "checkpoints/bench/baseline-seed1/checkpoint_best.pt"}
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == ["baseline-seed1"]
    assert "left out, not finished (trained to the end and evaluated): macaron-seed1, macaron-seed2" in (
        capsys.readouterr().out)


def test_a_kept_record_is_a_finished_run_again(tmp_path):
    make_run(tmp_path / "runs", "baseline-seed1")
    benchmark_records.main([str(tmp_path / "runs"), str(tmp_path / "records")])
    assert benchmark_records.is_trained_and_evaluated(tmp_path / "records" / "baseline-seed1")


def test_no_finished_run_or_no_folder_is_one_error(tmp_path):
    make_run(tmp_path / "runs", "macaron-seed1", finished=False)
    with pytest.raises(MacaronFairseqError, match="holds no finished run"):
        benchmark_records.main([str(tmp_path / "runs"), str(tmp_path / "records")])
    with pytest.raises(MacaronFairseqError, match="absent is not a folder: pass a benchmark's runs folder"):
        benchmark_records.main([str(tmp_path / "absent"), str(tmp_path / "records")])


def test_records_folder_that_is_a_file_is_one_error_before_any_copy(tmp_path):
    make_run(tmp_path / "runs", "macaron-seed1")
    (tmp_path / "records").write_text("text\n")
    with pytest.raises(MacaronFairseqError, match=rf"^{tmp_path}/records is a file: give a folder to write in$"):
        benchmark_records.main([str(tmp_path / "runs"), str(tmp_path / "records")])
