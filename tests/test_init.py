"""Importing the plugin changes nothing in the importing process; fairseq loading it registers it; the commands,
fairseq's and the tools', print the plugin's errors as one line."""

import subprocess
import sys

from conftest import REPO_ROOT

IMPORTED_ALONE = """
import sys
hook = sys.excepthook
import macaron_fairseq
assert sys.excepthook is hook
print(sorted(name for name in ("torch", "fairseq") if name in sys.modules))
"""

IMPORTED_AFTER_FAIRSEQ = """
import sys
hook = sys.excepthook
import fairseq
import macaron_fairseq
from fairseq.models import ARCH_MODEL_REGISTRY
from macaron_fairseq.fairseq_fixes import FIXES
assert sys.excepthook is hook
print("macaron_transformer" in ARCH_MODEL_REGISTRY, [fix.target for fix in FIXES if not fix.is_applied()])
"""

TOOL_RAISING = """
from macaron_fairseq.errors import MacaronFairseqError, run_command

def main():
    raise MacaronFairseqError("the input is bad: fix it")

run_command(main)
"""


def python(code):
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_importing_the_package_keeps_the_exception_hook_and_loads_neither_torch_nor_fairseq():
    result = python(IMPORTED_ALONE)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr[-3000:]


def test_imported_after_fairseq_it_registers_and_fixes_fairseq_but_keeps_the_exception_hook():
    result = python(IMPORTED_AFTER_FAIRSEQ)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "True []"


def test_a_tool_run_through_run_command_prints_its_error_in_one_line_without_fairseq():
    result = python(TOOL_RAISING)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "error: the input is bad: fix it\n")


def test_the_same_error_outside_a_command_keeps_its_traceback():
    result = python("import macaron_fairseq\nfrom macaron_fairseq.errors import MacaronFairseqError\n"
                    "raise MacaronFairseqError('the input is bad: fix it')\n")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback") and result.stderr.endswith(
        "MacaronFairseqError: the input is bad: fix it\n")
