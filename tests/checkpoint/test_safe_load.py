"""Weights-only checkpoint loading: fairseq's checkpoints load, anything that would run code is refused."""

import argparse
import os

import pytest
import torch
from fairseq import checkpoint_utils

from conftest import PLUGIN_DIR, fairseq_command, run
from macaron_fairseq.checkpoint.safe_load import CheckpointError, load_checkpoint_file


class RunsCodeWhenUnpickled:
    """A payload as an attacker would plant it: unpickling calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def fairseq_like_state():
    return {
        "args": argparse.Namespace(arch="macaron_transformer", encoder_embed_dim=8),
        "model": {"encoder.embed_tokens.weight": torch.randn(4, 8)},
        "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam",
                               "lr_scheduler_state": {"best": 2.5}, "num_updates": 3}],
        "extra_state": {"epoch": 1, "val_loss": 2.5, "train_iterator": {"epoch": 1}},
    }


def test_fairseq_checkpoint_loads_weights_only(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save(fairseq_like_state(), path)
    state = load_checkpoint_file(path)
    assert state["args"].arch == "macaron_transformer"
    assert state["model"]["encoder.embed_tokens.weight"].shape == (4, 8)
    # and through fairseq's own loader, which every fairseq command uses
    assert checkpoint_utils.load_checkpoint_to_cpu(str(path))["args"].encoder_embed_dim == 8


@pytest.fixture
def planted_checkpoint(tmp_path):
    marker = tmp_path / "code-ran"
    state = fairseq_like_state()
    state["extra_state"]["payload"] = RunsCodeWhenUnpickled(marker)
    path = tmp_path / "planted.pt"
    torch.save(state, path)
    return path, marker


def test_planted_payload_is_refused_and_never_runs(planted_checkpoint):
    path, marker = planted_checkpoint
    with pytest.raises(CheckpointError, match=r"refused to load .*planted\.pt.*\(posix\.system\)"):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError, match="refused to load"):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not marker.exists()


def test_fairseq_generate_refuses_planted_checkpoint_in_one_line(toy_data_bin, planted_checkpoint):
    path, marker = planted_checkpoint
    result = run(fairseq_command("generate", toy_data_bin, "--user-dir", PLUGIN_DIR, "--path", path, "--cpu"),
                 check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: refused to load {path}")
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_truncated_checkpoint_is_reported(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(fairseq_like_state(), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pt is corrupt, truncated or not a PyTorch checkpoint"):
        load_checkpoint_file(truncated)


def test_missing_checkpoint_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint_file(tmp_path / "missing.pt")


@pytest.mark.parametrize("content", [b"hello", b"d", b"", b"\x80\x02}q\x00."[:3]])
def test_a_file_that_is_no_checkpoint_is_reported_as_such(tmp_path, content):
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"notes\.pt is corrupt, truncated or not a PyTorch checkpoint"):
        load_checkpoint_file(path)
