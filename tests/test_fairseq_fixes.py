"""The plugin's changes to fairseq and torch: each applied once, from one place; the tools that need no fairseq
start without importing it or torch."""

import pkgutil
import re
import subprocess
import sys

import pytest

import macaron_fairseq
from conftest import REPO_ROOT
from macaron_fairseq import fairseq_fixes
from macaron_fairseq.fairseq_fixes import FIXES, Wrap, apply_fixes, patch


@pytest.mark.parametrize("fix", FIXES, ids=lambda fix: fix.target)
def test_every_listed_fix_is_applied_once_the_plugin_is_registered(fix):
    assert fix.is_applied()
    assert fix.fixes and fix.works_around


def test_applying_the_fixes_again_wraps_nothing_twice():
    wraps = [fix for fix in FIXES if isinstance(fix, Wrap)]
    before = [getattr(*fix.owner_and_name()) for fix in wraps]
    apply_fixes()
    macaron_fairseq.register()
    assert [getattr(*fix.owner_and_name()) for fix in wraps] == before
    for fix, replacement in zip(wraps, before):
        original = replacement.__wrapped__
        assert getattr(original, fairseq_fixes.PATCHED_BY, None) is None, f"{fix.target} is wrapped twice"


LOADED_AS_USER_DIR = """
import sys
from fairseq import options
from fairseq.models import ARCH_MODEL_REGISTRY
options.parse_args_and_arch(options.get_training_parser(), input_args=[
    "data-bin", "--task", "translation", "--user-dir", "macaron_fairseq", "--arch", "macaron_transformer"])
from macaron_fairseq.fairseq_fixes import FIXES
print("macaron_transformer" in ARCH_MODEL_REGISTRY, [fix.target for fix in FIXES if not fix.is_applied()])
"""


def test_fairseq_loading_the_relative_user_dir_registers_the_models_and_applies_every_fix():
    result = subprocess.run([sys.executable, "-c", LOADED_AS_USER_DIR], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "True []"


def test_each_target_is_changed_by_one_fix():
    targets = [fix.target for fix in FIXES]
    assert len(set(targets)) == len(targets)


class Owner:
    @staticmethod
    def double(x):
        return 2 * x

    def triple(self, x):
        return 3 * x


def add_one(function):
    def function_plus_one(*args):
        return function(*args) + 1

    return function_plus_one


@pytest.mark.parametrize("name", ["double", "triple"])
def test_patch_wraps_once_and_keeps_static_methods_static(monkeypatch, name):
    monkeypatch.setattr(Owner, name, Owner.__dict__[name])  # restored after the test
    patch(Owner, name, add_one)
    patch(Owner, name, add_one)
    assert getattr(Owner(), name)(10) == (21 if name == "double" else 31)
    assert fairseq_fixes.is_patched(Owner, name, add_one)


LIGHT_PACKAGES = ("macaron_fairseq.data", "macaron_tools.data", "macaron_tools.scoring", "macaron_tools.runs",
                  "macaron_tools.reports")
"""The packages whose every module starts without torch or fairseq: the plugin's data fixes (fairseq imported
only when applied), and the tools for corpus preparation, tokenization, BPE, scoring, records, side-by-side runs,
log parsing, the throughput table's front end, reports and significance."""


def light_modules():
    return sorted(
        f"{package}.{module.name}"
        for package in LIGHT_PACKAGES
        for module in pkgutil.iter_modules([str(REPO_ROOT.joinpath(*package.split(".")))])
    )


IMPORTED_TOP_LEVEL = re.compile(r"\|\s+(torch|fairseq)$", flags=re.MULTILINE)
"""A line of ``python -X importtime`` for the import of the torch or fairseq package itself."""


def heavy_imports_of(module):
    """torch and fairseq, as far as ``python -X importtime -m module --help`` imports them."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, "--help"], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return IMPORTED_TOP_LEVEL.findall(result.stderr)


@pytest.mark.parametrize("module", light_modules())
def test_tools_start_without_torch_or_fairseq(module):
    assert heavy_imports_of(module) == []


def test_the_import_check_sees_torch_where_a_tool_needs_it():
    assert heavy_imports_of("macaron_tools.average_checkpoints") == ["torch"]


def test_token_blocks_of_one_sentence_each_build_under_numpy_2():
    """fairseq-train --task language_modeling --sample-break-mode eos builds this dataset (np.compat.long)."""
    import torch
    from fairseq.data import TokenBlockDataset

    sentences = [torch.tensor([4, 5, 2]), torch.tensor([6, 2]), torch.tensor([7, 8, 9, 2])]
    blocks = TokenBlockDataset(sentences, [3, 2, 4], block_size=None, pad=1, eos=2, break_mode="eos")
    assert [blocks[i].tolist() for i in range(len(blocks))] == [sentence.tolist() for sentence in sentences]


def test_numpy_compat_holds_numpy_1s_long_and_nothing_else():
    import numpy

    assert numpy.compat.long is int
    assert vars(fairseq_fixes.NUMPY_1_COMPAT_LONG) == {"long": int}
