"""The macaron_transformer_lm model and its architectures, each against its fairseq transformer_lm twin."""

import dataclasses
import functools
import os
import subprocess

import pytest
import torch
import torch.nn.functional as F
from fairseq import options
from fairseq.data import Dictionary
from fairseq.models import ARCH_MODEL_NAME_REGISTRY, ARCH_MODEL_REGISTRY
from fairseq.modules import AdaptiveInput, LayerDropModuleList
from fairseq.sequence_generator import SequenceGenerator
from fairseq.tasks.language_modeling import LanguageModelingTask

from conftest import PLUGIN_DIR, fairseq_command, last_checkpoint
from macaron_fairseq.models.macaron_transformer_lm import BASELINE_TWINS, MacaronTransformerLanguageModel
from macaron_fairseq.modules.macaron_layer import MacaronTransformerDecoderLayer
from fairseq_in_process import fairseq_eval_lm, fairseq_train
from monolingual_corpus import english_corpus  # noqa: F401 (a fixture)

REALISTIC_DICTIONARY_SIZE = 50_000
WIKITEXT103_DICTIONARY_SIZE = 267_744
"""WikiText-103's vocabulary: the wiki103 preset's adaptive cutoffs (20,000 and 60,000) need more than 50,000."""

TINY_LM_FLAGS = ["--decoder-layers", 2, "--decoder-embed-dim", 32, "--decoder-ffn-embed-dim", 16,
                 "--decoder-attention-heads", 2, "--tokens-per-sample", 16]


@functools.lru_cache(maxsize=None)
def dictionary_of(size):
    dictionary = Dictionary()
    for i in range(size - dictionary.nspecial):
        dictionary.add_symbol(f"w{i}")
    return dictionary


def build_model(arch, *flags, dictionary=None, device="meta"):
    """Builds ``arch`` as fairseq-train would, from command-line flags, with weights on ``device``."""
    dictionary = dictionary or dictionary_of(
        WIKITEXT103_DICTIONARY_SIZE if "wiki103" in arch else REALISTIC_DICTIONARY_SIZE
    )
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser, ["unused-data-dir", "--task", "language_modeling", "--arch", arch, *map(str, flags)]
    )
    task = LanguageModelingTask(args, dictionary, dictionary)
    with torch.device(device):
        return task.build_model(args)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("macaron_arch", sorted(BASELINE_TWINS))
def test_architecture_matches_its_baseline_twin(macaron_arch):
    baseline_arch, _ = BASELINE_TWINS[macaron_arch]
    assert ARCH_MODEL_NAME_REGISTRY[macaron_arch] == "macaron_transformer_lm"
    assert ARCH_MODEL_REGISTRY[macaron_arch] is MacaronTransformerLanguageModel
    macaron, baseline = build_model(macaron_arch), build_model(baseline_arch)

    # the decoders' configs are the same but for the halved FFN width
    macaron_cfg, baseline_cfg = dataclasses.asdict(macaron.decoder.cfg), dataclasses.asdict(baseline.decoder.cfg)
    assert macaron_cfg["decoder"]["ffn_embed_dim"] * 2 == baseline_cfg["decoder"]["ffn_embed_dim"]
    macaron_cfg["decoder"]["ffn_embed_dim"] = baseline_cfg["decoder"]["ffn_embed_dim"]
    assert macaron_cfg == baseline_cfg
    assert macaron.decoder.cfg.macaron_scheme == "strang" and macaron.decoder.cfg.macaron_ffn_scale == 0.5

    layers = macaron.decoder.layers
    assert all(isinstance(layer, MacaronTransformerDecoderLayer) and layer.encoder_attn is None for layer in layers)
    # each layer adds a LayerNorm (2d) and an FFN output bias (d), the only difference
    excess = parameter_count(macaron) - parameter_count(baseline)
    assert excess == 3 * macaron.decoder.embed_dim * len(layers)
    assert excess / parameter_count(baseline) < 0.001


