"""The macaron_roberta model and its architectures, each against its fairseq roberta twin."""

import functools
import shutil

import pytest
import torch
from fairseq import options
from fairseq.data import Dictionary
from fairseq.models import ARCH_MODEL_NAME_REGISTRY, ARCH_MODEL_REGISTRY
from fairseq.models.roberta import RobertaModel
from fairseq.modules import LayerDropModuleList
from fairseq.tasks.masked_lm import MaskedLMTask

from conftest import PLUGIN_DIR, last_checkpoint
from macaron_fairseq.models.macaron_roberta import BASELINE_TWINS, MacaronRobertaModel
from macaron_fairseq.modules.macaron_layer import MacaronTransformerEncoderLayer
from macaron_tools.parity import bert_init_skipped
from fairseq_in_process import fairseq_train
from monolingual_corpus import binarize, english_corpus  # noqa: F401 (a fixture)

REALISTIC_DICTIONARY_SIZE = 50_000

TINY_ROBERTA_FLAGS = ["--encoder-layers", 2, "--encoder-embed-dim", 32, "--encoder-ffn-embed-dim", 16,
                      "--encoder-attention-heads", 2, "--max-positions", 32]


@functools.lru_cache(maxsize=None)
def dictionary_of(size):
    dictionary = Dictionary()
    for i in range(size - dictionary.nspecial - 1):
        dictionary.add_symbol(f"w{i}")
    dictionary.add_symbol("<mask>")
    return dictionary


def build_model(arch, *flags, dictionary=None, device="cpu", **options_without_flags):
    """Builds ``arch`` as fairseq-train would, from command-line flags, with weights on ``device``."""
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, ["unused-data-dir", "--task", "masked_lm", "--arch", arch,
                                                *map(str, flags)])
    vars(args).update(options_without_flags)
    task = MaskedLMTask(args, dictionary or dictionary_of(REALISTIC_DICTIONARY_SIZE))
    with torch.device(device):
        return task.build_model(args), args


@pytest.fixture
def skip_bert_init():
    with bert_init_skipped():
        yield


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("macaron_arch", sorted(BASELINE_TWINS))
def test_architecture_matches_its_baseline_twin(macaron_arch, skip_bert_init):
    baseline_arch, _ = BASELINE_TWINS[macaron_arch]
    assert ARCH_MODEL_NAME_REGISTRY[macaron_arch] == "macaron_roberta"
    assert ARCH_MODEL_REGISTRY[macaron_arch] is MacaronRobertaModel
    macaron, macaron_args = build_model(macaron_arch, device="meta")
    baseline, baseline_args = build_model(baseline_arch, device="meta")

    differing = {k for k in vars(baseline_args) if vars(baseline_args)[k] != vars(macaron_args).get(k)}
    assert differing == {"arch", "encoder_ffn_embed_dim"}
    assert macaron_args.encoder_ffn_embed_dim * 2 == baseline_args.encoder_ffn_embed_dim
    assert macaron_args.macaron_scheme == "strang" and macaron_args.macaron_ffn_scale == 0.5

    layers = macaron.encoder.sentence_encoder.layers
    assert all(isinstance(layer, MacaronTransformerEncoderLayer) for layer in layers)
    # each layer adds a LayerNorm (2d) and an FFN output bias (d), the only difference
    excess = parameter_count(macaron) - parameter_count(baseline)
    assert excess == 3 * macaron_args.encoder_embed_dim * len(layers)
    assert excess / parameter_count(baseline) < 0.001


def test_macaron_roberta_base_is_the_papers_macaron_bert_base(skip_bert_init):
    _, args = build_model("macaron_roberta_base", device="meta")
    assert (args.encoder_layers, args.encoder_embed_dim, args.encoder_ffn_embed_dim) == (12, 768, 1536)


def test_non_positive_ffn_scale_is_a_usage_error():
    from macaron_fairseq.errors import MacaronFairseqError

    with pytest.raises(MacaronFairseqError, match="--macaron-ffn-scale must be a finite number above 0"):
        build_model("macaron_roberta", "--macaron-ffn-scale", -1)


OPTION_VARIANTS = {
    "defaults": [],
    "prenorm": ["--encoder-normalize-before"],
    "layerdrop": ["--encoder-layerdrop", 0.5],
    "quant-noise": ["--quant-noise-pq", 0.1, "--quant-noise-pq-block-size", 4],
    "lie-trotter": ["--macaron-scheme", "lie-trotter"],
}


OPTIONS_WITHOUT_FLAGS = {
    # fairseq's roberta has no --checkpoint-activations, but its encoder reads the option from a config
    "checkpoint-activations": {"checkpoint_activations": True},
}


