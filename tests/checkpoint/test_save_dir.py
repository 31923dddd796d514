"""fairseq-train with a --save-dir that cannot hold checkpoints (a file, a folder inside a file) stops in one line
naming it, before any data is read."""

import pytest

from conftest import PLUGIN_DIR, fairseq_command, run


@pytest.mark.parametrize("inside", [False, True])
def test_a_save_dir_in_a_file_is_one_line(toy_data_bin, tmp_path, inside):
    (tmp_path / "a-file").write_text("not a folder\n")
    save_dir = tmp_path / "a-file" / "run" if inside else tmp_path / "a-file"
    result = run(fairseq_command(
        "train", toy_data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", "--optimizer", "adam",
        "--max-tokens", 500, "--cpu", "--save-dir", save_dir,
    ), check=False, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    expected = (f"error: --save-dir {save_dir} cannot hold checkpoints (Not a directory: {save_dir}): give a folder "
                f"you can write" if inside else f"error: --save-dir {save_dir} is a file: give a folder")
    assert result.stderr.strip().splitlines()[-1] == expected
    assert (tmp_path / "a-file").read_text() == "not a folder\n"