def test_ffn_width_follows_the_scheme_and_the_command_line():
    assert build_model("macaron_transformer_lm").decoder.cfg.decoder.ffn_embed_dim == 1024
    lie_trotter = build_model("macaron_transformer_lm", "--macaron-scheme", "lie-trotter")
    assert lie_trotter.decoder.cfg.decoder.ffn_embed_dim == 2048
    assert lie_trotter.decoder.layers[0].scheme == "lie-trotter"
    given = build_model("macaron_transformer_lm_gpt", "--decoder-ffn-embed-dim", 300, "--macaron-ffn-scale", 0.7)
    assert given.decoder.cfg.decoder.ffn_embed_dim == 300
    assert [sub_step.coefficient for sub_step in given.decoder.layers[0].sub_steps()] == [0.7, 1.0, 0.7]


def test_non_positive_ffn_scale_is_a_usage_error():
    from macaron_fairseq.errors import MacaronFairseqError

    with pytest.raises(MacaronFairseqError, match="--macaron-ffn-scale must be a finite number above 0"):
        build_model("macaron_transformer_lm", "--macaron-ffn-scale", 0)


@pytest.mark.parametrize("option", ["--scale-attn", "--scale-fc", "--scale-heads", "--scale-resids"])
def test_normformer_options_are_refused_not_ignored(option):
    from macaron_fairseq.errors import MacaronFairseqError

    with pytest.raises(MacaronFairseqError, match=f"^{option} \\(NormFormer\\) is not supported by the Macaron layers"):
        build_model("macaron_transformer_lm", option)


OPTION_VARIANTS = {
    "defaults": [],
    "layerdrop": ["--decoder-layerdrop", 0.5],
    "checkpoint-activations": ["--checkpoint-activations"],
    "quant-noise": ["--quant-noise-pq", 0.1, "--quant-noise-pq-block-size", 4],
    "adaptive-input-softmax": ["--adaptive-input", "--adaptive-input-cutoff", "10,20", "--adaptive-softmax-cutoff",
                               "10,20", "--adaptive-input-factor", 2, "--adaptive-softmax-factor", 2,
                               "--tie-adaptive-weights", "--tie-adaptive-proj"],
    "strang-tied-learnable": ["--macaron-scheme", "strang-tied", "--macaron-learnable-scale"],
}


def training_loss(decoder, net_output, target):
    """Cross-entropy as fairseq's criteria compute it: cross_entropy, or adaptive_loss for an adaptive softmax."""
    if decoder.adaptive_softmax is None:
        lprobs = decoder.get_normalized_probs(net_output, log_probs=True)
        return F.nll_loss(lprobs.flatten(0, 1), target.flatten(), reduction="sum")
    logits, targets = decoder.adaptive_softmax(net_output[0], target.flatten())
    return sum(F.cross_entropy(logit, t, reduction="sum") for logit, t in zip(logits, targets) if logit is not None)


@pytest.mark.parametrize("variant", sorted(OPTION_VARIANTS))
def test_fairseq_lm_options_keep_working(variant):
    torch.manual_seed(0)
    dictionary = dictionary_of(40)
    model = build_model("macaron_transformer_lm_gpt2_tiny", *TINY_LM_FLAGS, *OPTION_VARIANTS[variant],
                        dictionary=dictionary, device="cpu")
    model.train()
    tokens = torch.randint(dictionary.nspecial, len(dictionary), (3, 6))
    net_output = model(tokens)
    decoder, layer = model.decoder, model.decoder.layers[0]
    training_loss(decoder, net_output, tokens).backward()
    with torch.no_grad():
        lprobs = model.get_normalized_probs(net_output, log_probs=True, sample={"target": tokens})
    assert lprobs.shape == (3, 6, len(dictionary)) and torch.isfinite(lprobs).all()

    if variant == "layerdrop":
        assert isinstance(decoder.layers, LayerDropModuleList)
    elif variant == "checkpoint-activations":
        assert hasattr(layer, "precheckpoint_forward")  # fairseq's checkpoint_wrapper
    elif variant == "quant-noise":
        assert layer.macaron_fc1._forward_pre_hooks and layer.fc2._forward_pre_hooks
    elif variant == "adaptive-input-softmax":
        assert isinstance(decoder.embed_tokens, AdaptiveInput) and decoder.adaptive_softmax is not None
    elif variant == "strang-tied-learnable":
        assert not hasattr(layer, "macaron_fc1") and layer.ffn1_step.grad is not None
    if variant != "layerdrop" and variant != "strang-tied-learnable":
        assert layer.macaron_fc1.weight.grad is not None


