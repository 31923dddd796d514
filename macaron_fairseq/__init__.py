"""Macaron Net (Lu et al. 2019) for fairseq: ``fairseq-train --user-dir macaron_fairseq --arch macaron_transformer ...``.

Loaded by fairseq, the package does two things: it registers the models and their architectures
(:mod:`macaron_fairseq.models`), and it applies the plugin's fixes to fairseq and torch
(:mod:`macaron_fairseq.fairseq_fixes` lists them). Both need fairseq, whose import takes seconds, so they happen
only when fairseq is already imported, as it is when ``--user-dir`` imports this package. The tools that need no
fairseq (corpus preparation, BLEU, reports: ``python -m macaron_fairseq.evaluation.bleu``) then start without it;
of the fixes they get only the one that needs no fairseq, errors printed as one line. Code that imports this
package before fairseq and then uses fairseq with the plugin calls :func:`register` (a second call does nothing).

Why not a sibling package holding the light tools: ``--user-dir`` must keep naming this folder, so the tools would
have to move out of it, and every ``python -m macaron_fairseq.<tool>`` command with them.
"""

import sys

from macaron_fairseq import fairseq_fixes


def register():
    """Registers the models with fairseq and applies the fixes (importing fairseq); idempotent."""
    # Python imports each module once, so each model registers once, whoever imports it first: this function, or
    # fairseq's --user-dir loader, which imports every module of models/ after this package.
    from macaron_fairseq import models  # noqa: F401

    fairseq_fixes.apply_fixes()


fairseq_fixes.ONE_LINE_ERRORS.apply()  # for this package's own commands as well, which need no fairseq
if "fairseq" in sys.modules:
    register()
