"""fairseq-hydra-train with the example config configs/macaron-iwslt14.yaml: the Macaron options given as
model.macaron_*=... (no `+`) build the model they name, and one the model cannot run is refused in one line."""

import pytest

from conftest import BIN_DIR, PLUGIN_DIR, REPO_ROOT, run
from macaron_fairseq.checkpoint.safe_load import load_checkpoint_file

ENV = {"OMP_NUM_THREADS": "1"}
TINY = [  # the recipe's model and schedule, shrunk to seconds on a CPU
    "+model.encoder_layers=1", "+model.decoder_layers=1", "+model.encoder_embed_dim=16", "+model.decoder_embed_dim=16",
    "+model.encoder_ffn_embed_dim=16", "+model.decoder_ffn_embed_dim=16", "+model.encoder_attention_heads=2",
    "+model.decoder_attention_heads=2", "optimization.max_update=2", "dataset.max_tokens=500", "common.cpu=true",
    "checkpoint.no_epoch_checkpoints=true",
]


def hydra_train(data_bin, save_dir, *overrides):
    return run([BIN_DIR / "fairseq-hydra-train", "--config-dir", REPO_ROOT / "configs", "--config-name",
                "macaron-iwslt14", f"task.data={data_bin}", f"common.user_dir={PLUGIN_DIR}",
                f"checkpoint.save_dir={save_dir}", *TINY, *overrides], cwd=save_dir.parent, check=False, env=ENV)


def layer_keys(save_dir):
    state = load_checkpoint_file(str(save_dir / "checkpoint_last.pt"))
    return sorted({key.split("encoder.layers.0.")[1].split(".")[0] for key in state["model"]
                   if key.startswith("encoder.layers.0.")})


@pytest.mark.parametrize("overrides, added", [
    ([], ["macaron_fc1", "macaron_fc2", "macaron_layer_norm"]),
    (["model.macaron_scheme=strang-tied", "model.macaron_learnable_scale=true"],
     ["ffn1_step", "ffn2_step", "macaron_layer_norm", "self_attn_step"]),
    (["model.macaron_scheme=lie-trotter"], []),
])
def test_the_options_build_the_model_they_name(toy_data_bin, tmp_path, overrides, added):
    result = hydra_train(toy_data_bin, tmp_path / "save", *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    baseline = ["fc1", "fc2", "final_layer_norm", "self_attn", "self_attn_layer_norm"]
    assert layer_keys(tmp_path / "save") == sorted(set(baseline + added))


def test_an_option_the_model_cannot_run_is_one_line(toy_data_bin, tmp_path):
    result = hydra_train(toy_data_bin, tmp_path / "save", "model.macaron_scheme=bogus")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --macaron-scheme bogus is not a scheme: choose one of strang, strang-tied, lie-trotter, "
        "reversed-lie-trotter")
    assert not (tmp_path / "save" / "checkpoint_last.pt").exists()
