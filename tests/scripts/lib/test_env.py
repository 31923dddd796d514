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
    ('die "unknown option --y" 2', 2, "error: unknown option --y"),
    ('die "two parts" "and a status" 3', 3, "error: two parts and a status"),
])
def test_die_prints_one_line_and_exits_with_its_status(tmp_path, call, status, message):
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
