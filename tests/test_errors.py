"""macaron_fairseq.errors: this project's errors, and fairseq's own refusals of its command line, reach the user as
one line with exit status 1; any other exception keeps its traceback."""

import subprocess
import sys

import pytest

from conftest import PLUGIN_DIR, fairseq_command, run
from macaron_fairseq import errors

ENV = {"OMP_NUM_THREADS": "1"}


def raised_in(module_name, exception):
    """The exception and its traceback, raised by code whose module is ``module_name``."""
    namespace = {"__name__": module_name, "exception": exception}
    try:
        exec("raise exception", namespace)
    except BaseException as error:  # noqa: BLE001
        return error, error.__traceback__


@pytest.mark.parametrize("module_name, exception, refusal", [
    ("fairseq_cli.train", AssertionError("Must specify batch size"), "Must specify batch size"),
    ("fairseq.registry", ValueError("optimizer is required!"), "optimizer is required!"),
    ("fairseq.tasks.translation", FileNotFoundError("Dataset not found: test1 (d)"), "Dataset not found: test1 (d)"),
    ("fairseq.tasks.fairseq_task", Exception("Size of sample #5 is invalid (=(7, 8)) since max_positions=(5, 5)"),
     "Size of sample #5 is invalid (=(7, 8)) since max_positions=(5, 5)"),
    ("fairseq.data.data_utils", Exception("Size of sample #5 is invalid"), "Size of sample #5 is invalid"),
    # fairseq's own failures, not checks of an option: their tracebacks stay
    ("fairseq.sequence_generator", AssertionError("shape"), None),
    ("fairseq_cli.train", AssertionError(), None),
    ("fairseq_cli.train", KeyError("x"), None),
    ("fairseq.tasks.fairseq_task", RuntimeError("inside"), None),
    ("fairseq.tasks.translation", FileNotFoundError(2, "No such file or directory", "d/dict.de.txt"), None),
])
def test_fairseq_refusal(module_name, exception, refusal):
    assert errors.fairseq_refusal(*raised_in(module_name, exception)) == refusal


def test_other_exceptions_go_to_the_hook_before(capsys):
    handed_on = []
    hook = errors.print_one_line(lambda *exc_info: handed_on.append(exc_info[0]))
    hook(*(lambda error, tb: (type(error), error, tb))(*raised_in("somewhere", ValueError("x"))))
    hook(*(lambda error, tb: (type(error), error, tb))(*raised_in("x", errors.MacaronFairseqError("fix it"))))
    assert handed_on == [ValueError]
    assert capsys.readouterr().err == "error: fix it\n"


@pytest.mark.parametrize("tool, arguments, message", [
    ("train", ["--arch", "macaron_transformer", "--optimizer", "adam"],
     "error: Must specify batch size either with --max-tokens or --batch-size (see fairseq-train --help)"),
    ("train", ["--arch", "macaron_transformer", "--max-tokens", 500], "error: optimizer is required! (see "
                                                                      "fairseq-train --help)"),
    ("generate", [], "error: --path required for generation! (see fairseq-generate --help)"),
    ("generate", ["--path", "model.pt", "--sampling", "--beam", 2],
     "error: --sampling requires --nbest to be equal to --beam (see fairseq-generate --help)"),
])
def test_fairseq_refusing_its_command_line_is_one_line(toy_data_bin, tmp_path, tool, arguments, message):
    result = run(fairseq_command(tool, toy_data_bin, "--user-dir", PLUGIN_DIR, "--cpu", "--save-dir",
                                 tmp_path / "save", *arguments) if tool == "train" else
                 fairseq_command(tool, toy_data_bin, "--user-dir", PLUGIN_DIR, "--cpu", *arguments),
                 cwd=tmp_path, check=False, env=ENV)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == message


def test_a_valid_subset_the_data_lacks_is_one_line(toy_data_bin, tmp_path):
    result = run(fairseq_command("train", toy_data_bin, "--user-dir", PLUGIN_DIR, "--cpu", "--arch",
                                 "macaron_transformer", "--optimizer", "adam", "--max-tokens", 500, "--valid-subset",
                                 "test7", "--save-dir", tmp_path / "save"), check=False, env=ENV)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {toy_data_bin}/test7.de-en.de.idx and {toy_data_bin}/test7.de-en.de.bin do not exist: the data folder "
        f"has no test7 split for de-en (it has: test, train, valid); prepare it again, or choose a split it has "
        f"(--valid-subset, --gen-subset)")


def test_a_python_tool_without_the_plugin_keeps_tracebacks_of_bugs(tmp_path):
    result = subprocess.run([sys.executable, "-c", "import macaron_fairseq; raise AssertionError('a bug')"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" in result.stderr
