"""Bad input a new user plausibly gives, across scripts: each refused in one line with a non-zero status before
anything slow runs (scripts/main.sh checks its environment before setting anything up)."""

import pytest

from conftest import REPO_ROOT, run

MAIN_SH = REPO_ROOT / "scripts" / "main.sh"


@pytest.mark.parametrize("variable, value, message", [
    ("MULTI30K_RAW_DIR", "/nonexistent/multi30k", "error: MULTI30K_RAW_DIR=/nonexistent/multi30k is not a folder: "
                                                  "set it to the folder of Multi30k's raw .gz files, or unset it to "
                                                  "download them"),
    ("MAIN_MAX_UPDATE", "abc", "error: MAIN_MAX_UPDATE=abc: give a number of updates, 1 or more (or unset it for "
                               "the setting's)"),
    ("MAIN_MAX_UPDATE", "0", "error: MAIN_MAX_UPDATE=0: give a number of updates"),
    ("MAIN_SEEDS", "1,2", 'error: MAIN_SEEDS=1,2: give whole numbers separated by spaces, e.g. MAIN_SEEDS="1 2"'),
    ("MAIN_SEEDS", "", "error: MAIN_SEEDS=: give whole numbers"),
])
def test_main_sh_refuses_a_bad_environment_before_setting_up(tmp_path, variable, value, message):
    # a wrong MULTI30K_RAW_DIR must not fall back to the synthetic corpus and train for minutes on it
    result = run(["bash", MAIN_SH], cwd=tmp_path, check=False, env={variable: value}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""  # not even the set-up has started
