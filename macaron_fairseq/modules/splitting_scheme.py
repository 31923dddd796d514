"""The splitting schemes of ``--macaron-scheme``: the sub-steps a layer runs, in order.

A layer is one step of an ODE dx/dt = V(x) whose vector field is a sum of branches, V = sum_k c_k f_k: the FFN F,
self-attention A and, in the decoder, cross-attention C. A splitting scheme runs one forward Euler sub-step
``x + c_k f_k(x)`` per branch, in its own order:

    strang                x + s*F_1 -> x + A -> x + C -> x + s*F_2    two FFNs, each of half the baseline's width
    strang-tied           x + s*F   -> x + A -> x + C -> x + s*F      one full-width FFN, run twice
    lie-trotter           x + A -> x + C -> x + F                     fairseq's layer
    reversed-lie-trotter  x + F -> x + A -> x + C

with s = ``--macaron-ffn-scale`` (0.5, the half step of Strang splitting). Encoder layers have no C.
"""

from typing import NamedTuple

DEFAULT_SCHEME = "strang"


class SubStep(NamedTuple):
    name: str
    """Names the sub-step: in a learned step size's parameter, ``<name>_step``, and in the splitting probe."""
    norm: str
    """The layer's attribute holding the sub-step's LayerNorm."""
    branch: str
    """``self_attn``, ``encoder_attn``, or the FFN it runs: ``ffn`` (``fc1``, ``fc2``) or ``macaron_ffn``."""
    half_step: bool
    """Whether its coefficient is the FFN half step s; every other sub-step's is 1."""


SELF_ATTN = SubStep("self_attn", "self_attn_layer_norm", "self_attn", half_step=False)
ENCODER_ATTN = SubStep("encoder_attn", "encoder_attn_layer_norm", "encoder_attn", half_step=False)
FULL_FFN = SubStep("ffn", "final_layer_norm", "ffn", half_step=False)

SCHEMES = {
    # FFN_1 is the added FFN and FFN_2 the baseline's, so a strang layer keeps the baseline's names.
    "strang": (
        SubStep("ffn1", "macaron_layer_norm", "macaron_ffn", half_step=True), SELF_ATTN, ENCODER_ATTN,
        SubStep("ffn2", "final_layer_norm", "ffn", half_step=True),
    ),
    # Each half step of the one FFN keeps its own LayerNorm.
    "strang-tied": (
        SubStep("ffn1", "macaron_layer_norm", "ffn", half_step=True), SELF_ATTN, ENCODER_ATTN,
        SubStep("ffn2", "final_layer_norm", "ffn", half_step=True),
    ),
    "lie-trotter": (SELF_ATTN, ENCODER_ATTN, FULL_FFN),
    # The baseline's names again, so a baseline's weights load into it; final_layer_norm runs first here.
    "reversed-lie-trotter": (FULL_FFN, SELF_ATTN, ENCODER_ATTN),
}
"""Each scheme's sub-steps in the order a decoder layer runs them."""

HALF_WIDTH_SCHEMES = ("strang",)
"""Schemes with two FFNs, which the architecture presets give half the baseline's FFN width for parameter parity."""


def macaron_ffn_width(baseline_ffn_width, scheme):
    """The inner width of each FFN of a ``scheme`` layer with the parameters of a baseline layer whose one FFN is
    ``baseline_ffn_width`` wide: half of it under the two-FFN scheme (strang), all of it under the one-FFN schemes.
    The one statement of the parity rule: presets, settings and benchmarks take their widths from it."""
    return baseline_ffn_width // 2 if scheme in HALF_WIDTH_SCHEMES else baseline_ffn_width


def has_half_steps(scheme):
    """Whether ``--macaron-ffn-scale`` is a coefficient of ``scheme``."""
    return any(step.half_step for step in SCHEMES[scheme])
