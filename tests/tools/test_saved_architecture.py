"""The --arch a checkpoint was trained with, as scripts/train.sh asks before resuming into its save dir."""

import argparse
import sys

import pytest
import torch
from conftest import run

from macaron_tools.saved_architecture import saved_architecture


@pytest.mark.parametrize("state, arch", [
    ({"args": argparse.Namespace(arch="macaron_transformer"), "model": {}}, "macaron_transformer"),
    ({"args": None, "cfg": {"model": argparse.Namespace(arch="transformer_iwslt_de_en")}}, "transformer_iwslt_de_en"),
    # a model configured by a dataclass: fairseq names its config after the --arch
    ({"args": None, "cfg": {"model": {"_name": "transformer_lm_gpt", "dropout": 0.1}}}, "transformer_lm_gpt"),
])
def test_the_architecture_is_read_from_args_or_cfg(tmp_path, state, arch):
    torch.save(state, tmp_path / "checkpoint_last.pt")
    assert saved_architecture(tmp_path / "checkpoint_last.pt") == arch


@pytest.mark.parametrize("state", [{"model": {}}, {"cfg": {"model": None}}, [1, 2]])
def test_a_checkpoint_that_names_no_architecture_is_one_line(tmp_path, state):
    torch.save(state, tmp_path / "checkpoint_last.pt")
    result = run([sys.executable, "-m", "macaron_tools.saved_architecture", tmp_path / "checkpoint_last.pt"],
                 check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"error: checkpoint {tmp_path}/checkpoint_last.pt names no architecture (no arch in its "
                             f"args or cfg.model): pass a checkpoint that fairseq-train saved\n")
