"""scripts/compare.sh end to end at tiny scale: trains both models side by side, evaluates them, writes the report
and its JSON summary; a second call takes the finished runs as they are."""

import json
import os

import pytest

from conftest import REPO_ROOT, run
from tiny_trained_run import TOOL_ENV, build_tiny_data

COMPARE_SH = REPO_ROOT / "scripts" / "compare.sh"
TINY = ["--", "--max-tokens", 1000, "--", "--encoder-layers", 1, "--decoder-layers", 1, "--encoder-embed-dim", 32,
        "--decoder-embed-dim", 32, "--encoder-attention-heads", 2, "--decoder-attention-heads", 2]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    work = tmp_path_factory.mktemp("compare")
    data = build_tiny_data(work)
    command = ["bash", COMPARE_SH, "--setting", "multi30k-quick", "--cpu", "--parallel", "--max-update", 4,
               "--seeds", "1",
               "--data-dir", data, "--runs-dir", work / "runs", "--output", work / "results" / "tiny.md", *TINY]
    first = run(command, env=TOOL_ENV)
    second = run(command, env=TOOL_ENV)
    return work, first, second


def test_report_compares_both_models(compared):
    work, first, _ = compared
    report = (work / "results" / "tiny.md").read_text()
    assert "| baseline | `transformer` |" in report and "| macaron | `macaron_transformer` |" in report
    assert "sacreBLEU test" in report and "sacreBLEU test1" in report
    assert "`baseline-seed1` / `macaron-seed1`" in report  # the paired bootstrap row
    assert "scripts/compare.sh --setting multi30k-quick" in report
    assert (work / "results" / "tiny-valid-loss.png").read_bytes()[:4] == b"\x89PNG"
    records = {}
    for model in ("baseline", "macaron"):
        run_dir = work / "runs" / f"{model}-seed1"
        assert (run_dir / "eval" / "result.json").exists()
        records[model] = json.loads((run_dir / "training_run.json").read_text())
    assert "[compare] baseline seed 1: valid epoch" in first.stdout
    assert "[compare] macaron seed 1: valid epoch" in first.stdout
    summary = json.loads((work / "results" / "tiny.json").read_text())
    assert [(r["model"], r["seed"], r["stopped"]) for r in summary["runs"]] == [
        ("baseline", 1, "max-update"), ("macaron", 1, "max-update")]
    assert set(summary["runs"][0]["splits"]) == {"test", "test1"}
    assert summary["parallel"] is (len(os.sched_getaffinity(0)) >= 2)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="side by side needs 2 CPU cores")
def test_the_two_runs_trained_at_the_same_time_on_their_own_cores(compared):
    work, first, _ = compared
    baseline, macaron = (json.loads((work / "runs" / f"{m}-seed1" / "training_run.json").read_text())
                         for m in ("baseline", "macaron"))
    assert baseline["started"] < macaron["finished"] and macaron["started"] < baseline["finished"]
    assert not set(baseline["share"]["cpus"]) & set(macaron["share"]["cpus"])
    assert "[compare] training side by side: baseline seed 1 on CPU core" in first.stdout
    assert "at the same time, baseline on cores" in (work / "results" / "tiny.md").read_text()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="side by side needs 2 CPU cores")
def test_the_two_runs_were_evaluated_at_the_same_time_too(compared):
    work, first, _ = compared
    baseline, macaron = (json.loads((work / "runs" / f"{m}-seed1" / "evaluation_run.json").read_text())
                         for m in ("baseline", "macaron"))
    assert baseline["started"] < macaron["finished"] and macaron["started"] < baseline["finished"]
    assert "[compare] evaluating side by side: baseline seed 1 on CPU core" in first.stdout
    assert (work / "runs" / "macaron-seed1" / "evaluate.log").read_text().startswith("==> ")
    pair = json.loads((work / "results" / "tiny.json").read_text())["pairs"][0]
    assert pair["decoding_sharing"].startswith("at the same time, baseline on cores")


def test_second_call_takes_the_finished_runs(compared):
    _, _, second = compared
    assert second.stdout.count("taking the finished run") == 2
    assert "training into" not in second.stdout


@pytest.mark.parametrize("args, message", [
    (["--setting", "nope"], "unknown setting 'nope'"),
    (["--setting", "multi30k", "--seeds", "one"], "seed 'one' is not a whole number"),
    (["--setting", "multi30k", "--data-dir", "/nonexistent"], "no references in /nonexistent/refs"),
])
def test_bad_input_gets_one_line_errors(args, message):
    result = run(["bash", COMPARE_SH, *args], check=False)
    assert result.returncode != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_cpu_on_a_machine_without_gpu_one_line_and_nothing_left(compared, tmp_path):
    work, _, _ = compared
    from conftest import BIN_DIR
    gpus = run([BIN_DIR / "python", "-c", "import torch; print(torch.cuda.device_count())"]).stdout.strip()
    if gpus != "0":
        pytest.skip("this machine has a GPU")
    result = run(["bash", COMPARE_SH, "--setting", "multi30k-quick", "--seeds", "1", "--data-dir",
                  work / "data-bin" / "tiny.de-en", "--runs-dir", tmp_path / "runs"], check=False, env=TOOL_ENV)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no CUDA device found: pass --cpu to train and decode on the CPU"
    assert not (tmp_path / "runs").exists()
