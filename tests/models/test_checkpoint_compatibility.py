"""Checkpoints written before the layers' sub-steps became modules load unchanged and compute the paper's layers.

The state-dict keys below, and their order, are those the layers had then, written out once from a model of each
scheme (the order of the parameters among them is the order of an optimizer's state, which a resumed run reads).
A layer given tensors under those names computes its scheme's equations from them, each written out here
independently of the layer's code:

    strang:               x + s*FFN_1(x) -> x + SelfAttn(x) -> x + CrossAttn(x) -> x + s*FFN_2(x)
    strang-tied:          the same, FFN_1 = FFN_2 = fc1, fc2, a LayerNorm each
    lie-trotter:          x + SelfAttn(x) -> x + CrossAttn(x) -> x + FFN(x)
    reversed-lie-trotter: x + FFN(x) -> x + SelfAttn(x) -> x + CrossAttn(x)
"""

import pytest
import torch
import torch.nn.functional as F
from fairseq import options
from fairseq.data import Dictionary
from fairseq.models.transformer import TransformerConfig
from fairseq.tasks.translation import TranslationTask

from macaron_fairseq.modules.macaron_layer import MacaronTransformerDecoderLayer, MacaronTransformerEncoderLayer

EMBED_DIM, FFN_DIM, HEADS = 16, 8, 2

SELF_ATTN = [
    "self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight", "self_attn.v_proj.bias",
    "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
    "self_attn_layer_norm.weight", "self_attn_layer_norm.bias",
]
ENCODER_ATTN = [
    "encoder_attn.k_proj.weight", "encoder_attn.k_proj.bias", "encoder_attn.v_proj.weight",
    "encoder_attn.v_proj.bias", "encoder_attn.q_proj.weight", "encoder_attn.q_proj.bias",
    "encoder_attn.out_proj.weight", "encoder_attn.out_proj.bias",
    "encoder_attn_layer_norm.weight", "encoder_attn_layer_norm.bias",
]
FFN = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "final_layer_norm.weight", "final_layer_norm.bias"]
MACARON_FFN = ["macaron_fc1.weight", "macaron_fc1.bias", "macaron_fc2.weight", "macaron_fc2.bias"]
MACARON_NORM = ["macaron_layer_norm.weight", "macaron_layer_norm.bias"]

TODAYS_LAYER_KEYS = {
    # (scheme, learnable scale): (encoder layer keys, decoder layer keys), in state-dict order
    ("strang", False): (SELF_ATTN + FFN + MACARON_FFN + MACARON_NORM,
                        SELF_ATTN + ENCODER_ATTN + FFN + MACARON_FFN + MACARON_NORM),
    ("strang-tied", False): (SELF_ATTN + FFN + MACARON_NORM, SELF_ATTN + ENCODER_ATTN + FFN + MACARON_NORM),
    ("lie-trotter", False): (SELF_ATTN + FFN, SELF_ATTN + ENCODER_ATTN + FFN),
    ("reversed-lie-trotter", False): (SELF_ATTN + FFN, SELF_ATTN + ENCODER_ATTN + FFN),
    ("strang", True): (["ffn1_step", "self_attn_step", "ffn2_step"] + SELF_ATTN + FFN + MACARON_FFN + MACARON_NORM,
                       ["ffn1_step", "self_attn_step", "encoder_attn_step", "ffn2_step"]
                       + SELF_ATTN + ENCODER_ATTN + FFN + MACARON_FFN + MACARON_NORM),
    ("strang-tied", True): (["ffn1_step", "self_attn_step", "ffn2_step"] + SELF_ATTN + FFN + MACARON_NORM,
                            ["ffn1_step", "self_attn_step", "encoder_attn_step", "ffn2_step"]
                            + SELF_ATTN + ENCODER_ATTN + FFN + MACARON_NORM),
    ("reversed-lie-trotter", True): (["ffn_step", "self_attn_step"] + SELF_ATTN + FFN,
                                     ["ffn_step", "self_attn_step", "encoder_attn_step"]
                                     + SELF_ATTN + ENCODER_ATTN + FFN),
}

CASES = [
    # (scheme, pre-norm, learnable scale)
    ("strang", True, False), ("strang", False, False), ("strang-tied", True, False), ("strang-tied", False, False),
    ("lie-trotter", False, False), ("lie-trotter", True, False), ("reversed-lie-trotter", True, False),
    ("reversed-lie-trotter", False, False), ("strang", True, True), ("strang", False, True),
    ("strang-tied", True, True), ("reversed-lie-trotter", False, True),
]
CASE_IDS = [f"{scheme}-{'pre' if pre else 'post'}-norm{'-learnable' if learnable else ''}"
            for scheme, pre, learnable in CASES]


