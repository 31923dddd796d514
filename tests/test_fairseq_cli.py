"""fairseq's own command-line tools with the plugin: fairseq-preprocess -> fairseq-train -> fairseq-generate,
for a Macaron architecture and its baseline twin, on a tiny corpus."""

import os
import re

import pytest

from conftest import BIN_DIR, PLUGIN_DIR, REPO_ROOT, TINY_MODEL_FLAGS, fairseq_command, run

README = REPO_ROOT / "README.md"


def train(data_bin, save_dir, arch, *flags):
    return run(fairseq_command(
        "train", data_bin, "--user-dir", PLUGIN_DIR, "--arch", arch, *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32,
        "--optimizer", "adam", "--lr", 1e-3, "--criterion", "label_smoothed_cross_entropy",
        "--label-smoothing", 0.1, "--max-tokens", 1000, "--max-update", 12, "--save-dir", save_dir,
        "--cpu", "--seed", 1, "--no-progress-bar", "--log-interval", 1, "--num-workers", 0, *flags,
    ))


@pytest.fixture(scope="module")
def trained(toy_data_bin, tmp_path_factory):
    """{arch: save_dir} of a Macaron model and its baseline twin, each trained for a few updates."""
    save_dirs = {}
    for arch in ("macaron_transformer", "transformer"):
        save_dirs[arch] = tmp_path_factory.mktemp(arch)
        result = train(toy_data_bin, save_dirs[arch], arch)
        assert "done training" in result.stdout + result.stderr
    return save_dirs


@pytest.mark.parametrize("arch", ["macaron_transformer", "transformer"])
def test_train_then_generate_translates_every_test_sentence(toy_data_bin, trained, arch):
    result = run(fairseq_command(
        "generate", toy_data_bin, "--user-dir", PLUGIN_DIR, "--path", trained[arch] / "checkpoint_last.pt",
        "--gen-subset", "test", "--beam", 2, "--cpu", "--max-tokens", 1000,
    ))
    output = result.stdout + result.stderr
    # 13 test sentences: fairseq alone would skip the last, partial batch (fairseq_fixes.FIXES, batch_by_size)
    assert re.search(r"Translated 13 sentences", output), output[-2000:]
    assert len(re.findall(r"^H-\d+\t", result.stdout, flags=re.MULTILINE)) == 13
    assert "BLEU4 = " in output


def test_macaron_model_is_trained_with_macaron_layers(trained):
    import torch

    state = torch.load(trained["macaron_transformer"] / "checkpoint_last.pt", weights_only=True)
    assert state["args"] is None and state["cfg"]["model"].arch == "macaron_transformer"
    assert "encoder.layers.0.macaron_fc1.weight" in state["model"]
    assert "decoder.layers.1.macaron_layer_norm.bias" in state["model"]


def test_validation_and_resumed_training_load_checkpoints(toy_data_bin, trained):
    save_dir = trained["macaron_transformer"]
    result = run(fairseq_command(
        "validate", toy_data_bin, "--task", "translation", "--user-dir", PLUGIN_DIR, "--path", save_dir / "checkpoint_last.pt",
        "--valid-subset", "valid", "--cpu", "--max-tokens", 1000,
    ))
    assert "valid on 'valid' subset" in result.stdout + result.stderr
    resumed = train(toy_data_bin, save_dir, "macaron_transformer", "--max-update", 16)
    output = resumed.stdout + resumed.stderr
    assert "Loaded checkpoint" in output and "num_updates 16" in output


def test_the_readme_user_dir_works_from_any_directory(tmp_path):
    """The README's --user-dir form, run from a folder other than the repository root (where the relative
    `--user-dir macaron_fairseq` stops in fairseq with a FileNotFoundError, before the plugin loads)."""
    block = README.read_text(encoding="utf-8").split("## Using the plugin", 1)[1].split("```bash", 1)[1]
    assignment = next(line for line in block.splitlines() if line.startswith("MACARON_DIR="))
    assert '--user-dir "$MACARON_DIR"' in block.split("```", 1)[0]
    parses_as_fairseq_train = (
        "from fairseq import options; from fairseq.models import ARCH_MODEL_REGISTRY; "
        "options.parse_args_and_arch(options.get_training_parser(), input_args=['data-bin', '--task', 'translation', "
        "'--user-dir', sys.argv[1], '--arch', 'macaron_transformer']); print('macaron_transformer' in ARCH_MODEL_REGISTRY)"
    )
    result = run(["bash", "-c", f'{assignment}\npython -c "import sys; {parses_as_fairseq_train}" "$MACARON_DIR"'],
                 cwd=tmp_path, env={"PATH": f"{BIN_DIR}:{os.environ['PATH']}"})
    assert result.stdout.splitlines()[-1] == "True"
