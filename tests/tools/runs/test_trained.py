"""Whether a run is trained to its end: what its train.log's last session says, asked by the scripts as a command."""

import subprocess
import sys

from conftest import REPO_ROOT, TRAINING_LOG
from macaron_tools.runs.trained import is_trained

RESUMED = "2026-01-02 09:00:00 | INFO | fairseq_cli.train | Namespace(arch='macaron_transformer', seed=1)\n"
"""A second session of fairseq-train appended to the log, its configuration line first."""


def trained(run_dir):
    """The command's exit status on ``run_dir``, as scripts/compare.sh and benchmarks/schemes.sh ask it."""
    return subprocess.run([sys.executable, "-m", "macaron_tools.runs.trained", str(run_dir)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_run_is_trained_when_its_last_session_says_why_it_stopped(tmp_path):
    (tmp_path / "train.log").write_text(TRAINING_LOG)
    assert is_trained(tmp_path)
    # resumed to a higher --max-update: the earlier session's end is not this one's
    (tmp_path / "train.log").write_text(TRAINING_LOG + RESUMED)
    assert not is_trained(tmp_path)
    (tmp_path / "train.log").write_text(TRAINING_LOG + RESUMED + TRAINING_LOG.splitlines()[-1] + "\n")
    assert is_trained(tmp_path)


def test_the_command_answers_in_its_exit_status(tmp_path):
    result = trained(tmp_path)
    assert (result.returncode, result.stderr) == (1, "")  # no train.log yet
    (tmp_path / "train.log").write_text(TRAINING_LOG)
    result = trained(tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
