"""Converting the authors' checkpoints (their fairseq v0.6 fork) for the plugin.

Their released files cannot be fetched here, so the tests write checkpoints in their format from a small reference
of their model, written from the layer equations and their key names (docs/official-checkpoints.md):

    encoder layer:  x + 0.5*FFN_macaron(x) -> x + SelfAttn(x) -> x + 0.5*FFN(x)
                    LayerNorms in layer_norms.0 (attention), .1 (FFN), .2 (Macaron FFN)
    decoder layer:  x + 0.5*FFN_macaron(x) -> x + SelfAttn(x) -> x + CrossAttn(x) -> x + 0.5*FFN(x)

with fused q/k/v attention weights (in_proj_weight), pre-norm (their "_v2") or post-norm, and random weights. The
converted checkpoint, loaded by fairseq's loader into the plugin's model, must compute what the reference computes.
"""

import argparse
import math
import os
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq import checkpoint_utils
from fairseq.data import Dictionary
from fairseq.tasks.translation import TranslationTask

from macaron_fairseq.checkpoint.safe_load import CheckpointError
from macaron_tools.conversion.errors import NotAMacaronCheckpoint, NotAnOfficialCheckpoint, ShapeMismatch
from macaron_tools.conversion.official import convert_official_checkpoint
from macaron_tools.conversion.official_args import plugin_training_args
from macaron_tools.files import OutputFileError

DIM, HEADS, FFN_DIM, LAYERS, VOCAB = 16, 2, 8, 2, 20
PAD, EOS = 1, 2  # fairseq's dictionary: <s> <pad> </s> <unk>, then words


# --- their model, from the equations ---------------------------------------------------------------------------


