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


def fairseq_train(data, save_dir, *options):
    from conftest import PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command

    return fairseq_command(
        "train", data, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32, "--optimizer", "adam", "--max-tokens", 200,
        "--max-update", 3, "--cpu", "--save-dir", save_dir, "--num-workers", 0, "--no-progress-bar", *options)


@pytest.mark.parametrize("lr", ["-0.01", "0.5,-1"])
def test_fairseq_train_refuses_a_negative_lr_before_training(toy_data_bin, tmp_path, lr):
    from conftest import run

    result = run(fairseq_train(toy_data_bin, tmp_path / "save", "--lr", lr), check=False,
                 env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.splitlines()[-1] == (f"error: --lr {float(lr.split(',')[-1])} is out of range: pass a finite "
                                              f"learning rate of at least 0 (e.g. --lr 5e-4)")
    assert "Start iterating over samples" not in result.stdout + result.stderr
    assert not list((tmp_path / "save").glob("*.pt"))


def test_a_run_that_diverges_stops_with_one_line_and_leaves_no_crash_file(toy_data_bin, tmp_path):
    from conftest import run

    result = run(fairseq_train(toy_data_bin, tmp_path / "save", "--lr", "1e30"), check=False,
                 env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: training diverged at update ") and last.endswith(
        ": the gradients are NaN or infinite (--lr 1e+30): lower --lr, warm up for longer (--warmup-updates), or "
        "clip gradients (--clip-norm)"), last
    assert not (tmp_path / "save" / "crash.pt").exists()


def trainer_with_lr(*lr):
    class Trainer:
        class cfg:
            class optimization:
                pass

    Trainer.cfg.optimization.lr = list(lr)
    return Trainer


def test_a_learning_rate_of_zero_is_accepted_and_a_non_finite_one_refused():
    """fairseq's command line refuses nan and inf itself; a config (fairseq-hydra-train) does not."""
    calls = []
    checked = option_checks.refuse_bad_learning_rate(lambda trainer: calls.append(trainer))
    trainer = trainer_with_lr(0.0)
    checked(trainer)
    assert calls == [trainer]
    for bad in (float("nan"), float("inf")):
        with pytest.raises(OptionError, match=rf"^--lr {bad} is out of range"):
            checked(trainer_with_lr(1e-3, bad))
