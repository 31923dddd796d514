"""scripts/train.sh killed with SIGKILL mid-run and started again with the same command: it resumes from its last
checkpoint and ends with the very model an uninterrupted run trains."""

import os
import re
import signal
import subprocess
import time

import pytest
import torch

from conftest import REPO_ROOT, TINY_MODEL_FLAGS, last_checkpoint, run

TRAIN_SH = REPO_ROOT / "scripts" / "train.sh"
MAX_UPDATE = 60
SAVE_INTERVAL_UPDATES = 5
# Fixed threads: the same seed then gives bit-identical runs on the CPU (and the cores are shared).
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train_sh(data_dir, save_dir):
    """One train.sh command: a tiny Macaron model, about 20 updates an epoch, a checkpoint every 5 updates."""
    return [
        "bash", TRAIN_SH, "--setting", "multi30k", "--model", "macaron", "--cpu", "--data-dir", data_dir,
        "--save-dir", save_dir, "--max-update", MAX_UPDATE, "--max-tokens", 200, "--update-freq", 1,
        "--", *TINY_MODEL_FLAGS, "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32,
        "--save-interval-updates", SAVE_INTERVAL_UPDATES, "--num-workers", 0, "--no-progress-bar",
        "--log-interval", 5,
    ]


def start_and_kill_once(command, kill_when_exists):
    """Starts ``command`` in its own process group and SIGKILLs the whole group (bash, fairseq-train, tee) as
    soon as ``kill_when_exists`` appears. Returns the exit status."""
    process = subprocess.Popen(
        [str(part) for part in command], start_new_session=True, env={**os.environ, **ENV},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not kill_when_exists.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it had ended: the caller's check of the status says so
    finally:
        process.wait(timeout=60)
    return process.returncode


@pytest.fixture(scope="module")
def uninterrupted(toy_data_bin, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("uninterrupted")
    run(train_sh(toy_data_bin, save_dir), env=ENV)
    return last_checkpoint(save_dir)


def test_killed_run_resumes_and_ends_with_the_uninterrupted_model(toy_data_bin, tmp_path, uninterrupted):
    save_dir = tmp_path / "killed"
    # Once the second update checkpoint is there, so is a checkpoint_last.pt to resume from.
    second_save = save_dir / f"checkpoint_1_{2 * SAVE_INTERVAL_UPDATES}.pt"
    status = start_and_kill_once(train_sh(toy_data_bin, save_dir), kill_when_exists=second_save)
    assert status == -signal.SIGKILL, "train.sh ended before it was killed"
    assert "done training" not in (save_dir / "train.log").read_text()

    restarted = run(train_sh(toy_data_bin, save_dir), env=ENV)
    output = restarted.stdout + restarted.stderr
    assert "done training" in output
    resumed = re.search(r"Loaded checkpoint \S+ \(epoch \d+ @ (\d+) updates\)", output)
    assert resumed and int(resumed.group(1)) in range(SAVE_INTERVAL_UPDATES, MAX_UPDATE, SAVE_INTERVAL_UPDATES)

    num_updates, model = last_checkpoint(save_dir)
    expected_updates, expected_model = uninterrupted
    assert num_updates == expected_updates == MAX_UPDATE
    assert model.keys() == expected_model.keys()
    for name in expected_model:
        assert torch.equal(model[name], expected_model[name]), name
