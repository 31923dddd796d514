"""The converter's command line: ``python -m macaron_tools.conversion.convert_official`` and
scripts/convert-official.sh.

A checkpoint in the authors' format (fairseq v0.6 fork), written here from their key list
(docs/official-checkpoints.md) with random weights, converts, and fairseq-generate translates the toy test set with
it; bad inputs are refused with one ``error:`` line and no output file.
"""

import argparse
import errno
import logging
import os
import re
import sys
import tempfile

import pytest
import torch
from fairseq.data import Dictionary

from conftest import PLUGIN_DIR, REPO_ROOT, fairseq_command, run
from macaron_tools.conversion import convert_official

DIM, FFN_DIM, HEADS, LAYERS = 16, 8, 2, 2
WRAPPER = REPO_ROOT / "scripts" / "convert-official.sh"


def their_weights(vocab, pre_norm=True, macaron=True):
    """Random weights under their key names: fused attention, encoder LayerNorms numbered, shared embeddings."""
    shapes = {}

    def linear(name, inputs, outputs):
        shapes.update({f"{name}.weight": (outputs, inputs), f"{name}.bias": (outputs,)})

    def attention(name):
        shapes.update({f"{name}.in_proj_weight": (3 * DIM, DIM), f"{name}.in_proj_bias": (3 * DIM,)})
        linear(f"{name}.out_proj", DIM, DIM)

    def norm(name):
        shapes.update({f"{name}.weight": (DIM,), f"{name}.bias": (DIM,)})

    def ffns(layer):
        for prefix in ("", "macaron_") if macaron else ("",):
            linear(f"{layer}.{prefix}fc1", DIM, FFN_DIM)
            linear(f"{layer}.{prefix}fc2", FFN_DIM, DIM)

    for index in range(LAYERS):
        layer = f"encoder.layers.{index}"
        attention(f"{layer}.self_attn")
        ffns(layer)
        for norm_index in range(3 if macaron else 2):
            norm(f"{layer}.layer_norms.{norm_index}")
        layer = f"decoder.layers.{index}"
        attention(f"{layer}.self_attn")
        attention(f"{layer}.encoder_attn")
        ffns(layer)
        for name in ("self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm"):
            norm(f"{layer}.{name}")
        if macaron:
            norm(f"{layer}.macaron_layer_norm")
    if pre_norm:
        norm("encoder.layer_norm")
        norm("decoder.layer_norm")

    weights = {key: 0.3 * torch.randn(shape) for key, shape in shapes.items()}
    embed_tokens = torch.randn(vocab, DIM) * DIM**-0.5
    for stack in ("encoder", "decoder"):
        weights[f"{stack}.embed_tokens.weight"] = embed_tokens
        weights[f"{stack}.embed_positions._float_tensor"] = torch.FloatTensor(1)
        weights[f"{stack}.version"] = torch.Tensor([2])
    return weights


def their_args(arch="transformer_iwslt_de_en_macaron_v2", **changes):
    args = argparse.Namespace(
        arch=arch, macaron=True, task="translation", data=["data-bin/iwslt14.tokenized.de-en"],
        source_lang="de", target_lang="en", encoder_normalize_before=True, decoder_normalize_before=True,
        encoder_embed_dim=DIM, encoder_ffn_embed_dim=FFN_DIM, encoder_layers=LAYERS, encoder_attention_heads=HEADS,
        decoder_embed_dim=DIM, decoder_ffn_embed_dim=FFN_DIM, decoder_layers=LAYERS, decoder_attention_heads=HEADS,
        share_all_embeddings=True, share_decoder_input_output_embed=True, dropout=0.3, relu_dropout=0.1,
    )
    vars(args).update(changes)
    return args


def save_their_checkpoint(path, args, weights, **extra):
    checkpoint = {
        "args": args, "model": weights, "extra_state": {"epoch": 3}, "last_optimizer_state": {"state": {}},
        "optimizer_history": [{"criterion_name": "LabelSmoothedCrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": 4.2}, "num_updates": 50}],
        **extra,
    }
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)
    return path


def test_converted_checkpoint_translates_the_test_set_with_fairseq_generate(toy_data_bin, tmp_path):
    vocab = len(Dictionary.load(str(toy_data_bin / "dict.de.txt")))
    theirs = save_their_checkpoint(tmp_path / "theirs.pt", their_args(), their_weights(vocab))
    converted = tmp_path / "converted.pt"

    result = run(["bash", WRAPPER, theirs, converted], env={"VENV": sys.prefix})
    assert re.search(r"\(transformer_iwslt_de_en_macaron_v2, 50 updates\) .* \(macaron_transformer_iwslt_de_en, "
                     r"pre-norm\)", result.stdout), result.stdout
    assert "not carried over: last_optimizer_state, extra_state" in result.stdout

    result = run(fairseq_command(
        "generate", toy_data_bin, "--user-dir", PLUGIN_DIR, "--path", converted, "--gen-subset", "test",
        "--beam", 2, "--max-len-b", 10, "--cpu", "--max-tokens", 1000,
    ))
    assert "Translated 13 sentences" in result.stdout + result.stderr
    assert len(re.findall(r"^H-\d+\t", result.stdout, flags=re.MULTILINE)) == 13


