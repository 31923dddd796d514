"""Checkpoint averaging on checkpoints fairseq-train wrote."""

import os
import sys

import pytest
import torch
from conftest import PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command, run
from fairseq import checkpoint_utils

from macaron_fairseq.checkpoint.safe_load import CheckpointError, load_checkpoint_file
from macaron_tools.average_checkpoints import average_checkpoints, main
from macaron_tools.files import OutputFileError


@pytest.fixture(scope="module")
def three_checkpoints(toy_data_bin, tmp_path_factory):
    """checkpoint_1_1.pt, checkpoint_1_2.pt, checkpoint_1_3.pt of a tiny Macaron model, newest first."""
    save_dir = tmp_path_factory.mktemp("average") / "checkpoints"
    run(fairseq_command(
        "train", toy_data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32, "--optimizer", "adam", "--lr", 1e-3,
        "--criterion", "cross_entropy", "--max-tokens", 500, "--max-update", 3, "--save-interval-updates", 1,
        "--disable-validation", "--save-dir", save_dir, "--cpu", "--seed", 1, "--num-workers", 0,
        "--no-progress-bar",
    ), env={"OMP_NUM_THREADS": "1"})
    return [save_dir / f"checkpoint_1_{update}.pt" for update in (3, 2, 1)]


def test_average_is_the_mean_of_every_parameter(three_checkpoints):
    states = [load_checkpoint_file(path) for path in three_checkpoints]

    averaged = average_checkpoints(three_checkpoints)

    assert averaged["model"].keys() == states[0]["model"].keys()
    name = "encoder.layers.0.macaron_fc1.weight"
    assert not torch.equal(states[0]["model"][name], states[2]["model"][name])  # training moved it
    for name, tensor in averaged["model"].items():
        mean = sum(state["model"][name].double() for state in states) / len(states)
        assert tensor.dtype == states[0]["model"][name].dtype
        torch.testing.assert_close(tensor, mean.to(tensor.dtype), rtol=0, atol=0)
    # everything else is the first (newest) checkpoint's
    assert averaged["cfg"] == states[0]["cfg"]
    assert averaged["optimizer_history"][-1]["num_updates"] == 3


def test_fairseq_loads_the_average(three_checkpoints, tmp_path):
    output = tmp_path / "averaged.pt"
    main(["--inputs", *map(str, three_checkpoints), "--output", str(output)])

    models, _cfg, _task = checkpoint_utils.load_model_ensemble_and_task([str(output)])

    expected = average_checkpoints(three_checkpoints)["model"]
    for name, tensor in models[0].state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0)


def test_sums_in_float64(three_checkpoints, tmp_path):
    # Three fp16 values whose float16 sum (196,608) overflows to inf, and whose mean is exact in float16.
    paths = []
    for index, source in enumerate(three_checkpoints):
        state = load_checkpoint_file(source)
        state["model"] = {name: torch.full_like(t, 65504.0 - 1024 * index, dtype=torch.float16)
                          for name, t in state["model"].items()}
        paths.append(tmp_path / f"half{index}.pt")
        torch.save(state, paths[-1])

    averaged = average_checkpoints(paths)["model"]

    for tensor in averaged.values():
        assert tensor.dtype == torch.float16
        assert torch.all(tensor == 65504.0 - 1024)


@pytest.mark.parametrize("change", ["missing parameter", "other shape"])
def test_checkpoints_of_other_models_are_refused(three_checkpoints, tmp_path, change):
    state = load_checkpoint_file(three_checkpoints[1])
    name = "decoder.layers.1.macaron_fc2.weight"
    if change == "missing parameter":
        del state["model"][name]
        expected = f"lacks {name}, unlike {three_checkpoints[0]}"
    else:
        state["model"][name] = torch.zeros(64, 32)
        expected = f"{name} is [64, 32] in {tmp_path / 'other.pt'} but [32, 32] in {three_checkpoints[0]}"
    torch.save(state, tmp_path / "other.pt")

    with pytest.raises(CheckpointError) as raised:
        average_checkpoints([three_checkpoints[0], tmp_path / "other.pt"])

    assert expected in str(raised.value) and "one training run" in str(raised.value)


def test_command_refuses_in_one_line_and_writes_nothing(three_checkpoints, tmp_path):
    state = load_checkpoint_file(three_checkpoints[1])
    del state["model"]["encoder.embed_tokens.weight"]
    torch.save(state, tmp_path / "other.pt")
    output = tmp_path / "averaged.pt"

    completed = run(
        [sys.executable, "-m", "macaron_tools.average_checkpoints",
         "--inputs", three_checkpoints[0], tmp_path / "other.pt", "--output", output], check=False,
    )

    assert completed.returncode == 1
    assert completed.stderr.strip().count("\n") == 0 and completed.stderr.startswith("error: ")
    assert "encoder.embed_tokens.weight" in completed.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "other.pt"]


def small_checkpoints(folder):
    """Two checkpoints of a one-tensor model, as average_checkpoints reads them."""
    paths = []
    for value in (1.0, 3.0):
        paths.append(folder / f"checkpoint{int(value)}.pt")
        torch.save({"model": {"w": torch.full((4,), value)}}, paths[-1])
    return paths


@pytest.mark.parametrize("output, message", [
    ("missing/avg.pt", "--output {tmp}/missing/avg.pt: its folder {tmp}/missing does not exist: create it or give "
                       "another path"),
    ("/proc/avg.pt", "--output /proc/avg.pt: cannot write in /proc ("),
    (".", "--output {tmp} is a folder: give the name of the file to write"),
])
def test_an_output_it_cannot_write_is_one_line_before_any_checkpoint_is_loaded(tmp_path, output, message):
    inputs = small_checkpoints(tmp_path)
    completed = run([sys.executable, "-m", "macaron_tools.average_checkpoints", "--inputs", *inputs, "--output",
                     (tmp_path / output).resolve()], check=False)
    assert completed.returncode == 1 and completed.stdout == ""
    assert completed.stderr.startswith("error: " + message.format(tmp=tmp_path)), completed.stderr
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert sorted(tmp_path.iterdir()) == inputs


def test_a_full_disk_is_one_error_and_leaves_no_partial_checkpoint(tmp_path):
    inputs = small_checkpoints(tmp_path)
    output = tmp_path / "avg.pt"
    # the temporary file the average is written to (in this process) made a link to /dev/full: a full disk
    os.symlink("/dev/full", f"{output}.partial{os.getpid()}")
    with pytest.raises(OutputFileError, match=rf"^cannot write {output} \(No space left on device\): free space"):
        main(["--inputs", *map(str, inputs), "--output", str(output)])
    assert sorted(tmp_path.iterdir()) == inputs
    main(["--inputs", *map(str, inputs), "--output", str(output)])  # with room, the same command writes it
    assert torch.equal(load_checkpoint_file(output)["model"]["w"], torch.full((4,), 2.0))
