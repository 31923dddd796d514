"""Importing the plugin changes nothing in the importing process; fairseq loading it registers it and loads none of
the tools; the commands, fairseq's and the tools', print the plugin's errors as one line."""

import ast
import json
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


LOADED_BY_FAIRSEQ = """
import argparse, ast, importlib, json, pathlib, sys
plugin = pathlib.Path(sys.argv[1])
import fairseq
# The fairseq modules the plugin's files import, imported first: what they bring with them is fairseq's.
for path in sorted(plugin.rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else \\
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            if name.partition(".")[0] == "fairseq":
                importlib.import_module(name)
before = {name.partition(".")[0] for name in sys.modules}
from fairseq import utils
utils.import_user_module(argparse.Namespace(user_dir=str(plugin)))
print(json.dumps({"new": sorted({name.partition(".")[0] for name in sys.modules} - before),
                  "tools": sorted(name for name in sys.modules if name.partition(".")[0] == "macaron_tools"),
                  "plugin": sorted(name for name in sys.modules if name.startswith("macaron_fairseq."))}))
"""


def test_fairseq_loading_the_plugin_imports_no_tool_and_no_package_beyond_fairseqs_own(tmp_path):
    result = subprocess.run([sys.executable, "-c", LOADED_BY_FAIRSEQ, str(REPO_ROOT / "macaron_fairseq")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["tools"] == []
    assert [name for name in loaded["new"] if name not in sys.stdlib_module_names] == ["macaron_fairseq"]
    assert "macaron_fairseq.models.macaron_transformer" in loaded["plugin"]



def imported_modules(path):
    """The absolute module names a Python file imports."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_no_module_of_the_plugin_imports_the_tools():
    plugin = REPO_ROOT / "macaron_fairseq"
    offending = {}
    for path in sorted(plugin.rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        tools = [name for name in imported_modules(path) if name.partition(".")[0] == "macaron_tools"]
        if tools:
            offending[module] = tools
    assert offending == {}
