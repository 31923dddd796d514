"""Weights-only checkpoint loading: fairseq's checkpoints load, anything that would run code is refused."""

import argparse
import os
import pickle
import zipfile

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


@pytest.mark.parametrize("content", [b"hello world\n", b"d", b"\x80\x02}q\x00."[:3], bytes(range(256))])
def test_a_file_that_is_no_checkpoint_is_reported_as_such(tmp_path, content):
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    # not torch's detail for a text file, "(101)": the key its legacy loader looked up
    with pytest.raises(CheckpointError, match=r"notes\.pt is not a PyTorch checkpoint \(neither a zip archive nor a "
                                              r"pickle\): pass a checkpoint that fairseq-train saved"):
        load_checkpoint_file(path)


def test_an_empty_file_is_reported_as_such(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.touch()
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt is empty"):
        load_checkpoint_file(path)


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_bare_pickled_payload_is_refused_by_name_and_never_runs(tmp_path, protocol):
    path, marker = tmp_path / "payload.pt", tmp_path / "code-ran"
    with open(path, "wb") as f:
        pickle.dump({"model": RunsCodeWhenUnpickled(marker)}, f, protocol=protocol)
    for load in (load_checkpoint_file, checkpoint_utils.load_checkpoint_to_cpu):
        with pytest.raises(CheckpointError) as refused:
            load(str(path))
        message = str(refused.value)
        assert message.startswith(f"refused to load {path}: it is a bare pickle, not a PyTorch checkpoint, and "
                                  f"holds a pickled object (posix.system) that is not allowed"), message
        assert "corrupt" not in message and "weights_only" not in message  # torch's hint would say to load it unsafely
    assert not marker.exists()


def test_a_bare_pickle_without_objects_is_no_checkpoint(tmp_path):
    path = tmp_path / "state.pt"
    path.write_bytes(pickle.dumps({"model": [1, 2]}))
    with pytest.raises(CheckpointError, match=r"state\.pt is a bare pickle, not a PyTorch checkpoint"):
        load_checkpoint_file(path)


def test_a_checkpoint_in_torchs_legacy_format_still_loads(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save(fairseq_like_state(), path, _use_new_zipfile_serialization=False)
    assert load_checkpoint_file(path)["args"].arch == "macaron_transformer"


def test_torchs_unsafe_hint_is_never_quoted(tmp_path):
    """An archive whose pickle torch's weights-only unpickler refuses for a reason other than a global."""
    path = tmp_path / "checkpoint.pt"
    torch.save(fairseq_like_state(), path)
    with zipfile.ZipFile(path) as archive:
        records = {info.filename: archive.read(info) for info in archive.infolist()}
    pickle_record = next(name for name in records if name.endswith("/data.pkl"))
    records[pickle_record] = pickle.dumps({"model": 1}, protocol=4)  # a FRAME opcode, which it does not read
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in records.items():
            archive.writestr(name, content)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint_file(path)
    assert str(refused.value).startswith(f"refused to load {path}: the weights-only unpickler does not allow what "
                                         f"it holds (Unsupported operand 149)")
    assert "weights_only" not in str(refused.value)
