"""benchmarks/gpu.sh --dry-run: every command of the GPU benchmark, printed and not run, on a machine without a GPU."""

from conftest import REPO_ROOT, run


def test_dry_run_prints_every_command_and_runs_none(tmp_path):
    completed = run(["bash", REPO_ROOT / "benchmarks" / "gpu.sh", "--dry-run"], cwd=tmp_path)
    steps = [line for line in completed.stdout.splitlines() if line.startswith("[gpu] ")]
    assert steps[0] == "[gpu] set up: bash scripts/setup.sh"
    assert "python -m macaron_tools.runs.throughput --device cuda" in steps[1]
    assert "bash scripts/prepare-multi30k.sh" in steps[2]
    compare = steps[3]
    for part in ("scripts/compare.sh --setting multi30k-iwslt", "--seeds 1\\ 2", "--parallel", "--precision bf16"):
        assert part in compare
    assert not (REPO_ROOT / "results" / "gpu-throughput.json").exists()  # nothing ran


def test_unknown_arguments_are_refused(tmp_path):
    completed = run(["bash", REPO_ROOT / "benchmarks" / "gpu.sh", "--fast"], cwd=tmp_path, check=False)
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: unknown argument '--fast'")