class RunsCodeWhenUnpickled:
    """A payload as an attacker would plant it: unpickling calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_refused_input(case, path):
    if case == "text file":
        path.write_text("this is not a checkpoint\n")
    elif case == "plain transformer":
        args = their_args("transformer_iwslt_de_en")
        del args.macaron
        save_their_checkpoint(path, args, their_weights(20, macaron=False))
    elif case == "wrong shapes":
        save_their_checkpoint(path, their_args(encoder_embed_dim=32, decoder_embed_dim=32), their_weights(20))
    elif case == "planted payload":
        save_their_checkpoint(path, their_args(), their_weights(20), payload=RunsCodeWhenUnpickled(path.parent / "ran"))


@pytest.fixture
def restore_log_level():
    """main() quiets the root logger, as a command does; the rest of the test session keeps its level."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


@pytest.mark.parametrize(
    "case, reason",
    [
        ("text file", "is not a PyTorch checkpoint"),
        ("plain transformer", "'transformer_iwslt_de_en', not one of the authors' Macaron architectures"),
        ("wrong shapes", r"weights do not fit pre-norm macaron_transformer_iwslt_de_en .*wrong shape"),
        ("planted payload", r"refused to load .*\(posix\.system\)"),
    ],
)
def test_refusal_is_one_error_line_and_writes_nothing(tmp_path, capsys, restore_log_level, case, reason):
    write_refused_input(case, tmp_path / "input.pt")
    assert convert_official.main([str(tmp_path / "input.pt"), str(tmp_path / "output.pt")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    assert re.search(reason, err), err
    assert sorted(os.listdir(tmp_path)) == ["input.pt"]  # no output, no partial file, and the payload never ran


def test_module_refuses_a_planted_payload_without_running_it(tmp_path):
    write_refused_input("planted payload", tmp_path / "input.pt")
    result = run(
        [sys.executable, "-m", "macaron_tools.conversion.convert_official", tmp_path / "input.pt",
         tmp_path / "output.pt"],
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: refused to load") and "Traceback" not in result.stderr, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["input.pt"]


def test_wrapper_needs_both_paths():
    result = run(["bash", WRAPPER, "only-one.pt"], check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "IN.pt and OUT.pt" in result.stderr


def test_an_output_it_cannot_write_is_one_line_before_converting(tmp_path):
    theirs = save_their_checkpoint(tmp_path / "theirs.pt", their_args(), their_weights(20))
    result = run(["bash", WRAPPER, theirs, "/proc/converted.pt"], env={"VENV": sys.prefix}, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: the output /proc/converted.pt: cannot write in /proc (") \
        and result.stderr.endswith("): give a folder you can write\n") and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("output, message", [
    ("read-only/converted.pt", "the output {tmp}/read-only/converted.pt: cannot write in {tmp}/read-only (Read-only "
                               "file system): give a folder you can write"),
    ("read-only/new/converted.pt", "the output {tmp}/read-only/new/converted.pt: cannot write in {tmp}/read-only "
                                   "(Read-only file system): give a folder you can write"),
    ("theirs.pt/converted.pt", "the output {tmp}/theirs.pt/converted.pt: {tmp}/theirs.pt is a file, not a folder: "
                               "give another path"),
])
def test_an_output_folder_it_cannot_write_is_refused_in_one_line(tmp_path, capsys, monkeypatch, restore_log_level,
                                                                 output, message):
    theirs = save_their_checkpoint(tmp_path / "theirs.pt", their_args(), their_weights(20))
    (tmp_path / "read-only").mkdir()

    def read_only_file_system(*args, **kwargs):  # what a read-only mount answers every user, root included
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only_file_system)
    assert convert_official.main([str(theirs), str(tmp_path / output)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"error: {message.format(tmp=tmp_path)}\n"
    assert sorted(os.listdir(tmp_path)) == ["read-only", "theirs.pt"] and os.listdir(tmp_path / "read-only") == []


def test_the_output_goes_into_a_folder_of_its_own_made_for_it(tmp_path, capsys, restore_log_level):
    theirs = save_their_checkpoint(tmp_path / "theirs.pt", their_args(), their_weights(20))
    output = tmp_path / "converted" / "iwslt14" / "checkpoint_best.pt"  # as docs/official-checkpoints.md converts
    assert convert_official.main([str(theirs), str(output)]) == 0
    assert os.listdir(output.parent) == ["checkpoint_best.pt"]
