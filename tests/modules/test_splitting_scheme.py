"""The scheme table of ``--macaron-scheme``."""

import pytest

from macaron_fairseq.modules.splitting_scheme import HALF_WIDTH_SCHEMES, SCHEMES, has_half_steps, macaron_ffn_width


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_each_scheme_steps_every_branch_once_per_unit_of_time(scheme):
    """A splitting step of dx/dt = A + C + F advances each branch by one unit of time: FFN half steps come in pairs."""
    steps = SCHEMES[scheme]
    assert len({step.name for step in steps}) == len(steps)  # the names of the learned step sizes
    attention = [step.branch for step in steps if step.branch.endswith("attn")]
    assert attention == ["self_attn", "encoder_attn"]  # the decoder's order: C right after A
    ffn_steps = [step for step in steps if "ffn" in step.branch]
    assert len(ffn_steps) == (2 if has_half_steps(scheme) else 1)
    assert all(step.half_step == has_half_steps(scheme) for step in ffn_steps)


def test_only_strang_has_two_ffns_and_halves_their_width():
    assert HALF_WIDTH_SCHEMES == ("strang",)
    ffns = {scheme: {step.branch for step in steps if "ffn" in step.branch} for scheme, steps in SCHEMES.items()}
    assert ffns == {"strang": {"ffn", "macaron_ffn"}, "strang-tied": {"ffn"}, "lie-trotter": {"ffn"},
                    "reversed-lie-trotter": {"ffn"}}
    assert [has_half_steps(scheme) for scheme in SCHEMES] == [True, True, False, False]


def test_the_parity_rule_halves_the_width_of_each_of_two_ffns_only():
    assert macaron_ffn_width(2048, "strang") == 1024
    for scheme in ("strang-tied", "lie-trotter", "reversed-lie-trotter"):
        assert macaron_ffn_width(2048, scheme) == 2048
