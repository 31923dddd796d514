"""``--retain-dropout-modules`` takes fairseq's class names for the Macaron twins' modules.

fairseq keeps dropout at inference in the modules whose name is listed, a module's name being its class's
(``TransformerEncoder``, ``TransformerEncoderLayerBase``...). The twins' classes are named ``MacaronTransformer...``,
so fairseq's documented names would silently match nothing. Each name here stands for its twin as well, either way
round (installed by :mod:`macaron_fairseq.fairseq_fixes`).
"""

import functools
import re

TWIN_MODULE_NAMES = {
    "TransformerEncoder": "MacaronTransformerEncoder",
    "TransformerDecoder": "MacaronTransformerDecoder",
    "TransformerEncoderLayerBase": "MacaronTransformerEncoderLayer",
    "TransformerDecoderLayerBase": "MacaronTransformerDecoderLayer",
}
"""fairseq's dropout name of each baseline module: the name of its Macaron twin."""

_BOTH_WAYS = {**TWIN_MODULE_NAMES, **{twin: baseline for baseline, twin in TWIN_MODULE_NAMES.items()}}


def with_twin_names(module_names):
    """``module_names`` and the twin of each that has one.

    fairseq's command line gives one string (``--retain-dropout-modules TransformerEncoder``), in which fairseq then
    looks for each module's name; the twins are appended to it, so that it is searched as before.
    """
    if isinstance(module_names, str):
        twins = [_BOTH_WAYS[name] for name in re.findall(r"\w+", module_names) if name in _BOTH_WAYS]
        return ",".join([module_names, *twins])
    return list(module_names) + [_BOTH_WAYS[name] for name in module_names if name in _BOTH_WAYS]


def match_twin_names(make_generation_fast_):
    @functools.wraps(make_generation_fast_)
    def make_generation_fast_matching_twins(dropout, name, retain_dropout=False, retain_dropout_modules=None,
                                            **kwargs):
        if retain_dropout_modules is not None:
            retain_dropout_modules = with_twin_names(retain_dropout_modules)
        return make_generation_fast_(dropout, name, retain_dropout, retain_dropout_modules, **kwargs)

    return make_generation_fast_matching_twins
