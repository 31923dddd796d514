"""throughput: both models of a width built as fairseq builds them, stepped in alternation; a ratio per width."""

import json

import pytest

from macaron_tools.runs import throughput


def test_each_width_pairs_the_baseline_with_its_parameter_matched_twin():
    for width in throughput.WIDTHS.values():
        assert width.dim % width.heads == 0 and width.ffn % 2 == 0
    # the paper's widths: d 512 with FFN 1024 (IWSLT14) and 2048 (WMT14 base), d 1024 with 4096 (big), 6+6 layers
    assert {(w.dim, w.ffn, w.layers) for w in throughput.WIDTHS.values()} >= {(512, 1024, 6), (512, 2048, 6),
                                                                              (1024, 4096, 6)}


def test_measures_a_width_and_writes_the_table(tmp_path, capsys):
    output = tmp_path / "throughput.json"
    throughput.main(["--device", "cpu", "--widths", "d128", "--rounds", "2", "--batch-tokens", "64",
                     "--length", "8", "--vocabulary", "200", "--json", str(output)])
    printed = capsys.readouterr().out
    assert "| width | layers | baseline params | Macaron params | baseline steps/s | Macaron steps/s |" in printed
    result = json.loads(output.read_text())["widths"][0]
    assert result["width"] == "d128" and result["layers"] == 2
    baseline, macaron = result["parameters"]["baseline"], result["parameters"]["macaron"]
    # one more LayerNorm and FFN output bias per layer (2 x d and d): 3 x 128 x (2 + 2) parameters
    assert macaron - baseline == 3 * 128 * 4
    assert result["ratio"] > 0 and all(v > 0 for v in result["steps_per_second"].values())


def test_refuses_bad_arguments():
    with pytest.raises(SystemExit):
        throughput.parse_args(["--rounds", "0"])
    with pytest.raises(SystemExit):
        throughput.parse_args(["--widths", "d999"])