# The layer against the paper's equations, without cross-attention: x + s*FFN_1 -> x + SelfAttn -> x + s*FFN_2,
# each step's LayerNorm before its branch (pre-norm) or after its sum (post-norm).

def layer_norm(x, norm):
    return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)


def ffn(x, fc1, fc2):
    return F.linear(F.relu(F.linear(x, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def causal_self_attention(x, attn):
    """Multi-head attention of `(time, batch, dim)` inputs over earlier positions, with fairseq's weights."""
    time, batch, dim = x.shape

    def heads(h):  # (time, batch, dim) -> (batch, heads, time, head_dim)
        return h.view(time, batch, attn.num_heads, -1).permute(1, 2, 0, 3)

    q = heads(F.linear(x, attn.q_proj.weight, attn.q_proj.bias)) * attn.head_dim**-0.5
    k = heads(F.linear(x, attn.k_proj.weight, attn.k_proj.bias))
    v = heads(F.linear(x, attn.v_proj.weight, attn.v_proj.bias))
    scores = q @ k.transpose(-1, -2) + torch.triu(torch.full((time, time), float("-inf")), 1)
    out = (scores.softmax(-1) @ v).permute(2, 0, 1, 3).reshape(time, batch, dim)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


def step(x, norm, branch, pre_norm, scale=1.0):
    if pre_norm:
        return x + scale * branch(layer_norm(x, norm))
    return layer_norm(x + scale * branch(x), norm)


def reference_lm_layer(x, layer, pre_norm, s):
    x = step(x, layer.macaron_layer_norm, lambda h: ffn(h, layer.macaron_fc1, layer.macaron_fc2), pre_norm, s)
    x = step(x, layer.self_attn_layer_norm, lambda h: causal_self_attention(h, layer.self_attn), pre_norm)
    return step(x, layer.final_layer_norm, lambda h: ffn(h, layer.fc1, layer.fc2), pre_norm, s)


@pytest.mark.parametrize("arch, pre_norm", [("macaron_transformer_lm", False), ("macaron_transformer_lm_gpt", True)],
                         ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("ffn_scale", [0.5, 0.8])
def test_layer_matches_the_equations(arch, pre_norm, ffn_scale):
    torch.manual_seed(0)
    model = build_model(arch, *TINY_LM_FLAGS, "--activation-fn", "relu", "--dropout", 0, "--attention-dropout", 0,
                        "--macaron-ffn-scale", ffn_scale, dictionary=dictionary_of(20), device="cpu")
    layer = model.decoder.layers[0].eval()
    assert layer.normalize_before == pre_norm
    for parameter in layer.parameters():  # LayerNorms start at 1 and 0, which would hide a misplaced one
        torch.nn.init.normal_(parameter, std=0.3)
    x = torch.randn(5, 2, 32)
    future_mask = torch.triu(torch.full((5, 5), float("-inf")), 1)
    output, attention, _ = layer(x, self_attn_mask=future_mask)
    assert attention is None
    torch.testing.assert_close(output, reference_lm_layer(x, layer, pre_norm, ffn_scale), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ["macaron_transformer_lm", "macaron_transformer_lm_gpt2_tiny"],
                         ids=["post-norm", "pre-norm"])
def test_incremental_decoding_scores_equal_full_prefix_scores(arch):
    """Beam search decodes incrementally; rescoring its hypotheses with the whole prefix at once must agree."""
    torch.manual_seed(0)
    dictionary = dictionary_of(30)
    model = build_model(arch, *TINY_LM_FLAGS, dictionary=dictionary, device="cpu").eval()
    prefix = torch.randint(dictionary.nspecial, len(dictionary), (2, 3))
    sample = {"net_input": {"src_tokens": prefix, "src_lengths": torch.full((2,), 3)}}
    generator = SequenceGenerator([model], dictionary, beam_size=3, max_len_b=8)
    with torch.no_grad():
        hypotheses = generator.generate([model], sample, prefix_tokens=prefix)
        for sentence_hypotheses in hypotheses:
            for hypothesis in sentence_hypotheses:
                target = hypothesis["tokens"].unsqueeze(0)
                prev_tokens = torch.cat([torch.tensor([[dictionary.eos()]]), target[:, :-1]], dim=1)
                lprobs = model.get_normalized_probs(model(prev_tokens), log_probs=True)
                full_prefix_scores = lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1).squeeze(0)
                torch.testing.assert_close(hypothesis["positional_scores"], full_prefix_scores,
                                           atol=1e-5, rtol=1e-5)


# fairseq's command-line tools, end to end

class RunsCodeWhenUnpickled:
    """A payload as an attacker would plant it: unpickling calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def trained_lm(english_corpus, tmp_path_factory):
    """A tiny macaron_transformer_lm that fairseq-train trained for 2 updates, then fairseq-eval-lm on its checkpoint
    (both in this process; eval_lm holds its log lines) and, at the same time, on a copy with a payload planted (a
    process): {data_bin, save_dir, eval_lm, planted, planted_eval_lm, marker}."""
    data_bin, _ = english_corpus
    root = tmp_path_factory.mktemp("lm")
    save_dir = root / "checkpoints"
    fairseq_train(
        data_bin, "--user-dir", PLUGIN_DIR, "--task", "language_modeling",
        "--arch", "macaron_transformer_lm_gpt2_tiny", *TINY_LM_FLAGS, "--max-tokens", 256,
        "--optimizer", "adam", "--lr", 1e-3, "--max-update", 2, "--save-dir", save_dir, "--no-epoch-checkpoints",
        "--cpu", "--seed", 1, "--log-format", "simple", "--num-workers", 0,
    )

    state = torch.load(save_dir / "checkpoint_last.pt", weights_only=True)
    marker = root / "code-ran"
    state["extra_state"]["payload"] = RunsCodeWhenUnpickled(marker)
    planted = root / "planted.pt"
    torch.save(state, planted)
    # the refusal needs a process of its own (its one-line error is printed at the process's top); it runs while
    # fairseq-eval-lm scores the trained checkpoint here
    planted_eval_lm = subprocess.Popen(
        fairseq_command("eval-lm", data_bin, "--user-dir", PLUGIN_DIR, "--path", planted, "--cpu"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eval_lm = fairseq_eval_lm(data_bin, "--user-dir", PLUGIN_DIR, "--path", save_dir / "checkpoint_last.pt",
                                  "--gen-subset", "test", "--tokens-per-sample", 16, "--cpu")
    finally:
        stdout, stderr = planted_eval_lm.communicate(timeout=600)
    planted_eval_lm = subprocess.CompletedProcess(planted_eval_lm.args, planted_eval_lm.returncode, stdout, stderr)
    return {"data_bin": data_bin, "save_dir": save_dir, "eval_lm": eval_lm, "planted": planted,
            "planted_eval_lm": planted_eval_lm, "marker": marker}


def test_fairseq_train_and_eval_lm(trained_lm):
    updates, weights = last_checkpoint(trained_lm["save_dir"])
    assert updates == 2
    assert "decoder.layers.1.macaron_fc1.weight" in weights
    assert weights["decoder.layers.0.fc1.weight"].shape == (16, 32)
    assert any("Perplexity:" in line for line in trained_lm["eval_lm"])


def test_fairseq_eval_lm_refuses_planted_checkpoint_in_one_line(trained_lm):
    result, planted = trained_lm["planted_eval_lm"], trained_lm["planted"]
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: refused to load {planted}")
    assert "Traceback" not in result.stderr
    assert not trained_lm["marker"].exists()
