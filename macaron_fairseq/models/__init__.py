"""The plugin's models: importing this package registers each of them, and its architectures, with fairseq, and
applies the plugin's fixes to fairseq, which its models rely on (weights-only checkpoint loading among them)."""

from macaron_fairseq import fairseq_fixes
from macaron_fairseq.models import macaron_transformer  # noqa: F401
from macaron_fairseq.models import macaron_transformer_lm  # noqa: F401
from macaron_fairseq.models import macaron_roberta  # noqa: F401

fairseq_fixes.apply_fixes()