class FusedAttention(nn.Module):
    """Multi-head attention with q, k and v projections stacked in one [3d, d] ``in_proj_weight``."""

    def __init__(self):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * DIM, DIM))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * DIM))
        self.out_proj = nn.Linear(DIM, DIM)

    def forward(self, query, memory, causal=False):
        """query (tgt_len, batch, dim), memory (src_len, batch, dim) -> (tgt_len, batch, dim)."""
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q = split_heads(F.linear(query, w_q, b_q))
        k = split_heads(F.linear(memory, w_k, b_k))
        v = split_heads(F.linear(memory, w_v, b_v))
        scores = q @ k.transpose(1, 2) / math.sqrt(DIM // HEADS)  # (batch*heads, tgt_len, src_len)
        if causal:
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
        heads = scores.softmax(dim=-1) @ v  # (batch*heads, tgt_len, head_dim)
        tgt_len, batch, _ = query.shape
        return self.out_proj(heads.transpose(0, 1).reshape(tgt_len, batch, DIM))


def split_heads(x):
    """(length, batch, dim) -> (batch*heads, length, head_dim)"""
    length, batch, _ = x.shape
    return x.reshape(length, batch * HEADS, DIM // HEADS).transpose(0, 1)


def ffn(fc1, fc2):
    return lambda x: fc2(F.relu(fc1(x)))


class ResidualSteps(nn.Module):
    def __init__(self, pre_norm):
        super().__init__()
        self.pre_norm = pre_norm

    def step(self, x, norm, branch, scale=1.0):
        """x + scale*branch(x), normalized before the branch (pre-norm) or after the sum (post-norm)."""
        if self.pre_norm:
            return x + scale * branch(norm(x))
        return norm(x + scale * branch(x))


class TheirEncoderLayer(ResidualSteps):
    def __init__(self, pre_norm):
        super().__init__(pre_norm)
        self.self_attn = FusedAttention()
        self.fc1, self.fc2 = nn.Linear(DIM, FFN_DIM), nn.Linear(FFN_DIM, DIM)
        self.macaron_fc1, self.macaron_fc2 = nn.Linear(DIM, FFN_DIM), nn.Linear(FFN_DIM, DIM)
        self.layer_norms = nn.ModuleList(nn.LayerNorm(DIM) for _ in range(3))

    def forward(self, x):
        attention_norm, ffn_norm, macaron_norm = self.layer_norms  # numbered as theirs, not in running order
        x = self.step(x, macaron_norm, ffn(self.macaron_fc1, self.macaron_fc2), scale=0.5)
        x = self.step(x, attention_norm, lambda h: self.self_attn(h, h))
        return self.step(x, ffn_norm, ffn(self.fc1, self.fc2), scale=0.5)


class TheirDecoderLayer(ResidualSteps):
    def __init__(self, pre_norm):
        super().__init__(pre_norm)
        self.self_attn, self.self_attn_layer_norm = FusedAttention(), nn.LayerNorm(DIM)
        self.encoder_attn, self.encoder_attn_layer_norm = FusedAttention(), nn.LayerNorm(DIM)
        self.fc1, self.fc2 = nn.Linear(DIM, FFN_DIM), nn.Linear(FFN_DIM, DIM)
        self.final_layer_norm = nn.LayerNorm(DIM)
        # their decoder sizes this FFN by encoder_ffn_embed_dim, equal to the decoder's here as in every preset
        self.macaron_fc1, self.macaron_fc2 = nn.Linear(DIM, FFN_DIM), nn.Linear(FFN_DIM, DIM)
        self.macaron_layer_norm = nn.LayerNorm(DIM)

    def forward(self, x, encoder_out):
        x = self.step(x, self.macaron_layer_norm, ffn(self.macaron_fc1, self.macaron_fc2), scale=0.5)
        x = self.step(x, self.self_attn_layer_norm, lambda h: self.self_attn(h, h, causal=True))
        x = self.step(x, self.encoder_attn_layer_norm, lambda h: self.encoder_attn(h, encoder_out))
        return self.step(x, self.final_layer_norm, ffn(self.fc1, self.fc2), scale=0.5)


class SinusoidalPositions(nn.Module):
    """fairseq's sinusoidal positions: sines then cosines, counted from PAD + 1."""

    def __init__(self):
        super().__init__()
        self.register_buffer("_float_tensor", torch.FloatTensor(1))  # fairseq v0.6's device marker

    def forward(self, tokens):
        """tokens (batch, length) without padding -> (length, dim), the same for every sentence."""
        half = DIM // 2
        frequencies = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
        angles = torch.arange(PAD + 1, PAD + 1 + tokens.size(1))[:, None] * frequencies[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)


class TheirStack(nn.Module):
    def __init__(self, embed_tokens, layer, pre_norm):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.embed_positions = SinusoidalPositions()
        self.layers = nn.ModuleList(layer(pre_norm) for _ in range(LAYERS))
        self.layer_norm = nn.LayerNorm(DIM) if pre_norm else None  # a pre-norm stack ends with a LayerNorm
        self.register_buffer("version", torch.Tensor([2]))

    def run(self, tokens, *memory):
        """tokens (batch, length) -> (length, batch, dim)"""
        x = math.sqrt(DIM) * self.embed_tokens(tokens) + self.embed_positions(tokens)
        x = x.transpose(0, 1)
        for layer in self.layers:
            x = layer(x, *memory)
        return self.layer_norm(x) if self.layer_norm is not None else x


class TheirModel(nn.Module):
    """Their Macaron model with shared embeddings; ``state_dict()`` has their key names."""

    def __init__(self, pre_norm):
        super().__init__()
        embed_tokens = nn.Embedding(VOCAB, DIM, padding_idx=PAD)
        self.encoder = TheirStack(embed_tokens, TheirEncoderLayer, pre_norm)
        self.decoder = TheirStack(embed_tokens, TheirDecoderLayer, pre_norm)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.normal_(0.0, 0.5)  # LayerNorms too, so that a LayerNorm in the wrong place shows

    def forward(self, src_tokens, prev_output_tokens):
        """-> encoder output (src_len, batch, dim), next-token log-probabilities (batch, tgt_len, vocab)"""
        encoder_out = self.encoder.run(src_tokens)
        x = self.decoder.run(prev_output_tokens, encoder_out).transpose(0, 1)
        return encoder_out, F.linear(x, self.decoder.embed_tokens.weight).log_softmax(dim=-1)


def their_args(arch, pre_norm, **changes):
    """An argparse Namespace like the one in their checkpoints."""
    args = argparse.Namespace(
        arch=arch, macaron=True, task="translation", data=["data-bin/iwslt14.tokenized.de-en"],
        source_lang="de", target_lang="en", left_pad_source="True", left_pad_target="False",
        encoder_embed_dim=DIM, encoder_ffn_embed_dim=FFN_DIM, encoder_layers=LAYERS, encoder_attention_heads=HEADS,
        decoder_embed_dim=DIM, decoder_ffn_embed_dim=FFN_DIM, decoder_layers=LAYERS, decoder_attention_heads=HEADS,
        decoder_input_dim=DIM, decoder_output_dim=DIM,
        encoder_normalize_before=pre_norm, decoder_normalize_before=pre_norm,
        encoder_learned_pos=False, decoder_learned_pos=False, no_token_positional_embeddings=False,
        share_all_embeddings=True, share_decoder_input_output_embed=True,
        adaptive_softmax_cutoff=None, adaptive_softmax_dropout=0,
        dropout=0.3, attention_dropout=0.1, relu_dropout=0.1, max_source_positions=1024, max_target_positions=1024,
        criterion="label_smoothed_cross_entropy", label_smoothing=0.1, optimizer="adam", adam_betas="(0.9, 0.98)",
        lr=[0.0015], lr_scheduler="inverse_sqrt", warmup_updates=8000, warmup_init_lr=1e-07, seed=1,
    )
    vars(args).update(changes)
    return args


def save_their_checkpoint(path, args, weights):
    torch.save(
        {
            "args": args,
            "model": weights,
            "optimizer_history": [{
                "criterion_name": "LabelSmoothedCrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": 3.95}, "num_updates": 1234,
            }],
            "extra_state": {"epoch": 7, "val_loss": 3.95, "train_iterator": {"epoch": 7, "iterations_in_epoch": 0}},
            "last_optimizer_state": {
                "state": {0: {"step": 1234, "exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-3, "params": [0]}],
            },
        },
        path,
        _use_new_zipfile_serialization=False,  # the format torch 1.0, which fairseq v0.6 ran on, wrote
    )
    return path


# --- the plugin's side ---------------------------------------------------------------------------------------


def load_with_plugin(path):
    """The converted checkpoint through fairseq's loader, as fairseq-generate loads it."""
    dictionary = Dictionary()
    for index in range(len(dictionary), VOCAB):
        dictionary.add_symbol(f"word{index}")
    cfg = checkpoint_utils.load_checkpoint_to_cpu(str(path))["cfg"]
    task = TranslationTask(cfg.task, dictionary, dictionary)
    [model], _ = checkpoint_utils.load_model_ensemble([str(path)], task=task)
    return model.eval()


def plugin_outputs(model, src_tokens, prev_output_tokens):
    """-> encoder output, log-probabilities of every next token, those of the last one decoded step by step"""
    encoder_out = model.encoder(src_tokens, src_lengths=torch.full((src_tokens.size(0),), src_tokens.size(1)))
    decoded = model.decoder(prev_output_tokens, encoder_out=encoder_out)
    incremental_state = {}  # as fairseq-generate decodes: one token a step, attention keys and values cached
    for length in range(1, prev_output_tokens.size(1) + 1):
        prefix = prev_output_tokens[:, :length]
        step = model.decoder(prefix, encoder_out=encoder_out, incremental_state=incremental_state)
    return (
        encoder_out["encoder_out"][0],
        model.get_normalized_probs(decoded, log_probs=True),
        model.get_normalized_probs(step, log_probs=True)[:, -1],
    )


@pytest.mark.parametrize(
    "arch, pre_norm",
    [
        ("transformer_iwslt_de_en_macaron_v2", True),
        ("transformer_wmt_en_de_macaron", False),
        ("transformer_wmt_en_de_big_t2t_macaron", True),
    ],
)
def test_converted_model_computes_what_theirs_computes(tmp_path, arch, pre_norm):
    torch.manual_seed(0)
    theirs = TheirModel(pre_norm).eval()
    path = save_their_checkpoint(tmp_path / "theirs.pt", their_args(arch, pre_norm), theirs.state_dict())
    convert_official_checkpoint(path, tmp_path / "converted.pt")
    model = load_with_plugin(tmp_path / "converted.pt")

    src_tokens = torch.randint(4, VOCAB, (3, 7))
    src_tokens[:, -1] = EOS
    prev_output_tokens = torch.randint(4, VOCAB, (3, 5))
    prev_output_tokens[:, 0] = EOS
    with torch.no_grad():
        their_encoder_out, their_log_probs = theirs(src_tokens, prev_output_tokens)
        encoder_out, log_probs, last_step_log_probs = plugin_outputs(model, src_tokens, prev_output_tokens)
    assert model.encoder.layer_norm is not None if pre_norm else model.encoder.layer_norm is None
    assert model.decoder.layer_norm is not None if pre_norm else model.decoder.layer_norm is None
    torch.testing.assert_close(encoder_out, their_encoder_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(log_probs, their_log_probs, atol=1e-5, rtol=0)
    torch.testing.assert_close(last_step_log_probs, their_log_probs[:, -1], atol=1e-5, rtol=0)


def test_converted_checkpoint_keeps_their_settings_and_drops_optimizer_state(tmp_path):
    path = save_their_checkpoint(
        tmp_path / "theirs.pt", their_args("transformer_iwslt_de_en_macaron_v2", True), TheirModel(True).state_dict()
    )
    conversion = convert_official_checkpoint(path, tmp_path / "converted.pt")
    assert (conversion.arch, conversion.pre_norm) == ("macaron_transformer_iwslt_de_en", True)
    assert conversion.num_updates == 1234
    assert conversion.dropped == ("last_optimizer_state", "extra_state")

    state = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "converted.pt"))
    model_cfg = state["cfg"].model
    assert model_cfg.arch == "macaron_transformer_iwslt_de_en" and model_cfg.macaron_ffn_scale == 0.5
    assert (model_cfg.dropout, model_cfg.attention_dropout, model_cfg.activation_dropout) == (0.3, 0.1, 0.1)
    assert (state["cfg"].task.source_lang, state["cfg"].task.target_lang) == ("de", "en")
    assert "last_optimizer_state" not in state
    assert state["optimizer_history"][-1]["num_updates"] == 1234
    weights = state["model"]
    assert "encoder.layers.0.self_attn.q_proj.weight" in weights
    assert not any("in_proj" in key or "layer_norms" in key or "_float_tensor" in key for key in weights)
    # fairseq 0.12 drops the final LayerNorm of a decoder whose version is 2 or less, as theirs is
    assert weights["decoder.version"].item() > 2


class AverageMeter:
    """Their fairseq.meters classes' fields, as their trainer saves them (fairseq v0.6's meters.py)."""

    def __init__(self):
        self.val, self.avg, self.sum, self.count = 2.5, 3.1, 310.0, 100


class TimeMeter:
    def __init__(self):
        self.init, self.start, self.n = 0, 1554000000.5, 1234


class StopwatchMeter:
    def __init__(self):
        self.sum, self.n, self.start_time = 812.4, 1234, None


def test_a_checkpoint_with_their_trainers_meters_converts_and_the_meters_are_dropped(tmp_path, monkeypatch):
    """Their Trainer.save_checkpoint stores extra_state['train_meters']; average_checkpoints.py keeps it."""
    their_meters_module = type(sys)("fairseq.meters")
    for meter in (AverageMeter, TimeMeter, StopwatchMeter):
        meter.__module__ = "fairseq.meters"  # pickled by the name their fairseq gave it
        setattr(their_meters_module, meter.__name__, meter)
    monkeypatch.setitem(sys.modules, "fairseq.meters", their_meters_module)
    path = tmp_path / "theirs.pt"
    state = {
        "args": their_args("transformer_iwslt_de_en_macaron_v2", True), "model": TheirModel(True).state_dict(),
        "optimizer_history": [{"criterion_name": "LabelSmoothedCrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": 3.95}, "num_updates": 1234}],
        "extra_state": {"epoch": 7, "val_loss": 3.95, "train_iterator": {"epoch": 7, "iterations_in_epoch": 0},
                        "train_meters": {"train_loss": AverageMeter(), "wps": TimeMeter(), "wall": StopwatchMeter()}},
        "last_optimizer_state": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]},
    }
    torch.save(state, path, _use_new_zipfile_serialization=False)
    monkeypatch.delitem(sys.modules, "fairseq.meters")  # fairseq 0.12 has no such module

    conversion = convert_official_checkpoint(path, tmp_path / "converted.pt")
    assert conversion.num_updates == 1234 and "extra_state" in conversion.dropped
    converted = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "converted.pt"))
    assert "train_meters" not in converted.get("extra_state", {})
    # and nothing of theirs became loadable elsewhere: the plugin's own loads still refuse the meters
    with pytest.raises(CheckpointError, match=r"fairseq\.meters\.AverageMeter"):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))


