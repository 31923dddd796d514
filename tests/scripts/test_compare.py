"""scripts/compare.sh end to end at tiny scale: trains both models, evaluates them, writes the report; a second
call takes the finished runs as they are."""

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
    command = ["bash", COMPARE_SH, "--setting", "multi30k-quick", "--cpu", "--max-update", 4, "--seeds", "1",
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
    for model in ("baseline", "macaron"):
        run_dir = work / "runs" / f"{model}-seed1"
        assert (run_dir / "eval" / "result.json").exists() and (run_dir / "peak_memory.json").exists()
    assert "[compare]   valid epoch" in first.stdout


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
