"""scripts/lib/env.sh: the helpers every script sources (one-line errors, option values, usage from the header)."""

import select
import subprocess

import pytest

from conftest import REPO_ROOT, run

ENV_SH = REPO_ROOT / "scripts" / "lib" / "env.sh"


def bash(script, tmp_path, *args):
    """Runs ``script`` as the body of a script file sourcing env.sh, so that $0 is that file."""
    path = tmp_path / "example.sh"
    path.write_text(f'#!/usr/bin/env bash\n# Example: the header.\n#   --flag X\nset -euo pipefail\nsource "{ENV_SH}"\n{script}\n')
    return run(["bash", path, *args], check=False)


@pytest.mark.parametrize("call, status, message", [
    ('die "no data in /x:" "run prepare first"', 1, "error: no data in /x: run prepare first"),
    ('die "found 2"', 1, "error: found 2"),  # a number at the end is part of the message
    ('usage_error "unknown option --y"', 2, "error: unknown option --y (see example.sh --help)"),
    ('usage_error "two parts" "and a hint"', 2, "error: two parts and a hint (see example.sh --help)"),
])
def test_die_and_usage_error_print_one_line_and_exit_with_their_status(tmp_path, call, status, message):
    result = bash(call, tmp_path)
    assert (result.returncode, result.stderr, result.stdout) == (status, message + "\n", "")


def test_need_value_refuses_a_missing_or_empty_value(tmp_path):
    script = 'need_value "$@"; echo "value: $2"'
    assert bash(script, tmp_path, "--flag", "x").stdout == "value: x\n"
    for args in (["--flag"], ["--flag", ""], ["--flag", "--other"]):
        result = bash(script, tmp_path, *args)
        assert result.returncode == 2
        assert result.stderr == "error: --flag needs a value (see example.sh --help)\n"


def test_usage_prints_the_header_comment(tmp_path):
    assert bash("usage", tmp_path).stdout == "Example: the header.\n  --flag X\n"


def test_usage_lists_the_settings_of_settings_sh(tmp_path):
    output = bash(f'source "{REPO_ROOT}/scripts/settings.sh"; usage', tmp_path).stdout
    assert output.endswith(f"\nSettings (scripts/settings.sh): {' '.join(settings())}\n")


def test_root_relative_writes_paths_inside_the_repository_from_its_root(tmp_path):
    script = 'for path in "$@"; do root_relative "$path"; done'
    result = bash(script, tmp_path, REPO_ROOT, REPO_ROOT / "data" / "x", "/elsewhere/x", f"{REPO_ROOT}-other/x")
    assert result.stdout.splitlines() == [".", "data/x", "/elsewhere/x", f"{REPO_ROOT}-other/x"]


def test_usable_cpu_count_is_the_affinity_not_omp_num_threads(tmp_path, monkeypatch):
    import os
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # GNU nproc would print 1
    result = bash("usable_cpu_count", tmp_path)
    assert result.stdout.strip() == str(len(os.sched_getaffinity(0)))


def settings():
    """The settings, as scripts/settings.sh defines them."""
    return run(["bash", "-c", f'source "{REPO_ROOT}/scripts/settings.sh"; echo "${{SETTINGS[@]}}"']).stdout.split()


# Every script a user runs (settings.sh and lib/ are sourced, not run).
SCRIPTS = sorted(
    str(path.relative_to(REPO_ROOT)) for path in [*REPO_ROOT.glob("scripts/*.sh"), *REPO_ROOT.glob("benchmarks/*.sh")]
    if path.name != "settings.sh"
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_answers_help_without_doing_anything_else(script):
    result = run(["bash", REPO_ROOT / script, "--help"], timeout=60)
    assert result.stdout.strip() and result.stderr == ""
    assert "[setup]" not in result.stdout and "[main]" not in result.stdout  # it did not start its work


@pytest.mark.parametrize("script", [script for script in SCRIPTS if script != "scripts/test.sh"])
def test_every_script_refuses_an_unknown_argument_with_one_line_and_status_2(script):
    result = run(["bash", REPO_ROOT / script, "--no-such-option"], check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("error: ")
    assert "--no-such-option" in result.stderr and "--help" in result.stderr


def test_the_test_script_hands_unknown_arguments_to_pytest_which_refuses_them():
    # test.sh passes its arguments on: pytest says what it does not know, and the status is the usage error's.
    result = run(["bash", REPO_ROOT / "scripts" / "test.sh", "--no-such-option"], check=False, timeout=300)
    assert result.returncode == 2 and "unrecognized arguments: --no-such-option" in result.stderr


def test_valid_progress_passes_each_validation_on_before_the_log_ends(tmp_path):
    script = tmp_path / "progress.sh"
    script.write_text(f'source "{ENV_SH}"\nvalid_progress\n')
    process = subprocess.Popen(["bash", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        process.stdin.write("2026-01-01 | INFO | train_inner | epoch 001:     50 / 253 loss=9.1\n")
        process.stdin.write("2026-01-01 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 7.9 | "
                            "num_updates 100\n")
        process.stdin.flush()
        # the log is still open: the summary must come through now, not when a buffer fills or the input ends
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "no output while the log was still open"
        assert process.stdout.readline() == ("[compare]   valid epoch 001 | valid on 'valid' subset | loss 7.9 | "
                                             "num_updates 100\n")
        process.stdin.close()
        assert process.stdout.read() == "" and process.wait() == 0
    finally:
        process.kill()