@pytest.mark.parametrize(
    "arch, twin, dim, heads, ffn_dim, pre_norm",
    [
        ("transformer_iwslt_de_en_macaron_v2", "macaron_transformer_iwslt_de_en", 512, 4, 512, True),
        ("transformer_iwslt_de_en_macaron", "macaron_transformer_iwslt_de_en", 512, 4, 512, False),
        ("transformer_wmt_en_de_macaron_v2", "macaron_transformer_wmt_en_de", 512, 8, 1024, True),
        ("transformer_wmt_en_de_macaron", "macaron_transformer_wmt_en_de", 512, 8, 1024, False),
        ("transformer_wmt_en_de_big_t2t_macaron", "macaron_transformer_wmt_en_de_big_t2t", 1024, 16, 2048, True),
    ],
)
def test_their_architecture_names_map_to_the_twins_with_the_paper_shapes(arch, twin, dim, heads, ffn_dim, pre_norm):
    args = plugin_training_args(argparse.Namespace(arch=arch, macaron=True))
    assert args.arch == twin
    assert (args.encoder_embed_dim, args.decoder_embed_dim) == (dim, dim)
    assert (args.encoder_attention_heads, args.decoder_attention_heads) == (heads, heads)
    assert (args.encoder_ffn_embed_dim, args.decoder_ffn_embed_dim) == (ffn_dim, ffn_dim)
    assert (args.encoder_layers, args.decoder_layers) == (6, 6)
    assert (args.encoder_normalize_before, args.decoder_normalize_before) == (pre_norm, pre_norm)


