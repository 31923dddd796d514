"""Checkpoints that cannot be used, through fairseq-generate and through a restarted scripts/train.sh: a truncated
or corrupted file, a missing one, one of another architecture or dictionary size, a pickled payload. Each stops
the command with one line naming the file and the cause; nothing runs from the file."""

import os
import re
import shutil
import struct
import zipfile

import pytest
import torch
from fairseq import checkpoint_utils

from conftest import BIN_DIR, PLUGIN_DIR, REPO_ROOT, TINY_MODEL_FLAGS, fairseq_command, last_checkpoint, run
from macaron_fairseq.checkpoint.load_errors import describe_state_dict_mismatch
from macaron_fairseq.checkpoint.safe_load import CheckpointError

TRAIN_SH = REPO_ROOT / "scripts" / "train.sh"
ENV = {"OMP_NUM_THREADS": "1"}
DICTIONARY_ENTRIES = 112  # the toy corpus's joined dictionary, with fairseq's 4 symbols, padded to a multiple of 8


def train_sh(data_dir, save_dir, *options, model="macaron", max_update=10):
    return [
        "bash", TRAIN_SH, "--setting", "multi30k", "--model", model, "--cpu", "--data-dir", data_dir,
        "--save-dir", save_dir, "--max-update", max_update, "--max-tokens", 200, "--update-freq", 1,
        "--", *TINY_MODEL_FLAGS, "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32,
        "--save-interval-updates", 5, "--num-workers", 0, "--no-progress-bar", *options,
    ]


@pytest.fixture(scope="module")
def trained(toy_data_bin, tmp_path_factory):
    """A save dir of 10 updates: checkpoint_1_5.pt, checkpoint_1_10.pt, checkpoint_best.pt, checkpoint_last.pt."""
    save_dir = tmp_path_factory.mktemp("trained")
    run(train_sh(toy_data_bin, save_dir), env=ENV)
    return save_dir


@pytest.fixture
def save_dir(trained, tmp_path):
    """A copy of the trained save dir, for a test to damage."""
    return shutil.copytree(trained, tmp_path / "save")


@pytest.fixture(scope="module")
def other_dictionary_data(toy_data_bin, tmp_path_factory):
    """The toy data with a smaller joined dictionary, as another corpus would have: its first 40 words, 44 entries
    with fairseq's 4 symbols."""
    data = tmp_path_factory.mktemp("other-dictionary") / "data-bin"
    shutil.copytree(toy_data_bin, data)
    for lang in ("de", "en"):
        words = (toy_data_bin / f"dict.{lang}.txt").read_text(encoding="utf-8").splitlines(keepends=True)
        (data / f"dict.{lang}.txt").write_text("".join(words[:40]), encoding="utf-8")
    return data


class RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_weight_byte(path):
    """Damage as a bad disk or copy does: one byte inside the largest tensor's data; the archive stays valid."""
    content = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        record = max((info for info in archive.infolist() if "/data/" in info.filename), key=lambda i: i.file_size)
    name_length, extra_length = struct.unpack("<HH", content[record.header_offset + 26: record.header_offset + 30])
    content[record.header_offset + 30 + name_length + extra_length + record.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def plant_payload(path, marker):
    state = torch.load(path, weights_only=True)
    state["extra_state"]["payload"] = RunsCodeWhenUnpickled(marker)
    torch.save(state, path)


def relabel_architecture(path, arch):
    state = torch.load(path, weights_only=True)
    state["cfg"]["model"].arch = state["cfg"]["model"]._name = arch
    torch.save(state, path)


def assert_one_line_error(result, *fragments):
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    error_lines = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, output[-3000:]
    for fragment in fragments:
        assert str(fragment) in error_lines[0], error_lines[0]
    return error_lines[0]


# Through checkpoint_utils.load_model_ensemble_and_task, the loader of fairseq-generate, -interactive and -validate.

def load_as_generate_does(path, data):
    return checkpoint_utils.load_model_ensemble_and_task([str(path)], arg_overrides={"data": str(data)})


def raises_naming(path, cause):
    """Expects a CheckpointError whose message names ``path``, then matches the regular expression ``cause``."""
    return pytest.raises(CheckpointError, match=re.escape(str(path)) + cause)


def test_truncated_checkpoint(save_dir, toy_data_bin):
    path = save_dir / "checkpoint_1_10.pt"
    truncate(path)
    with raises_naming(path, " is corrupt, truncated"):
        load_as_generate_does(path, toy_data_bin)


def test_corrupted_weights_are_caught_by_their_checksum(save_dir, toy_data_bin):
    path = save_dir / "checkpoint_1_10.pt"
    flip_a_weight_byte(path)
    with raises_naming(path, r" is corrupt \(archive/data/\d+ does not match its checksum\)"):
        load_as_generate_does(path, toy_data_bin)


def test_missing_checkpoint(tmp_path, toy_data_bin):
    path = tmp_path / "checkpoint_best.pt"
    with raises_naming(path, " does not exist"):
        load_as_generate_does(path, toy_data_bin)


def test_pickled_payload_never_runs(save_dir, toy_data_bin):
    path, marker = save_dir / "checkpoint_1_10.pt", save_dir / "code-ran"
    plant_payload(path, marker)
    with raises_naming(path, r": it holds a pickled object \(posix\.system\)"):
        load_as_generate_does(path, toy_data_bin)
    assert not marker.exists()


def test_architecture_no_plugin_registered(save_dir, toy_data_bin):
    path = save_dir / "checkpoint_1_10.pt"
    relabel_architecture(path, "someone_elses_transformer")
    with raises_naming(path, " holds a someone_elses_transformer model.*--user-dir"):
        load_as_generate_does(path, toy_data_bin)


def test_data_of_another_dictionary(trained, other_dictionary_data):
    path = trained / "checkpoint_last.pt"
    with raises_naming(path, f" does not fit .* dictionary has {DICTIONARY_ENTRIES} entries and this data's has 44"):
        load_as_generate_does(path, other_dictionary_data)


def test_other_dimensions_are_not_taken_for_another_dictionary():
    message = (
        "Error(s) in loading state_dict for MacaronTransformerModel:\n\tsize mismatch for encoder.embed_tokens.weight: "
        "copying a param with shape torch.Size([112, 32]) from checkpoint, the shape in current model is "
        "torch.Size([112, 64]).\n\tMissing key(s) in state_dict: \"encoder.layers.2.fc1.weight\", "
        "\"encoder.layers.2.fc1.bias\". "
    )
    assert describe_state_dict_mismatch(message) == (
        "it lacks encoder.layers.2.fc1.weight and 1 more parameter; "
        "encoder.embed_tokens.weight is [112, 32] in it and [112, 64] in this model"
    )


@pytest.mark.parametrize("case", ["another dictionary", "corrupted"])
def test_fairseq_generate_prints_one_line(save_dir, other_dictionary_data, toy_data_bin, case):
    data, path = toy_data_bin, save_dir / "checkpoint_last.pt"
    if case == "another dictionary":
        data = other_dictionary_data
    else:
        flip_a_weight_byte(path)
    result = run(fairseq_command("generate", data, "--user-dir", PLUGIN_DIR, "--path", path, "--gen-subset", "test",
                                 "--cpu", "--max-tokens", 1000), check=False, env=ENV)
    assert_one_line_error(result, f"checkpoint {path}", "dictionary" if case == "another dictionary" else "checksum")
    assert "H-0\t" not in result.stdout  # nothing was translated


@pytest.mark.parametrize("embed_path", ["/nonexistent/embeddings.txt", "/dev/zero"])
def test_fairseq_generate_does_not_follow_a_saved_embedding_path(save_dir, toy_data_bin, embed_path):
    """The trained embeddings are in the checkpoint: a path it names is never opened (/dev/zero would be read
    until memory runs out)."""
    from macaron_fairseq.checkpoint.safe_load import load_checkpoint_file

    path = save_dir / "checkpoint_last.pt"
    state = load_checkpoint_file(str(path))
    model_cfg = state["args"] if state.get("args") is not None else state["cfg"]["model"]
    for key in ("encoder_embed_path", "decoder_embed_path"):
        if isinstance(model_cfg, dict):
            model_cfg[key] = embed_path
        else:
            setattr(model_cfg, key, embed_path)
    torch.save(state, path)
    result = run(fairseq_command("generate", toy_data_bin, "--user-dir", PLUGIN_DIR, "--path", path, "--gen-subset",
                                 "test", "--cpu", "--max-tokens", 1000), check=False, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "H-0\t" in result.stdout


def test_pruning_layers_with_model_overrides_is_named_as_the_cause(trained, toy_data_bin):
    """fairseq's LayerDrop pruning drops every decoder layer when only encoder_layers_to_keep is given."""
    path = trained / "checkpoint_last.pt"
    result = run(fairseq_command("generate", toy_data_bin, "--user-dir", PLUGIN_DIR, "--path", path, "--gen-subset",
                                 "test", "--cpu", "--max-tokens", 1000, "--model-overrides",
                                 "{'encoder_layers_to_keep': '0'}"), check=False, env=ENV)
    error = assert_one_line_error(result, f"checkpoint {path} does not fit the model once --model-overrides "
                                          f"{{'encoder_layers_to_keep': '0'}} prunes it: it lacks decoder.layers.0")
    assert error.endswith("give encoder_layers_to_keep and decoder_layers_to_keep both, as the 0-based layers to "
                          "keep ('0,1')")


def test_a_language_model_given_to_fairseq_generate_is_named_so(toy_data_bin, tmp_path):
    lm_data = tmp_path / "lm-bin"  # the toy corpus's English side, as a language model's folder
    lm_data.mkdir()
    shutil.copy(toy_data_bin / "dict.en.txt", lm_data / "dict.txt")
    for split in ("train", "valid"):
        for suffix in ("bin", "idx"):
            shutil.copy(toy_data_bin / f"{split}.de-en.en.{suffix}", lm_data / f"{split}.{suffix}")
    run(fairseq_command("train", lm_data, "--user-dir", PLUGIN_DIR, "--task", "language_modeling", "--arch",
                        "macaron_transformer_lm", "--decoder-layers", 1, "--decoder-embed-dim", 16,
                        "--decoder-ffn-embed-dim", 16, "--decoder-attention-heads", 2, "--tokens-per-sample", 16,
                        "--optimizer", "adam", "--lr", 1e-3, "--max-tokens", 256, "--max-update", 1, "--cpu",
                        "--save-dir", tmp_path / "lm", "--num-workers", 0, "--no-progress-bar"), env=ENV)
    path = tmp_path / "lm" / "checkpoint_last.pt"
    # of the same dictionary as the data, so that its weights load: nothing but the check tells them apart
    result = run(fairseq_command("generate", toy_data_bin, "--user-dir", PLUGIN_DIR, "--path", path, "--gen-subset",
                                 "test", "--cpu", "--max-tokens", 1000), check=False, env=ENV)
    assert_one_line_error(result, f"checkpoint {path} holds a language model (--task language_modeling, --arch "
                                  f"macaron_transformer_lm), not a model for --task translation: pass a checkpoint "
                                  f"trained with --task translation")
    assert "H-0\t" not in result.stdout


# Through a restart of scripts/train.sh, which resumes from <save dir>/checkpoint_last.pt.

def test_resume_as_another_architecture(save_dir, toy_data_bin):
    # train.sh refuses such a save dir itself (tests/scripts/test_train.py); fairseq-train on its own, with the
    # command train.sh would run, meets the plugin's explanation when it resumes
    placeholder = save_dir.parent / "not-yet-used"
    train = train_sh(toy_data_bin, placeholder, model="baseline", max_update=20)
    train.insert(train.index("--"), "--dry-run")
    dry_run = run(train, env=ENV)
    command = dry_run.stdout.strip().replace(str(placeholder), str(save_dir))
    path = {"PATH": f"{BIN_DIR}{os.pathsep}{os.environ['PATH']}"}  # this environment's fairseq-train
    result = run(["bash", "-c", command], check=False, env={**ENV, **path}, cwd=REPO_ROOT)  # paths from the root
    assert_one_line_error(result, f"cannot resume from checkpoint {save_dir}/checkpoint_last.pt",
                          "it holds a macaron_transformer model, not a transformer", "another --save-dir")


def test_resume_on_data_of_another_dictionary(save_dir, other_dictionary_data):
    result = run(train_sh(other_dictionary_data, save_dir, max_update=20), check=False, env=ENV)
    assert_one_line_error(result, f"cannot resume from checkpoint {save_dir}/checkpoint_last.pt",
                          f"its dictionary has {DICTIONARY_ENTRIES} entries and this data's has 44")


def test_resume_from_truncated_checkpoint_names_the_way_out(save_dir, toy_data_bin):
    last = save_dir / "checkpoint_last.pt"
    truncate(last)
    result = run(train_sh(toy_data_bin, save_dir, max_update=12), check=False, env=ENV)
    way_out = f"cp {save_dir}/checkpoint_1_10.pt {last}"
    assert_one_line_error(result, f"checkpoint {last} is corrupt, truncated", way_out)

    shutil.copyfile(save_dir / "checkpoint_1_10.pt", last)  # as the message says
    resumed = run(train_sh(toy_data_bin, save_dir, max_update=12), env=ENV)
    assert "(epoch 1 @ 10 updates)" in resumed.stdout and "done training" in resumed.stdout


def test_resume_refuses_pickled_payload(save_dir, toy_data_bin):
    last, marker = save_dir / "checkpoint_last.pt", save_dir / "code-ran"
    plant_payload(last, marker)
    result = run(train_sh(toy_data_bin, save_dir, max_update=20), check=False, env=ENV)
    assert_one_line_error(result, f"refused to load {last}", "posix.system")
    assert not marker.exists()


def test_missing_restore_file_is_no_fresh_start(save_dir, toy_data_bin):
    missing = save_dir / "checkpoint_9_900.pt"
    result = run(train_sh(toy_data_bin, save_dir, "--restore-file", missing, max_update=20), check=False, env=ENV)
    assert_one_line_error(result, f"--restore-file {missing} does not exist")
    assert "Start iterating over samples" not in result.stdout


@pytest.mark.parametrize("option", ["--continue-once", "--finetune-from-model"])
def test_a_missing_checkpoint_to_start_from_is_no_fresh_start(toy_data_bin, tmp_path, option):
    missing = tmp_path / "pretrained" / "checkpoint_best.pt"
    result = run(train_sh(toy_data_bin, tmp_path / "save", option, missing, max_update=20), check=False, env=ENV)
    assert_one_line_error(result, f"{option} {missing} does not exist")
    assert "Start iterating over samples" not in result.stdout


def test_continue_once_is_ignored_once_the_run_has_its_own_last_checkpoint(save_dir, toy_data_bin, tmp_path):
    """fairseq reads --continue-once only on a run's first start; a restart resumes from checkpoint_last.pt."""
    result = run(train_sh(toy_data_bin, save_dir, "--continue-once", tmp_path / "gone.pt", max_update=12), env=ENV)
    assert "error:" not in result.stderr
    assert last_checkpoint(save_dir)[0] == 12


def test_a_translation_model_given_to_fairseq_eval_lm_is_one_line(trained, toy_data_bin, tmp_path):
    lm_data = tmp_path / "lm-bin"  # the folder of a language model: its one dictionary, dict.txt
    lm_data.mkdir()
    shutil.copy(toy_data_bin / "dict.en.txt", lm_data / "dict.txt")
    result = run(fairseq_command("eval-lm", lm_data, "--user-dir", PLUGIN_DIR, "--path",
                                 trained / "checkpoint_last.pt", "--cpu"), check=False, env=ENV)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: checkpoint {trained / 'checkpoint_last.pt'} holds a macaron_transformer model, not a language model: "
        f"fairseq-eval-lm and --task language_modeling need one trained with that task (e.g. --arch "
        f"macaron_transformer_lm)")
