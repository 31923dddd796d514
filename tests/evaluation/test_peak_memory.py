"""peak_memory: the peak resident memory of a command's processes, and its exit status passed on."""

import json
import sys

from macaron_fairseq.evaluation import peak_memory


def test_records_the_peak_of_a_child_process_and_its_status(tmp_path):
    output = tmp_path / "peak.json"
    # a grandchild (through a shell, as train.sh runs fairseq-train) that touches 150 MiB, then exits 3
    child = f"{sys.executable} -c 'b = bytearray(150 * 2**20); b[::4096] = b\"x\" * len(b[::4096])'; exit 3"
    status = peak_memory.main(["--output", str(output), "--", "bash", "-c", child])
    recorded = json.loads(output.read_text())
    assert status == 3 and recorded["exit_status"] == 3
    assert recorded["peak_rss_mib"] >= 150
    assert recorded["command"][:2] == ["bash", "-c"]
