"""Fixtures shared by the whole suite: the repository's paths, fairseq's command-line tools, a tiny corpus."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import macaron_fairseq
from macaron_tools.data import toy_corpus

macaron_fairseq.register()  # the models and fixes, as fairseq's --user-dir loads them

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = REPO_ROOT / "macaron_fairseq"
BIN_DIR = Path(sys.executable).parent


def fairseq_command(tool, *args):
    """Argument list running one of fairseq's console scripts (``train``, ``generate``...) of this environment."""
    return [str(BIN_DIR / f"fairseq-{tool}"), *map(str, args)]


def last_checkpoint(save_dir):
    """(updates, model weights) of a run's checkpoint_last.pt."""
    state = torch.load(save_dir / "checkpoint_last.pt", weights_only=True)
    return state["optimizer_history"][-1]["num_updates"], state["model"]


def run(command, cwd=None, check=True, env=None, timeout=600):
    """Runs ``command``; on an unexpected exit status, fails the test with the tail of its output."""
    command = [str(part) for part in command]
    result = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{command[0]} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


TRAINING_LOG = """\
2026-01-01 10:00:00 | INFO | fairseq_cli.train | Namespace(arch='macaron_transformer', seed=1)
2026-01-01 10:00:01 | INFO | fairseq_cli.train | num. shared model params: 5,553,152 (num. trained: 5,553,152)
2026-01-01 10:00:40 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 9.5 | nll_loss 9.4 | ppl 700 | wps 500 | wpb 164.7 | bsz 20.3 | num_updates 100
2026-01-01 10:00:40 | INFO | train | epoch 001 | loss 10 | nll_loss 9.9 | ppl 1000 | wps 1000 | ups 0.5 | wpb 4000 | bsz 300 | num_updates 100 | lr 0.0005 | gnorm 1.2 | train_wall 200 | wall 210
2026-01-01 10:04:00 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 7.25 | nll_loss 7.1 | ppl 150 | wps 500 | wpb 164.7 | bsz 20.3 | num_updates 180 | best_loss 7.25
2026-01-01 10:04:00 | INFO | train | epoch 002 | loss 8 | nll_loss 7.9 | ppl 250 | wps 1000 | ups 0.5 | wpb 3000 | bsz 300 | num_updates 180 | lr 0.0009 | gnorm 1.1 | train_wall 150 | wall 380
2026-01-01 10:04:01 | INFO | fairseq_cli.train | done training in 379.0 seconds
"""
"""A fairseq-train log of two epochs (180 updates, 350 s of training steps) ended by --max-update, as
scripts/train.sh keeps it: what the tools that read a run's train.log are tested on."""


TINY_MODEL_FLAGS = [
    "--encoder-layers", 2, "--decoder-layers", 2, "--encoder-embed-dim", 32, "--decoder-embed-dim", 32,
    "--encoder-attention-heads", 2, "--decoder-attention-heads", 2, "--share-all-embeddings",
]
"""Architecture flags of the tiny models the command-line tests train, on top of any preset."""


@pytest.fixture(scope="session")
def toy_data_bin(tmp_path_factory):
    """A word-level synthetic De-En corpus binarized by fairseq-preprocess: 400 training pairs, a valid set of
    21 and a test set of 13 sentences (neither a multiple of 8, the batch-size multiple fairseq rounds to)."""
    root = tmp_path_factory.mktemp("toy")
    raw = root / "raw"
    toy_corpus.write_corpus(raw, {"train": 400, "valid": 21, "test": 13}, seed=1)
    for split in toy_corpus.SPLITS:
        stem = toy_corpus.SPLITS[split]
        for lang in ("de", "en"):
            source = raw / f"{stem}.{lang}.gz"
            if source.exists():
                with gzip.open(source, "rt", encoding="utf-8") as f:
                    (root / f"{split}.{lang}").write_text(f.read(), encoding="utf-8")
    data_bin = root / "data-bin"
    run(fairseq_command(
        "preprocess", "--source-lang", "de", "--target-lang", "en", "--trainpref", root / "train",
        "--validpref", root / "valid", "--testpref", root / "test", "--destdir", data_bin,
        "--joined-dictionary", "--workers", 1,
    ))
    return data_bin