def todays_model_keys(scheme, pre_norm, learnable_scale, layers=2):
    """The state-dict keys of a ``--share-all-embeddings`` model of ``layers`` + ``layers``, in order."""
    encoder_layer, decoder_layer = TODAYS_LAYER_KEYS[scheme, learnable_scale]
    final_norm = ["layer_norm.weight", "layer_norm.bias"] if pre_norm else []

    def stack(name, layer_keys, extra=()):
        return ([f"{name}.version", f"{name}.embed_tokens.weight"]
                + [f"{name}.layers.{i}.{key}" for i in range(layers) for key in layer_keys]
                + [f"{name}.{key}" for key in final_norm] + list(extra))

    return stack("encoder", encoder_layer) + stack("decoder", decoder_layer, ["decoder.output_projection.weight"])


def todays_parameter_names(scheme, pre_norm, learnable_scale):
    """The parameters among those keys, in the order ``named_parameters`` (and an optimizer) sees them: the
    decoder's embeddings are the encoder's."""
    shared = {"decoder.embed_tokens.weight", "decoder.output_projection.weight"}
    return [key for key in todays_model_keys(scheme, pre_norm, learnable_scale)
            if not key.endswith(".version") and key not in shared]


def build_model(scheme, pre_norm, learnable_scale):
    dictionary = Dictionary()
    for i in range(20):
        dictionary.add_symbol(f"w{i}")
    flags = ["unused-data-dir", "--task", "translation", "--source-lang", "de", "--target-lang", "en",
             "--arch", "macaron_transformer", "--encoder-layers", 2, "--decoder-layers", 2,
             "--encoder-embed-dim", EMBED_DIM, "--decoder-embed-dim", EMBED_DIM, "--encoder-ffn-embed-dim", FFN_DIM,
             "--decoder-ffn-embed-dim", FFN_DIM, "--encoder-attention-heads", HEADS,
             "--decoder-attention-heads", HEADS, "--share-all-embeddings", "--macaron-scheme", scheme,
             *(["--encoder-normalize-before", "--decoder-normalize-before"] if pre_norm else []),
             *(["--macaron-learnable-scale"] if learnable_scale else [])]
    args = options.parse_args_and_arch(options.get_training_parser(), [str(flag) for flag in flags])
    return TranslationTask(args, dictionary, dictionary).build_model(args)


@pytest.mark.parametrize("scheme, pre_norm, learnable_scale", CASES, ids=CASE_IDS)
def test_the_model_has_todays_state_dict_keys_and_parameter_order(scheme, pre_norm, learnable_scale):
    model = build_model(scheme, pre_norm, learnable_scale)
    assert list(model.state_dict()) == todays_model_keys(scheme, pre_norm, learnable_scale)
    assert [name for name, _ in model.named_parameters()] == todays_parameter_names(scheme, pre_norm, learnable_scale)


