"""The ``macaron_roberta`` model: fairseq's ``roberta`` with Macaron encoder layers.

Each architecture below is a fairseq ``roberta`` preset with its FFN's inner width halved under the strang scheme, as in
:mod:`macaron_fairseq.models.macaron_transformer`. ``macaron_roberta_base`` is the paper's Macaron BERT-base:
d 768, 12 layers, an FFN of 1536 in each half step.
"""

import contextlib

from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta import RobertaEncoder, RobertaModel
from fairseq.models.roberta.model import (
    base_architecture,
    roberta_base_architecture,
    roberta_large_architecture,
    roberta_prenorm_architecture,
    xlm_architecture,
)
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from fairseq.utils import safe_hasattr
from omegaconf import OmegaConf, open_dict

from macaron_fairseq.models.macaron_options import add_macaron_args, macaron_transformer_config
from macaron_fairseq.models.macaron_transformer import (
    MacaronTransformerEncoder,
    base_macaron_architecture,
    macaron_twin,
)


class MacaronRobertaEncoder(RobertaEncoder):
    def build_encoder(self, args, dictionary, embed_tokens):
        encoder = MacaronTransformerEncoder(macaron_transformer_config(args), dictionary, embed_tokens)
        encoder.apply(init_bert_params)
        return encoder


@register_model("macaron_roberta")
class MacaronRobertaModel(RobertaModel):
    """Macaron Net (Lu et al. 2019, https://arxiv.org/abs/1906.02762) as a masked language model: every encoder
    layer runs half an FFN step, then self-attention, then half an FFN step. Takes every option of ``roberta``."""

    @classmethod
    def hub_models(cls):
        return {}

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        add_macaron_args(parser)

    @classmethod
    def build_model(cls, args, task):
        """fairseq's ``RobertaModel.build_model`` with the Macaron encoder: fairseq's names its ``RobertaEncoder``
        directly, with no hook to build another."""
        # like fairseq's, the presets may add keys to a config loaded from a checkpoint
        with open_dict(args) if OmegaConf.is_config(args) else contextlib.nullcontext():
            base_architecture(args)
            base_macaron_architecture(args)
            if not safe_hasattr(args, "max_positions"):
                if not safe_hasattr(args, "tokens_per_sample"):
                    args.tokens_per_sample = task.max_positions()
                args.max_positions = args.tokens_per_sample
            return cls(args, MacaronRobertaEncoder(args, task.source_dictionary))


BASELINE_TWINS = {
    "macaron_roberta": ("roberta", base_architecture),
    "macaron_roberta_prenorm": ("roberta_prenorm", roberta_prenorm_architecture),
    "macaron_roberta_base": ("roberta_base", roberta_base_architecture),
    "macaron_roberta_large": ("roberta_large", roberta_large_architecture),
    "macaron_xlm": ("xlm", xlm_architecture),
}
"""Each Macaron architecture's baseline twin: (fairseq arch name, its preset function)."""

for _name, (_, _preset) in BASELINE_TWINS.items():
    register_model_architecture("macaron_roberta", _name)(macaron_twin(_preset))
