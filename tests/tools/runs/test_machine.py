"""The machine's one line, and the command that prints it."""

import sys

from conftest import run


def test_the_command_prints_the_machine_and_refuses_an_unknown_argument():
    result = run([sys.executable, "-m", "macaron_tools.runs.machine"])
    assert result.stdout.count("\n") == 1 and " CPU cores (" in result.stdout and "; Python " in result.stdout

    result = run([sys.executable, "-m", "macaron_tools.runs.machine", "--bogus"], check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == ("python -m macaron_tools.runs.machine: error: unrecognized arguments: "
                                              "--bogus")
