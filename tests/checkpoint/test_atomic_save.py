"""fairseq's copies of a saved checkpoint (checkpoint_last.pt, checkpoint_best.pt) are written atomically: a copy
cut off midway leaves the previous checkpoint in place, where the next start reads it."""

import argparse
import errno
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.file_io import PathManager

from macaron_fairseq.checkpoint import atomic_save
from macaron_fairseq.checkpoint.safe_load import CheckpointError
from macaron_fairseq.fairseq_fixes import is_patched


def write_checkpoint(path, num_updates):
    """A checkpoint as fairseq-train writes it, of about 256 kB."""
    torch.save({
        "args": argparse.Namespace(arch="macaron_transformer"),
        "model": {"encoder.embed_tokens.weight": torch.full((256, 256), float(num_updates))},
        "optimizer_history": [{"criterion_name": "LabelSmoothedCrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": 2.5}, "num_updates": num_updates}],
        "extra_state": {"epoch": 1, "val_loss": 2.5, "train_iterator": {"epoch": 1}},
    }, path)


def saved_updates(path):
    return checkpoint_utils.load_checkpoint_to_cpu(str(path))["optimizer_history"][-1]["num_updates"]


@pytest.fixture
def save_dir(tmp_path):
    """checkpoint_last.pt from update 10, and the newly saved checkpoint of update 20 that is to replace it."""
    write_checkpoint(tmp_path / "checkpoint_last.pt", 10)
    write_checkpoint(tmp_path / "checkpoint_1_20.pt", 20)
    return tmp_path


def test_fairseq_copies_checkpoints_through_the_atomic_copy(save_dir):
    assert is_patched(checkpoint_utils.PathManager, "copy", atomic_save.copy_then_rename)
    assert PathManager.copy(str(save_dir / "checkpoint_1_20.pt"), str(save_dir / "checkpoint_last.pt"), overwrite=True)
    assert saved_updates(save_dir / "checkpoint_last.pt") == 20
    assert sorted(p.name for p in save_dir.iterdir()) == ["checkpoint_1_20.pt", "checkpoint_last.pt"]


def test_failed_copy_keeps_the_previous_checkpoint(save_dir, monkeypatch):
    def copy_half_then_fail(src, dst):
        with open(src, "rb") as source, open(dst, "wb") as target:
            target.write(source.read()[: 100_000])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_save.shutil, "copyfile", copy_half_then_fail)
    with pytest.raises(CheckpointError, match=rf"^cannot write checkpoint {save_dir / 'checkpoint_last.pt'} \(No space "
                                              rf"left on device\): free space on its disk"):
        PathManager.copy(str(save_dir / "checkpoint_1_20.pt"), str(save_dir / "checkpoint_last.pt"), overwrite=True)
    assert saved_updates(save_dir / "checkpoint_last.pt") == 10
    assert not (save_dir / "checkpoint_last.pt.tmp").exists()


def test_a_save_on_a_full_disk_is_one_error_and_leaves_no_tmp_file(save_dir):
    """NAME.tmp is made a link to /dev/full, where every write fails with ENOSPC, as on a full disk."""
    assert is_patched(checkpoint_utils, "torch_persistent_save", atomic_save.save_once_then_rename)
    last = save_dir / "checkpoint_last.pt"
    (save_dir / "checkpoint_last.pt.tmp").symlink_to("/dev/full")
    with pytest.raises(CheckpointError, match=rf"^cannot write checkpoint {last} \(.*\): free space on its disk, or "
                                              rf"pass a --save-dir with room that you can write; the checkpoints "
                                              rf"saved before it are unchanged$"):
        checkpoint_utils.torch_persistent_save({"model": {"w": torch.zeros(1000)}}, str(last))
    assert not (save_dir / "checkpoint_last.pt.tmp").exists() and not (save_dir / "checkpoint_last.pt.tmp").is_symlink()
    assert saved_updates(last) == 10


def test_a_save_writes_through_a_tmp_file(save_dir):
    last = save_dir / "checkpoint_last.pt"
    checkpoint_utils.torch_persistent_save({"model": {"w": torch.ones(3)}}, str(last))
    assert torch.load(last, weights_only=True)["model"]["w"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(p.name for p in save_dir.iterdir()) == ["checkpoint_1_20.pt", "checkpoint_last.pt"]


# A process that copies as fairseq's save_checkpoint does, and is killed when half the bytes are written.
KILLED_MID_COPY = textwrap.dedent("""
    import os, shutil, signal, sys
    import macaron_fairseq
    from fairseq.file_io import PathManager

    macaron_fairseq.register()

    def copy_half_then_die(src, dst):
        with open(src, "rb") as source, open(dst, "wb") as target:
            target.write(source.read()[: 100_000])
        os.kill(os.getpid(), signal.SIGKILL)

    shutil.copyfile = copy_half_then_die
    copy = PathManager.copy if sys.argv[3] == "plugin" else PathManager.copy.__wrapped__
    copy(sys.argv[1], sys.argv[2], overwrite=True)
""")


@pytest.mark.parametrize("copy", ["plugin", "fairseq"])
def test_kill_mid_copy(save_dir, copy):
    last = save_dir / "checkpoint_last.pt"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_COPY, str(save_dir / "checkpoint_1_20.pt"), str(last), copy],
        capture_output=True, text=True, timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    if copy == "plugin":
        assert saved_updates(last) == 10  # the previous checkpoint, whole
        # the cut-off copy is left aside, and the next save writes over it
        assert (save_dir / "checkpoint_last.pt.tmp").stat().st_size == 100_000
        PathManager.copy(str(save_dir / "checkpoint_1_20.pt"), str(last), overwrite=True)
        assert saved_updates(last) == 20 and not (save_dir / "checkpoint_last.pt.tmp").exists()
    else:
        # fairseq's own copy writes over checkpoint_last.pt itself: the run cannot resume from it
        assert last.stat().st_size == 100_000
        with pytest.raises(CheckpointError, match="corrupt, truncated"):
            saved_updates(last)
