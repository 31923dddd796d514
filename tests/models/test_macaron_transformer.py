"""The macaron_transformer model and its architectures, each against its fairseq baseline twin."""

import re

import pytest
import torch
from fairseq import options
from fairseq.data import Dictionary
from fairseq.models import ARCH_MODEL_NAME_REGISTRY, ARCH_MODEL_REGISTRY
from fairseq.sequence_generator import SequenceGenerator
from fairseq.tasks.translation import TranslationTask

from conftest import PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command, run
from macaron_fairseq.errors import MacaronFairseqError
from macaron_fairseq.models.macaron_transformer import BASELINE_TWINS, MacaronTransformerModel
from macaron_fairseq.modules.macaron_layer import MacaronTransformerDecoderLayer, MacaronTransformerEncoderLayer
from macaron_fairseq.modules.splitting_scheme import SCHEMES


def joined_dictionary(size):
    dictionary = Dictionary()
    for i in range(size):
        dictionary.add_symbol(f"w{i}")
    return dictionary


def build_model(arch, *flags, dictionary=None, device="meta"):
    """Builds ``arch`` as fairseq-train would, from command-line flags, with weights on ``device``."""
    dictionary = dictionary or joined_dictionary(10000)
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        ["unused-data-dir", "--task", "translation", "--source-lang", "de", "--target-lang", "en",
         "--arch", arch, "--share-all-embeddings", *map(str, flags)],
    )
    task = TranslationTask(args, dictionary, dictionary)
    with torch.device(device):
        return task.build_model(args), args


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("macaron_arch", sorted(BASELINE_TWINS))
def test_architecture_matches_its_baseline_twin(macaron_arch):
    baseline_arch, _ = BASELINE_TWINS[macaron_arch]
    assert ARCH_MODEL_NAME_REGISTRY[macaron_arch] == "macaron_transformer"
    assert ARCH_MODEL_REGISTRY[macaron_arch] is MacaronTransformerModel
    macaron, macaron_args = build_model(macaron_arch)
    baseline, baseline_args = build_model(baseline_arch)

    # identical but for the halved FFN widths (and the Macaron scale)
    differing = {k for k in vars(baseline_args) if vars(baseline_args)[k] != vars(macaron_args).get(k)}
    assert differing == {"arch", "encoder_ffn_embed_dim", "decoder_ffn_embed_dim"}
    assert macaron_args.encoder_ffn_embed_dim * 2 == baseline_args.encoder_ffn_embed_dim
    assert macaron_args.decoder_ffn_embed_dim * 2 == baseline_args.decoder_ffn_embed_dim
    assert macaron_args.macaron_ffn_scale == 0.5

    assert all(isinstance(layer, MacaronTransformerEncoderLayer) for layer in macaron.encoder.layers)
    assert all(isinstance(layer, MacaronTransformerDecoderLayer) for layer in macaron.decoder.layers)
    macaron_params, baseline_params = parameter_count(macaron), parameter_count(baseline)
    assert macaron_params != baseline_params  # the extra LayerNorm per layer
    assert abs(macaron_params - baseline_params) / baseline_params < 0.001

    # every key of a baseline checkpoint names a tensor of the Macaron model with the same shape...
    macaron_state, baseline_state = macaron.state_dict(), baseline.state_dict()
    for key, tensor in baseline_state.items():
        if key.endswith(("fc1.weight", "fc1.bias", "fc2.weight")):
            assert macaron_state[key].shape != tensor.shape  # halved FFN
        else:
            assert macaron_state[key].shape == tensor.shape, key
    # ...and the Macaron model adds only the first half-step FFN of each layer
    added = {key.split(".")[-2] for key in set(macaron_state) - set(baseline_state)}
    assert added == {"macaron_fc1", "macaron_fc2", "macaron_layer_norm"}


@pytest.mark.parametrize("learnable_scale", [False, True], ids=["fixed", "learnable"])
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("macaron_arch", sorted(BASELINE_TWINS))
def test_every_scheme_has_the_parameters_of_the_baseline_twin(macaron_arch, scheme, learnable_scale):
    flags = ["--macaron-scheme", scheme] + (["--macaron-learnable-scale"] if learnable_scale else [])
    macaron, macaron_args = build_model(macaron_arch, *flags)
    baseline, baseline_args = build_model(BASELINE_TWINS[macaron_arch][0])
    halved = 2 if scheme == "strang" else 1
    assert macaron_args.encoder_ffn_embed_dim * halved == baseline_args.encoder_ffn_embed_dim
    assert macaron_args.decoder_ffn_embed_dim * halved == baseline_args.decoder_ffn_embed_dim
    macaron_params, baseline_params = parameter_count(macaron), parameter_count(baseline)
    assert abs(macaron_params - baseline_params) / baseline_params < 0.001
    if scheme.endswith("lie-trotter") and not learnable_scale:
        assert macaron_params == baseline_params
        assert {k: v.shape for k, v in macaron.state_dict().items()} == {
            k: v.shape for k, v in baseline.state_dict().items()}
    layers = len(macaron.encoder.layers) + len(macaron.decoder.layers)
    learned_steps = [p for name, p in macaron.named_parameters() if name.endswith("_step")]
    sub_steps_per_layer = len(SCHEMES[scheme])  # decoder layers run them all, encoder layers all but C
    assert len(learned_steps) == (sub_steps_per_layer * layers - len(macaron.encoder.layers) if learnable_scale else 0)