def todays_layer_tensors(keys, seed):
    """A layer's state dict as a checkpoint of today's would hold it: a tensor of the right shape under each of
    today's names, drawn from a seeded generator (LayerNorms near, not at, their initial identity)."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for key in keys:
        module, kind = key.rsplit(".", 1) if "." in key else (key, "step")
        if kind == "step":
            shape = ()
        elif module.endswith("fc1"):
            shape = (FFN_DIM, EMBED_DIM) if kind == "weight" else (FFN_DIM,)
        elif module.endswith("fc2"):
            shape = (EMBED_DIM, FFN_DIM) if kind == "weight" else (EMBED_DIM,)
        elif module.endswith("proj"):
            shape = (EMBED_DIM, EMBED_DIM) if kind == "weight" else (EMBED_DIM,)
        else:
            shape = (EMBED_DIM,)
        tensor = torch.randn(shape, generator=generator) * (0.3 if shape else 0.4)
        if kind == "step":
            tensor += 0.8  # away from the initial 0.5 and 1, to see which coefficient each step takes
        elif "layer_norm" in module and kind == "weight":
            tensor += 1.0
        tensors[key] = tensor
    return tensors


def layer_config(pre_norm, scheme, learnable_scale):
    cfg = TransformerConfig()
    for side in (cfg.encoder, cfg.decoder):
        side.embed_dim, side.ffn_embed_dim, side.attention_heads = EMBED_DIM, FFN_DIM, HEADS
        side.normalize_before = pre_norm
    cfg.dropout = cfg.attention_dropout = cfg.activation_dropout = 0.0
    cfg.macaron_scheme, cfg.macaron_learnable_scale = scheme, learnable_scale
    cfg.macaron_ffn_scale = 0.5 if scheme.startswith("strang") else None
    return cfg


class PaperLayer:
    """A layer of one scheme computed from its tensors by name, as the equations above read."""

    def __init__(self, tensors, scheme, pre_norm, learnable_scale):
        self.t, self.pre_norm = tensors, pre_norm
        half = 0.5 if scheme.startswith("strang") else 1.0
        fixed = {"ffn1": half, "ffn2": half, "ffn": 1.0, "self_attn": 1.0, "encoder_attn": 1.0}
        self.c = {name: tensors[f"{name}_step"] if learnable_scale and f"{name}_step" in tensors else fixed[name]
                  for name in fixed}
        self.scheme = scheme

    def norm(self, x, name):
        return F.layer_norm(x, (EMBED_DIM,), self.t[f"{name}.weight"], self.t[f"{name}.bias"])

    def linear(self, x, name):
        return F.linear(x, self.t[f"{name}.weight"], self.t[f"{name}.bias"])

    def ffn(self, h, prefix=""):
        return self.linear(F.relu(self.linear(h, f"{prefix}fc1")), f"{prefix}fc2")

    def attention(self, query, key_value, name, causal=False):
        def heads(x):  # (time, batch, dim) -> (batch, heads, time, head_dim)
            return x.view(x.shape[0], x.shape[1], HEADS, -1).permute(1, 2, 0, 3)

        q = heads(self.linear(query, f"{name}.q_proj")) * (EMBED_DIM // HEADS) ** -0.5
        k, v = heads(self.linear(key_value, f"{name}.k_proj")), heads(self.linear(key_value, f"{name}.v_proj"))
        scores = q @ k.transpose(-1, -2)
        if causal:
            scores = scores + torch.triu(torch.full(scores.shape[-2:], float("-inf")), 1)
        return self.linear((scores.softmax(-1) @ v).permute(2, 0, 1, 3).reshape(query.shape), f"{name}.out_proj")

    def step(self, x, norm, branch, c):
        if self.pre_norm:
            return x + c * branch(self.norm(x, norm))
        return self.norm(x + c * branch(x), norm)

    def __call__(self, x, encoder_out=None):
        decoder = encoder_out is not None
        ffn_1 = self.ffn if self.scheme == "strang-tied" else (lambda h: self.ffn(h, "macaron_"))

        def attention_steps(x):
            x = self.step(x, "self_attn_layer_norm", lambda h: self.attention(h, h, "self_attn", causal=decoder),
                          self.c["self_attn"])
            if decoder:
                x = self.step(x, "encoder_attn_layer_norm", lambda h: self.attention(h, encoder_out, "encoder_attn"),
                              self.c["encoder_attn"])
            return x

        if self.scheme.startswith("strang"):
            x = self.step(x, "macaron_layer_norm", ffn_1, self.c["ffn1"])
            x = attention_steps(x)
            return self.step(x, "final_layer_norm", self.ffn, self.c["ffn2"])
        if self.scheme == "lie-trotter":
            return self.step(attention_steps(x), "final_layer_norm", self.ffn, self.c["ffn"])
        return attention_steps(self.step(x, "final_layer_norm", self.ffn, self.c["ffn"]))


@pytest.mark.parametrize("scheme, pre_norm, learnable_scale", CASES, ids=CASE_IDS)
def test_todays_layer_state_dicts_load_and_give_the_papers_layers(scheme, pre_norm, learnable_scale):
    encoder_keys, decoder_keys = TODAYS_LAYER_KEYS[scheme, learnable_scale]
    cfg = layer_config(pre_norm, scheme, learnable_scale)
    x, encoder_out = torch.randn(5, 3, EMBED_DIM), torch.randn(6, 3, EMBED_DIM)
    causal = torch.triu(torch.full((5, 5), float("-inf")), 1)
    for layer, keys, seed in ((MacaronTransformerEncoderLayer(cfg), encoder_keys, 1),
                              (MacaronTransformerDecoderLayer(cfg), decoder_keys, 2)):
        tensors = todays_layer_tensors(keys, seed)
        layer.load_state_dict(tensors)  # strict: exactly today's names, nothing missing or left over
        layer.eval()
        paper = PaperLayer(tensors, scheme, pre_norm, learnable_scale)
        with torch.no_grad():
            if isinstance(layer, MacaronTransformerEncoderLayer):
                actual, expected = layer(x, encoder_padding_mask=None), paper(x)
            else:
                actual, _, _ = layer(x, encoder_out=encoder_out, self_attn_mask=causal)
                expected = paper(x, encoder_out)
        torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
        assert list(layer.state_dict()) == keys
