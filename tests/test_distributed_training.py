"""fairseq's own distributed data-parallel training of a Macaron model: two CPU processes (gloo), each with half of
every update's batches, train the model that one process trains with all of them; and a two-process run
resumes from its checkpoint, which rank 0 loads and broadcasts to rank 1 (the _broadcast_object_slow entry of
fairseq_fixes.FIXES)."""

import os
import socket
import subprocess

import pytest
import torch
from omegaconf import OmegaConf

from conftest import PLUGIN_DIR, REPO_ROOT, TINY_MODEL_FLAGS, fairseq_command, last_checkpoint, run
from macaron_fairseq.checkpoint.safe_load import CheckpointError, load_checkpoint_file

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train_flags(data_bin, save_dir, max_update):
    """A tiny Macaron model without dropout: dropout masks are drawn per process, so with dropout the two
    processes' second halves would see other masks than one process's."""
    return [
        data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32, "--dropout", 0,
        "--optimizer", "adam", "--lr", 1e-3, "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", 0.1,
        "--max-tokens", 200, "--max-update", max_update, "--disable-validation", "--no-epoch-checkpoints",
        "--save-dir", save_dir, "--cpu", "--seed", 1, "--num-workers", 0, "--no-progress-bar", "--log-interval", 1,
    ]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_on_two_processes(data_bin, save_dir, max_update):
    """Two fairseq-train processes, ranks 0 and 1, on one save dir (as nodes share one on a cluster).

    fairseq cuts each epoch's batch list round-robin over the ranks (rank r takes batches r, r + 2, ...), and one
    process with --update-freq 2 takes batches 2k and 2k + 1 for update k: the same batches, the same update."""
    init_method = f"tcp://127.0.0.1:{free_port()}"
    processes = [
        subprocess.Popen(
            [str(part) for part in fairseq_command(
                "train", *train_flags(data_bin, save_dir, max_update),
                "--distributed-world-size", 2, "--distributed-rank", rank, "--distributed-backend", "gloo",
                "--ddp-backend", "legacy_ddp", "--distributed-no-spawn", "--distributed-init-method", init_method,
            )],
            env={**os.environ, **ENV}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for rank, (process, output) in enumerate(zip(processes, outputs)):
        if process.returncode != 0:
            pytest.fail(f"rank {rank} exited {process.returncode}:\n{output[-3000:]}")
    return outputs


@pytest.fixture(scope="module")
def one_process_whole_batch(toy_data_bin, tmp_path_factory):
    """8 updates of one process, each over two batches (--update-freq 2)."""
    save_dir = tmp_path_factory.mktemp("one-process")
    run(fairseq_command("train", *train_flags(toy_data_bin, save_dir, 8), "--update-freq", 2), env=ENV)
    return last_checkpoint(save_dir)


def assert_same_model(model, expected):
    assert model.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(model[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_two_processes_train_the_model_of_one_with_the_whole_batch(toy_data_bin, tmp_path, one_process_whole_batch):
    outputs = train_on_two_processes(toy_data_bin, tmp_path, max_update=8)
    assert "distributed init (rank 1)" in outputs[1] and "done training" in outputs[0]
    num_updates, model = last_checkpoint(tmp_path)
    expected_updates, expected_model = one_process_whole_batch
    assert num_updates == expected_updates == 8
    assert_same_model(model, expected_model)


def test_two_processes_resume_from_a_broadcast_checkpoint(toy_data_bin, tmp_path, one_process_whole_batch):
    train_on_two_processes(toy_data_bin, tmp_path, max_update=4)
    outputs = train_on_two_processes(toy_data_bin, tmp_path, max_update=8)
    # rank 0 reads the file; rank 1 gets the state through torch.load of the broadcast (weights-only)
    assert "Loaded checkpoint" in outputs[0] and "(epoch 1 @ 4 updates)" in outputs[0]
    num_updates, model = last_checkpoint(tmp_path)
    assert num_updates == 8
    assert_same_model(model, one_process_whole_batch[1])


def test_config_types_of_the_broadcast_are_still_refused_in_files(tmp_path):
    """The omegaconf types a broadcast state holds are allowed only while a rank receives one."""
    path = tmp_path / "checkpoint_with_config.pt"
    torch.save({"cfg": OmegaConf.create({"task": {"data": "data-bin"}})}, path)
    with pytest.raises(CheckpointError, match=r"refused to load .*omegaconf\.dictconfig\.DictConfig"):
        load_checkpoint_file(path)


def test_train_sh_gives_fairseq_the_world_size_of_all_nodes():
    """Two nodes of one GPU each: without --distributed-world-size fairseq (world size: the node's GPU count, 1)
    would ignore torchrun's environment, and each node would train a model of its own."""
    result = run(["bash", REPO_ROOT / "scripts" / "train.sh", "--dry-run", "--setting", "iwslt14", "--model", "macaron",
                  "--gpus", "0", "--nnodes", 2, "--node-rank", 1, "--master-addr", "10.0.0.1"])
    command = result.stdout.split()
    assert command[0] == "torchrun"
    assert command[command.index("--distributed-world-size") + 1] == "2"
