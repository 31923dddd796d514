"""Is one system's BLEU really higher than another's? Paired bootstrap resampling (Koehn 2004), as sacreBLEU does it.

Both systems' detokenized hypotheses are scored with sacreBLEU on the same resamples of the test set; the p-value
is the chance of a BLEU difference at least as large as the observed one if the systems were equally good. The
test is sacreBLEU's own (``sacrebleu.significance.PairedTest``, the ``--paired-bs`` of its command line), with its
fixed seed (environment variable SACREBLEU_SEED, default 12345), so a rerun gives the same p-value.

    python -m macaron_tools.scoring.significance --baseline transformer/test.hyp.detok \\
        --system macaron/test.hyp.detok --reference refs/test.detok.en [--samples 1000] [--lowercase] [--json OUT]
"""

import argparse
import dataclasses
import logging
from typing import Optional, Tuple

from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from macaron_fairseq.errors import run_command
from macaron_tools.files import read_lines, require_input_file, require_writable_output, write_json
from macaron_tools.scoring.bleu import check_same_count

DEFAULT_SAMPLES = 1000


@dataclasses.dataclass
class PairedBootstrapResult:
    baseline_bleu: float
    system_bleu: float
    p_value: float
    samples: int
    signature: str
    baseline_ci: Optional[Tuple[float, float]] = None  # bootstrap mean and 95 % half-width
    system_ci: Optional[Tuple[float, float]] = None


def paired_bootstrap(baseline, system, references, samples=DEFAULT_SAMPLES, lowercase=False):
    """Paired bootstrap test of detokenized ``system`` against ``baseline`` hypotheses on the same ``references``."""
    check_same_count(baseline, "the baseline hypotheses", references, "the references")
    check_same_count(system, "the system hypotheses", references, "the references")
    bleu = BLEU(lowercase=lowercase)
    baseline_score = bleu.corpus_score(baseline, [references]).score
    system_score = bleu.corpus_score(system, [references]).score
    if system_score == baseline_score:
        # sacreBLEU counts resampled differences strictly above the observed one; with no observed difference
        # (identical outputs, or two systems both at BLEU 0) it would report p = 1/(samples+1), "significant".
        # No difference is p = 1.
        return PairedBootstrapResult(baseline_score, system_score, 1.0, samples, str(bleu.get_signature()))
    test = PairedTest(
        named_systems=[("baseline", baseline), ("system", system)],
        metrics={"BLEU": bleu},
        references=[references],
        test_type="bs",
        n_samples=samples,
    )
    signatures, scores = test()
    baseline_result, system_result = scores["BLEU"]
    return PairedBootstrapResult(
        baseline_bleu=baseline_result.score,
        system_bleu=system_result.score,
        p_value=system_result.p_value,
        samples=samples,
        signature=str(signatures["BLEU"]),
        baseline_ci=(float(baseline_result.mean), float(baseline_result.ci)),
        system_ci=(float(system_result.mean), float(system_result.ci)),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="detokenized hypotheses of the baseline, one per line")
    parser.add_argument("--system", required=True, help="detokenized hypotheses of the system compared with it")
    parser.add_argument("--reference", required=True, help="untokenized references, one per line")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help=f"resamples (default {DEFAULT_SAMPLES})")
    parser.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    parser.add_argument("--json", help="also write the result here as JSON")
    args = parser.parse_args(argv)
    logging.getLogger("sacrebleu").setLevel(logging.WARNING)  # its progress lines
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    for option, path, what in (("--baseline", args.baseline, "the baseline's detokenized hypotheses"),
                               ("--system", args.system, "the system's detokenized hypotheses"),
                               ("--reference", args.reference, "the untokenized references")):
        require_input_file(path, option, what)
    if args.json:
        require_writable_output(args.json, "--json")

    baseline, system, references = (list(read_lines(p)) for p in (args.baseline, args.system, args.reference))
    # Name the files, not "the baseline hypotheses", when counts differ.
    check_same_count(baseline, args.baseline, references, args.reference)
    check_same_count(system, args.system, references, args.reference)
    result = paired_bootstrap(baseline, system, references, samples=args.samples, lowercase=args.lowercase)

    print(f"baseline BLEU {result.baseline_bleu:.2f}  system BLEU {result.system_bleu:.2f}  "
          f"difference {result.system_bleu - result.baseline_bleu:+.2f}  p = {result.p_value:.4f}")
    print(f"paired bootstrap, {result.samples} resamples: {result.signature}")
    if args.json:
        write_json(args.json, dataclasses.asdict(result))
    return 0


if __name__ == "__main__":
    run_command(main)
