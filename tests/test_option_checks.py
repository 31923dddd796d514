"""option_checks: --beam and --tokens-per-sample below 1 are refused where fairseq takes them, in one line."""

import pytest

from macaron_fairseq import option_checks
from macaron_fairseq.option_checks import OptionError


def test_a_beam_below_one_is_refused_and_a_good_one_passes_through():
    calls = []

    def init(self, models, tgt_dict, beam_size=1, max_len_a=0):
        calls.append(beam_size)

    checked = option_checks.refuse_empty_beam(init)
    for bad in (0, -3):
        with pytest.raises(OptionError, match=rf"^--beam {bad} is out of range: pass a whole number of at least 1$"):
            checked(None, [], None, beam_size=bad)
    checked(None, [], None)  # the default
    checked(None, [], None, 5)  # given by position
    assert calls == [1, 5]


def test_fairseqs_generator_and_token_blocks_refuse_them_once_the_fixes_are_applied():
    import macaron_fairseq
    macaron_fairseq.register()
    from fairseq.data import TokenBlockDataset
    from fairseq.sequence_generator import SequenceGenerator

    with pytest.raises(OptionError, match="^--beam 0 is out of range"):
        SequenceGenerator([], None, beam_size=0)
    with pytest.raises(OptionError, match="^--tokens-per-sample 0 is out of range"):
        TokenBlockDataset([], [], 0, pad=1, eos=2)
