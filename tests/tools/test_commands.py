"""Every ``python -m macaron_tools.*`` command reads its command line with argparse: ``--help`` answers, and an
argument it does not know is refused with exit status 2 rather than ignored."""

import importlib
import importlib.util
import pkgutil

import pytest

import macaron_tools


def command_modules():
    """The modules of macaron_tools that run as a command."""
    names = []
    for module in pkgutil.walk_packages(macaron_tools.__path__, "macaron_tools."):
        spec = importlib.util.find_spec(module.name)
        with open(spec.origin, encoding="utf-8") as f:
            if 'if __name__ == "__main__":' in f.read():
                names.append(module.name)
    return sorted(names)


def test_the_commands_are_found():
    assert {"macaron_tools.runs.machine", "macaron_tools.scoring.bleu", "macaron_tools.average_checkpoints",
            "macaron_tools.reports.comparison"} <= set(command_modules())


@pytest.mark.parametrize("name", command_modules())
def test_an_unknown_argument_is_refused(name, capsys):
    with pytest.raises(SystemExit) as exited:
        importlib.import_module(name).main(["--no-such-option"])
    assert exited.value.code == 2
    assert "error: " in capsys.readouterr().err