def test_their_explicit_values_win_over_the_preset():
    args = plugin_training_args(argparse.Namespace(
        arch="transformer_wmt_en_de_big_t2t_macaron", macaron="new", encoder_normalize_before=False,
        decoder_normalize_before=False, decoder_embed_dim=256, encoder_embed_dim=256, encoder_ffn_embed_dim=300,
    ))
    assert (args.encoder_normalize_before, args.decoder_normalize_before) == (False, False)
    assert (args.encoder_embed_dim, args.encoder_ffn_embed_dim, args.encoder_attention_heads) == (256, 300, 16)
    # as in fairseq, what follows from an explicit value follows from it, not from the preset
    assert (args.decoder_input_dim, args.decoder_output_dim, args.decoder_ffn_embed_dim) == (256, 256, 2048)


# --- refusals ----------------------------------------------------------------------------------------------------


def without_macaron_ffn(weights):
    return {key: value for key, value in weights.items() if ".macaron_" not in key}


class RunsCodeWhenUnpickled:
    """A payload as an attacker would plant it: unpickling calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def refused_inputs():
    """pytest params: a function writing the input file, the error expected, a pattern of its message."""
    iwslt = "transformer_iwslt_de_en_macaron_v2"

    def pre_norm_weights():
        return TheirModel(True).state_dict()

    def text_file(path):
        path.write_text("de en\nhallo hello\n")

    def bare_tensor(path):
        torch.save(torch.zeros(3), path)

    def plain_transformer(path):
        args = their_args("transformer_iwslt_de_en", True)
        del args.macaron
        save_their_checkpoint(path, args, without_macaron_ffn(pre_norm_weights()))

    def macaron_name_plain_weights(path):
        save_their_checkpoint(path, their_args(iwslt, True), without_macaron_ffn(pre_norm_weights()))

    def macaron_switched_off(path):
        save_their_checkpoint(path, their_args(iwslt, True, macaron=False), pre_norm_weights())

    def wider_ffn_in_args(path):
        save_their_checkpoint(
            path, their_args(iwslt, True, encoder_ffn_embed_dim=12, decoder_ffn_embed_dim=12), pre_norm_weights()
        )

    def post_norm_args_for_pre_norm_weights(path):
        save_their_checkpoint(path, their_args("transformer_iwslt_de_en_macaron", False), pre_norm_weights())

    def decoder_ffn_differs(path):
        save_their_checkpoint(path, their_args(iwslt, True, decoder_ffn_embed_dim=12), pre_norm_weights())

    def planted_payload(path):
        state = {"args": their_args(iwslt, True), "model": pre_norm_weights()}
        state["extra_state"] = {"payload": RunsCodeWhenUnpickled(path.parent / "code-ran")}
        torch.save(state, path, _use_new_zipfile_serialization=False)

    return [
        pytest.param(text_file, NotAnOfficialCheckpoint, "is not a PyTorch checkpoint", id="text file"),
        pytest.param(bare_tensor, NotAnOfficialCheckpoint, "has no 'model' state dict", id="bare tensor"),
        pytest.param(plain_transformer, NotAMacaronCheckpoint, "'transformer_iwslt_de_en', not one of",
                     id="plain transformer"),
        pytest.param(macaron_name_plain_weights, NotAMacaronCheckpoint, "no Macaron FFN",
                     id="Macaron name, plain weights"),
        pytest.param(macaron_switched_off, NotAMacaronCheckpoint, "macaron option is False",
                     id="macaron switched off"),
        pytest.param(wider_ffn_in_args, ShapeMismatch, r"fc1\.weight is \(8, 16\), not \(12, 16\)",
                     id="wrong FFN width"),
        pytest.param(post_norm_args_for_pre_norm_weights, ShapeMismatch,
                     r"post-norm .* not in the model \(encoder\.layer_norm", id="wrong norm placement"),
        pytest.param(decoder_ffn_differs, ShapeMismatch, "their decoder's first FFN", id="decoder FFN differs"),
        pytest.param(planted_payload, CheckpointError, r"refused to load .*\(posix\.system\)",
                     id="planted payload"),
    ]


@pytest.mark.parametrize("write_input, error, message", refused_inputs())
def test_refused_input_leaves_no_output(tmp_path, write_input, error, message):
    write_input(tmp_path / "input.pt")
    with pytest.raises(error, match=message) as refusal:
        convert_official_checkpoint(tmp_path / "input.pt", tmp_path / "output.pt")
    assert "\n" not in str(refusal.value) and "input.pt" in str(refusal.value)
    assert sorted(os.listdir(tmp_path)) == ["input.pt"]  # no output, no partial file, and the payload never ran


def test_converting_a_converted_checkpoint_is_refused(tmp_path):
    path = save_their_checkpoint(
        tmp_path / "theirs.pt", their_args("transformer_wmt_en_de_macaron", False), TheirModel(False).state_dict()
    )
    convert_official_checkpoint(path, tmp_path / "converted.pt")
    with pytest.raises(NotAnOfficialCheckpoint, match="fairseq-generate --user-dir macaron_fairseq loads it"):
        convert_official_checkpoint(tmp_path / "converted.pt", tmp_path / "twice.pt")
    assert not (tmp_path / "twice.pt").exists()


def test_a_failed_write_is_one_error_and_leaves_no_partial_output(tmp_path):
    path = save_their_checkpoint(
        tmp_path / "theirs.pt", their_args("transformer_wmt_en_de_macaron", False), TheirModel(False).state_dict()
    )
    output = tmp_path / "converted.pt"
    # the converter's temporary file made a link to /dev/full, where every write fails as on a full disk
    os.symlink("/dev/full", f"{output}.partial{os.getpid()}")
    with pytest.raises(OutputFileError, match=rf"^cannot write {output} \(No space left on device\): free space on "
                                              rf"its disk, or give a path on another; nothing half-written"):
        convert_official_checkpoint(path, output)
    assert sorted(os.listdir(tmp_path)) == ["theirs.pt"]
