"""The authors' weights (their fairseq v0.6 fork) under this plugin's names.

Their decoder layers already use the names fairseq 0.12 and this plugin use. Their encoder layers keep fairseq
v0.6's list of LayerNorms: 0 and 1 are v0.6's own (attention, and the FFN after it), 2 is the Macaron FFN's,
although that FFN runs first. Their attention weights are fused (q, k and v stacked in ``in_proj_weight``);
fairseq 0.12's ``MultiheadAttention.upgrade_state_dict_named`` splits them, so that is left to the model's own
``upgrade_state_dict``, the same upgrade fairseq runs on every checkpoint it loads.
"""

import re

ENCODER_LAYER_NORMS = {"0": "self_attn_layer_norm", "1": "final_layer_norm", "2": "macaron_layer_norm"}
ENCODER_LAYER_NORM_KEY = re.compile(r"encoder\.layers\.(?P<layer>\d+)\.layer_norms\.(?P<index>\d+)\.(?P<param>\w+)")

POSITION_DEVICE_MARKER = ".embed_positions._float_tensor"
"""fairseq v0.6 kept a one-element tensor next to sinusoidal positions to track their device; 0.12 has none."""


def rename_official_weights(weights):
    """Their state dict with encoder LayerNorms renamed and device markers dropped; tensors are not copied."""
    renamed = {}
    for key, tensor in weights.items():
        if key.endswith(POSITION_DEVICE_MARKER):
            continue
        match = ENCODER_LAYER_NORM_KEY.fullmatch(key)
        if match and match["index"] in ENCODER_LAYER_NORMS:
            key = f"encoder.layers.{match['layer']}.{ENCODER_LAYER_NORMS[match['index']]}.{match['param']}"
        renamed[key] = tensor
    return renamed


def upgrade_for_model(weights, model):
    """Renamed weights as ``model.load_state_dict`` takes them: attention split, output projection named.

    ``model`` is the plugin's model built from the converted arguments (on the meta device will do); its
    ``upgrade_state_dict`` reads only its configuration, not its parameters.
    """
    weights = dict(weights)
    # Their encoder.version and decoder.version hold 2. fairseq 0.12 reads a decoder version of 2 or less as
    # "no final LayerNorm" and drops it, although their pre-norm decoder has one and uses it (fairseq v0.6 only
    # dropped it below 2). The model's own markers say that these weights are current.
    for key, marker in model.state_dict().items():
        if key.endswith(".version"):
            weights[key] = marker.clone()
    model.upgrade_state_dict(weights)
    return weights
