"""The plugin's models: importing this package registers each of them, and its architectures, with fairseq."""

from macaron_fairseq.models import macaron_transformer  # noqa: F401
from macaron_fairseq.models import macaron_transformer_lm  # noqa: F401
from macaron_fairseq.models import macaron_roberta  # noqa: F401
