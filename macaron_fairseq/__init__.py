"""Macaron Net (Lu et al. 2019) for fairseq: ``fairseq-train --user-dir macaron_fairseq --arch macaron_transformer ...``.

Loaded by fairseq, the package does two things: it registers the models and their architectures
(:mod:`macaron_fairseq.models`), and it applies the plugin's fixes to fairseq and torch
(:mod:`macaron_fairseq.fairseq_fixes` lists them). Both need fairseq, whose import takes seconds, so they happen
only when fairseq is already imported: ``--user-dir`` imports this package from a running fairseq command. The
tools that need no fairseq (corpus preparation, BLEU, reports: ``python -m macaron_fairseq.data.prepare_corpus``)
then start without it. Code that imports this package before fairseq and then uses fairseq with the plugin calls
:func:`register` (a second call does nothing).

Why not a sibling package holding the light tools: ``--user-dir`` must keep naming this folder, so the tools would
have to move out of it, and every ``python -m macaron_fairseq.<tool>`` command with them.
"""

import sys


def register():
    """Registers the models with fairseq and applies the fixes (importing fairseq); idempotent."""
    # Python imports each module once, so each model registers once, whoever imports it first: this function, or
    # fairseq's --user-dir loader, which imports every module of models/ after this package.
    from macaron_fairseq import models  # noqa: F401
    from macaron_fairseq.fairseq_fixes import apply_fixes

    apply_fixes()


if "fairseq" in sys.modules:
    register()