@pytest.mark.parametrize("variant", sorted(OPTION_VARIANTS) + sorted(OPTIONS_WITHOUT_FLAGS))
def test_fairseq_roberta_options_keep_working(variant):
    torch.manual_seed(0)
    dictionary = dictionary_of(40)
    model, _ = build_model("macaron_roberta", *TINY_ROBERTA_FLAGS, *OPTION_VARIANTS.get(variant, []),
                           dictionary=dictionary, **OPTIONS_WITHOUT_FLAGS.get(variant, {}))
    model.train()
    tokens = torch.randint(dictionary.nspecial, len(dictionary) - 1, (3, 7))
    masked = torch.zeros_like(tokens, dtype=torch.bool)
    masked[:, 2] = True
    logits, _ = model(tokens, masked_tokens=masked)
    torch.nn.functional.cross_entropy(logits, tokens[masked]).backward()
    assert logits.shape == (3, len(dictionary)) and torch.isfinite(logits).all()

    encoder = model.encoder.sentence_encoder
    layer = encoder.layers[0]
    if variant == "layerdrop":
        assert isinstance(encoder.layers, LayerDropModuleList)
    elif variant == "checkpoint-activations":
        assert hasattr(layer, "precheckpoint_forward")  # fairseq's checkpoint_wrapper
    elif variant == "quant-noise":
        assert layer.macaron_fc1._forward_pre_hooks and layer.fc2._forward_pre_hooks
    elif variant == "lie-trotter":
        assert not hasattr(layer, "macaron_fc1") and layer.scheme == "lie-trotter"
    if variant == "prenorm":
        assert layer.normalize_before
    if hasattr(layer, "macaron_fc1") and variant != "layerdrop":
        assert layer.macaron_fc1.weight.grad is not None


# fairseq's command-line tools, end to end: pre-training, fine-tuning, loading for use

def train(data_bin, save_dir, *flags):
    fairseq_train(
        data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_roberta", *TINY_ROBERTA_FLAGS,
        "--optimizer", "adam", "--lr", 1e-3, "--save-dir", save_dir, "--no-epoch-checkpoints", "--cpu",
        "--seed", 1, "--log-format", "simple", "--num-workers", 0, *flags,
    )


def has_adverb(sentence):
    """The fine-tuning label: whether the generated sentence ends with an adverb (half of them do)."""
    return int(sentence.split()[-1].rstrip(".") in {"today", "often", "slowly", "gladly"})


@pytest.fixture(scope="module")
def pretrained_and_fine_tuned(english_corpus, tmp_path_factory):
    """(data-bin, sentence-prediction data, pre-training save dir, fine-tuning save dir) of a tiny macaron_roberta
    pre-trained with --task masked_lm, then fine-tuned with --task sentence_prediction, 2 updates each."""
    data_bin, sentences = english_corpus
    root = tmp_path_factory.mktemp("roberta")
    pretrained = root / "pretrained"
    train(data_bin, pretrained, "--task", "masked_lm", "--criterion", "masked_lm", "--tokens-per-sample", 32,
          "--max-tokens", 256, "--max-update", 2)

    labelled = root / "labelled"
    labelled.mkdir()
    shutil.copytree(data_bin, labelled / "input0")  # the sentences, binarized with the pre-training dictionary
    binarize(labelled, "label", {split: [has_adverb(s) for s in sentences[split]] for split in ("train", "valid")})
    fine_tuned = root / "fine-tuned"
    train(labelled, fine_tuned, "--task", "sentence_prediction", "--criterion", "sentence_prediction",
          "--num-classes", 2, "--init-token", 0, "--separator-token", 2, "--batch-size", 16, "--max-update", 2,
          "--restore-file", pretrained / "checkpoint_last.pt", "--reset-optimizer", "--reset-dataloader",
          "--reset-meters", "--reset-lr-scheduler")
    return data_bin, labelled, pretrained, fine_tuned


def test_masked_lm_pre_training_then_sentence_prediction_fine_tuning(pretrained_and_fine_tuned):
    _, _, pretrained, fine_tuned = pretrained_and_fine_tuned
    updates, pretrained_weights = last_checkpoint(pretrained)
    assert updates == 2
    assert "encoder.sentence_encoder.layers.1.macaron_fc1.weight" in pretrained_weights
    updates, fine_tuned_weights = last_checkpoint(fine_tuned)
    assert updates == 2
    assert fine_tuned_weights["encoder.sentence_encoder.layers.0.fc1.weight"].shape == (16, 32)
    assert fine_tuned_weights["classification_heads.sentence_classification_head.out_proj.weight"].shape == (2, 32)
    # fine-tuning started from the pre-trained encoder and moved it
    key = "encoder.sentence_encoder.layers.0.macaron_fc1.weight"
    assert not torch.equal(fine_tuned_weights[key], pretrained_weights[key])


def test_roberta_from_pretrained_loads_the_plugins_checkpoints(pretrained_and_fine_tuned):
    data_bin, labelled, pretrained, fine_tuned = pretrained_and_fine_tuned
    # bpe=None: the sentences are already tokens, and fairseq's default (GPT-2's) would be downloaded
    hub = RobertaModel.from_pretrained(str(pretrained), "checkpoint_last.pt", str(data_bin), bpe=None)
    assert isinstance(hub.model, MacaronRobertaModel)
    tokens = torch.cat([torch.tensor([0]), hub.task.source_dictionary.encode_line(
        "The small dog runs in the park .", add_if_not_exist=False).long()])
    assert hub.extract_features(tokens).shape == (1, len(tokens), 32)

    classifier = RobertaModel.from_pretrained(str(fine_tuned), "checkpoint_last.pt", str(labelled), bpe=None)
    log_probs = classifier.predict("sentence_classification_head", tokens)
    assert log_probs.shape == (1, 2)
    torch.testing.assert_close(log_probs.exp().sum(), torch.tensor(1.0))
