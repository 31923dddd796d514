"""What a fairseq user does with the baseline works the same with its Macaron twin: train, generate and score;
--retain-dropout with fairseq's module names; LayerDrop pruning at load time; the hub interface, in the import orders
a user writes. Each test runs both architectures through fairseq's own commands."""

import re
import subprocess
import sys

import pytest

from conftest import PLUGIN_DIR, REPO_ROOT, TINY_MODEL_FLAGS, fairseq_command, run

ENV = {"OMP_NUM_THREADS": "1"}
ARCHITECTURES = ["transformer", "macaron_transformer"]
TEST_SENTENCES = 13  # the toy corpus's test split


@pytest.fixture(scope="module")
def trained(toy_data_bin, tmp_path_factory):
    """{arch: save dir} of a tiny model of each architecture, 40 updates on the toy corpus."""
    save_dirs = {}
    for arch in ARCHITECTURES:
        save_dirs[arch] = tmp_path_factory.mktemp(arch)
        run(fairseq_command(
            "train", toy_data_bin, "--user-dir", PLUGIN_DIR, "--arch", arch, *TINY_MODEL_FLAGS,
            "--encoder-ffn-embed-dim", 64, "--decoder-ffn-embed-dim", 64, "--dropout", 0.3, "--optimizer", "adam",
            "--lr", 3e-3, "--max-tokens", 1000, "--max-update", 40, "--save-dir", save_dirs[arch],
            "--no-epoch-checkpoints", "--cpu", "--seed", 1, "--no-progress-bar", "--num-workers", 0), env=ENV)
    return save_dirs


def generate(data_bin, save_dir, *options):
    result = run(fairseq_command("generate", data_bin, "--user-dir", PLUGIN_DIR, "--path",
                                 save_dir / "checkpoint_last.pt", "--gen-subset", "test", "--cpu", "--beam", 2,
                                 "--max-tokens", 1000, "--seed", 1, *options), env=ENV)
    hypotheses = dict(re.findall(r"^H-(\d+)\t(\S+)\t", result.stdout, flags=re.MULTILINE))
    return hypotheses, result.stdout + result.stderr


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_train_generate_and_score(toy_data_bin, trained, arch):
    hypotheses, output = generate(toy_data_bin, trained[arch])
    assert len(hypotheses) == TEST_SENTENCES
    assert re.search(r"^Generate test with beam=2: BLEU4 = \d+\.\d+", output, flags=re.MULTILINE), output[-2000:]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_retain_dropout_with_fairseqs_module_names_keeps_dropout_at_inference(toy_data_bin, trained, arch):
    plain, _ = generate(toy_data_bin, trained[arch])
    retained, output = generate(toy_data_bin, trained[arch], "--retain-dropout", "--retain-dropout-modules",
                                "TransformerEncoder")
    assert re.search(r"Enabling dropout during inference for module: encoder\.dropout_module$", output,
                     flags=re.MULTILINE)
    assert retained != plain  # the scores of dropped-out models differ from those of the whole one


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_layerdrop_pruning_at_load_time(toy_data_bin, trained, arch):
    hypotheses, output = generate(toy_data_bin, trained[arch], "--model-overrides",
                                  "{'encoder_layers_to_keep': '1', 'decoder_layers_to_keep': '0'}")
    assert "Pruning model to specified layer configuration" in output
    assert len(hypotheses) == TEST_SENTENCES


HUB = """
import sys
{imports}
from fairseq.models.transformer import TransformerModel
hub = TransformerModel.from_pretrained(sys.argv[1], "checkpoint_last.pt", sys.argv[2], user_dir=sys.argv[3])
print(type(hub.models[0]).__name__, hub.translate("der mann"))
"""

IMPORT_ORDERS = {
    "fairseq first": "import fairseq\nimport macaron_fairseq",
    "the model class first": "from macaron_fairseq.models.macaron_transformer import MacaronTransformerModel",
    "through user_dir alone": "",
    "the package first": "import macaron_fairseq",
}


@pytest.mark.parametrize("arch, order", [("transformer", "through user_dir alone")] +
                         [("macaron_transformer", order) for order in IMPORT_ORDERS])
def test_the_hub_interface_loads_and_translates(toy_data_bin, trained, arch, order):
    result = subprocess.run(
        [sys.executable, "-c", HUB.format(imports=IMPORT_ORDERS[order]), str(trained[arch]), str(toy_data_bin),
         str(PLUGIN_DIR)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    model_class, translation = result.stdout.splitlines()[-1].split(" ", 1)
    assert model_class == ("MacaronTransformerModel" if arch == "macaron_transformer" else "TransformerModel")
    assert translation.strip()