def test_ffn_widths_given_on_the_command_line_are_kept():
    _, args = build_model("macaron_transformer_iwslt_de_en", "--encoder-ffn-embed-dim", 300)
    assert args.encoder_ffn_embed_dim == 300
    assert args.decoder_ffn_embed_dim == 512
    _, args = build_model("macaron_transformer_iwslt_de_en", "--macaron-scheme", "strang-tied",
                          "--decoder-ffn-embed-dim", 700)
    assert args.encoder_ffn_embed_dim == 1024
    assert args.decoder_ffn_embed_dim == 700


def test_learned_step_sizes_are_named_in_the_checkpoint_state():
    model, _ = build_model("macaron_transformer", *TINY_MODEL_FLAGS[:-1], "--macaron-learnable-scale",
                           dictionary=joined_dictionary(20), device="cpu")
    state = model.state_dict()
    assert state["encoder.layers.0.ffn1_step"].item() == 0.5
    assert state["decoder.layers.1.encoder_attn_step"].item() == 1.0
    assert {key.split(".")[-1] for key in state if key.endswith("_step")} == {
        "ffn1_step", "self_attn_step", "encoder_attn_step", "ffn2_step"}


BAD_OPTIONS = {
    "unknown-scheme": (["--macaron-scheme", "rk4"],
                       "error: --macaron-scheme rk4 is not a scheme: choose one of strang, strang-tied, lie-trotter, "
                       "reversed-lie-trotter"),
    "ffn-scale-without-half-steps": (
        ["--macaron-scheme", "lie-trotter", "--macaron-ffn-scale", "0.5"],
        "error: --macaron-ffn-scale sets the FFN half steps of the strang schemes, and --macaron-scheme lie-trotter "
        "has none (its FFN step is whole): drop --macaron-ffn-scale"),
    "cross-self-attention": (["--cross-self-attention"],
                             "error: --cross-self-attention is not supported by macaron_transformer: drop it"),
    "infinite-ffn-scale": (["--macaron-ffn-scale", "inf"],
                           "error: --macaron-ffn-scale must be a finite number above 0 (0.5 is the half step of "
                           "Strang splitting), got inf"),
    "zero-ffn-width": (["--encoder-ffn-embed-dim", "0"],
                       "error: --encoder-ffn-embed-dim must be a whole number above 0, the inner width of each "
                       "FFN, got 0"),
    "heads-not-dividing-width": (["--encoder-attention-heads", "3"],
                                 "error: --encoder-attention-heads 3 does not divide --encoder-embed-dim 32 into "
                                 "heads of one width: choose a number of heads that divides 32, such as 2 or 4"),
}
"""Bad Macaron-model flags, each with the one line fairseq-train refuses it with."""


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_bad_model_flags_are_refused_in_one_line_before_anything_is_written(toy_data_bin, tmp_path, case):
    flags, message = BAD_OPTIONS[case]
    result = run(
        fairseq_command("train", toy_data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer",
                        *TINY_MODEL_FLAGS, "--optimizer", "adam", "--lr", 1e-3, "--max-tokens", 1000,
                        "--max-update", 2, "--cpu", "--num-workers", 0, *flags),
        cwd=tmp_path, check=False,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines() == [message], result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []  # no checkpoints/ folder, no crash.pt


@pytest.mark.parametrize("flags, message", [
    (["--macaron-ffn-scale", 0], "--macaron-ffn-scale must be a finite number above 0"),
    (["--macaron-ffn-scale", -1], "--macaron-ffn-scale must be a finite number above 0"),
    (["--macaron-ffn-scale", "1e400"], "--macaron-ffn-scale must be a finite number above 0"),
    (["--macaron-ffn-scale", "nan"], "--macaron-ffn-scale must be a finite number above 0"),
    (["--macaron-scheme", "strang-tied", "--macaron-ffn-scale=-inf"],
     "--macaron-ffn-scale must be a finite number above 0"),
    (["--encoder-ffn-embed-dim", -8], "--encoder-ffn-embed-dim must be a whole number above 0"),
    (["--decoder-ffn-embed-dim", 0], "--decoder-ffn-embed-dim must be a whole number above 0"),
    (["--macaron-scheme", "lie-trotter", "--decoder-ffn-embed-dim", -1],
     "--decoder-ffn-embed-dim must be a whole number above 0"),
    (["--decoder-attention-heads", 5], "--decoder-attention-heads 5 does not divide --decoder-embed-dim 512"),
    (["--encoder-attention-heads", 0], "--encoder-attention-heads must be a whole number above 0, got 0"),
])
def test_bad_sizes_and_scales_are_refused_when_the_model_is_configured(flags, message):
    with pytest.raises(MacaronFairseqError, match=re.escape(message)):
        build_model("macaron_transformer", *flags)


def test_options_are_checked_again_when_a_model_is_built_from_a_saved_config():
    _, args = build_model("macaron_transformer", *TINY_MODEL_FLAGS[:-1], device="cpu")
    args.macaron_ffn_scale = float("inf")
    task = TranslationTask(args, joined_dictionary(20), joined_dictionary(20))
    with pytest.raises(MacaronFairseqError, match=r"--macaron-ffn-scale must be a finite number above 0 .*, got inf"):
        MacaronTransformerModel.build_model(args, task)


def test_unknown_architecture_message_lists_the_macaron_architectures():
    result = run(fairseq_command("train", "unused", "--user-dir", PLUGIN_DIR, "--arch", "macaron_nope"), check=False)
    assert result.returncode == 2
    assert "invalid choice: 'macaron_nope'" in result.stderr
    for name in BASELINE_TWINS:
        assert f"'{name}'" in result.stderr


OPTION_VARIANTS = {
    "post-norm": [],
    "pre-norm": ["--encoder-normalize-before", "--decoder-normalize-before"],
    "dropouts-gelu": ["--dropout", 0.2, "--attention-dropout", 0.1, "--activation-dropout", 0.1,
                      "--activation-fn", "gelu"],
    "layerdrop": ["--encoder-layerdrop", 0.5, "--decoder-layerdrop", 0.5],
    "checkpoint-activations": ["--checkpoint-activations"],
    "learned-positions": ["--encoder-learned-pos", "--decoder-learned-pos"],
    "ffn-scale": ["--macaron-ffn-scale", 1.0],
}


@pytest.mark.parametrize("variant", sorted(OPTION_VARIANTS))
def test_fairseq_transformer_options_keep_working(variant):
    torch.manual_seed(0)
    dictionary = joined_dictionary(20)
    model, args = build_model("macaron_transformer", *TINY_MODEL_FLAGS[:-1], *OPTION_VARIANTS[variant],
                              dictionary=dictionary, device="cpu")
    model.train()
    tokens = torch.randint(dictionary.nspecial, len(dictionary), (3, 6))
    logits, _ = model(tokens, torch.full((3,), 6), tokens)
    logits.sum().backward()
    assert logits.shape == (3, 6, len(dictionary))
    assert model.encoder.layers[0].macaron_fc1.weight.grad is not None or args.encoder_layerdrop > 0
    if variant == "ffn-scale":
        assert model.encoder.layers[0].ffn_after_attn.coefficient == model.decoder.layers[0].ffn_before_attn.coefficient == 1.0


def test_bf16_forward():
    dictionary = joined_dictionary(20)
    model, _ = build_model("macaron_transformer", *TINY_MODEL_FLAGS[:-1], dictionary=dictionary, device="cpu")
    model = model.eval().to(torch.bfloat16)
    tokens = torch.randint(dictionary.nspecial, len(dictionary), (2, 5))
    logits, _ = model(tokens, torch.full((2,), 5), tokens)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("norm_flags", [[], ["--encoder-normalize-before", "--decoder-normalize-before"]],
                         ids=["post-norm", "pre-norm"])
def test_beam_search_scores_equal_full_prefix_scores(norm_flags, scheme):
    """Beam search decodes incrementally; rescoring its hypotheses with the whole prefix at once must agree."""
    torch.manual_seed(0)
    dictionary = joined_dictionary(30)
    model, _ = build_model("macaron_transformer", *TINY_MODEL_FLAGS[:-1], *norm_flags, "--macaron-scheme", scheme,
                           dictionary=dictionary, device="cpu")
    model.eval()
    src_tokens = torch.randint(dictionary.nspecial, len(dictionary), (2, 7))
    src_tokens[:, -1] = dictionary.eos()
    sample = {"net_input": {"src_tokens": src_tokens, "src_lengths": torch.full((2,), 7)}}
    generator = SequenceGenerator([model], dictionary, beam_size=3, max_len_b=8)
    with torch.no_grad():
        hypotheses = generator.generate([model], sample)
        for i, sentence_hypotheses in enumerate(hypotheses):
            for hypothesis in sentence_hypotheses:
                target = hypothesis["tokens"].unsqueeze(0)
                prev_output_tokens = torch.cat([torch.tensor([[dictionary.eos()]]), target[:, :-1]], dim=1)
                net_output = model(src_tokens[i : i + 1], torch.tensor([7]), prev_output_tokens)
                lprobs = model.get_normalized_probs(net_output, log_probs=True)
                full_prefix_scores = lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1).squeeze(0)
                torch.testing.assert_close(hypothesis["positional_scores"], full_prefix_scores,
                                           atol=1e-5, rtol=1e-5)
