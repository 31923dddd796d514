"""``result.json`` of one evaluation: what was decoded, how, and the scores of every split; and its summary.

scripts/evaluate.sh scores each split with ``python -m macaron_fairseq.evaluation.bleu --json SPLIT.json`` and then
gathers them here::

    python -m macaron_fairseq.evaluation.result --output eval/result.json --setting iwslt14 \\
        --checkpoint eval/checkpoint_avg_last5.pt --averaged c5.pt c4.pt ... --beam 5 --lenpen 1.0 \\
        --split test=work/test.json --split test1=work/test1.json

The first ``--split`` is the primary one, whose scores also stand at the top level of the file.
"""

import argparse
import json
import sys

from macaron_fairseq.evaluation.files import write_json

PRIMARY_FIELDS = (
    "sacrebleu", "sacrebleu_signature", "tokenized_bleu", "tokenized_bleu_variant",
    "sentences", "decode_seconds", "sentences_per_second",
)


def split_scores(text):
    """argparse type of ``--split NAME=FILE``: (name, the scores bleu.py wrote to FILE)."""
    name, separator, path = text.partition("=")
    if not separator or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE, got {text!r}")
    with open(path, encoding="utf-8") as f:
        return name, json.load(f)


def build_result(setting, checkpoint, averaged, beam, lenpen, splits, **extra):
    """The content of result.json; ``splits`` is a list of (name, scores), primary first."""
    primary, primary_scores = splits[0]
    result = {
        "setting": setting,
        "checkpoint": checkpoint,
        "averaged": averaged,
        "beam": beam,
        "lenpen": lenpen,
        "split": primary,
        **{field: primary_scores.get(field) for field in PRIMARY_FIELDS},
        **extra,
        "splits": dict(splits),
    }
    return result


def summary(result):
    lines = [f"setting {result['setting']}: {result['checkpoint']}"]
    if result["averaged"]:
        lines.append(f"  average of {len(result['averaged'])}: " + " ".join(result["averaged"]))
    for name, scores in result["splits"].items():
        speed = scores.get("sentences_per_second")
        lines.append(
            f"  {name:<8} {scores['sentences']:>6} sentences   sacreBLEU {scores['sacrebleu']:6.2f}   "
            f"tokenized BLEU ({scores['tokenized_bleu_variant']}) {scores['tokenized_bleu']:6.2f}"
            + (f"   {speed:.1f} sentences/s" if speed is not None else "")
        )
    lines.append(f"  sacreBLEU signature: {result['sacrebleu_signature']}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="result.json to write")
    parser.add_argument("--setting", required=True)
    parser.add_argument("--checkpoint", required=True, help="the checkpoint decoded")
    parser.add_argument("--averaged", nargs="+", help="the checkpoints averaged into --checkpoint, if any")
    parser.add_argument("--beam", type=int, required=True)
    parser.add_argument("--lenpen", type=float, required=True)
    parser.add_argument("--max-len-a", type=float, help="hypotheses were capped at A x source length + B")
    parser.add_argument("--max-len-b", type=int)
    parser.add_argument("--data-dir", help="the binarized data decoded")
    parser.add_argument("--split", dest="splits", type=split_scores, action="append", required=True,
                        metavar="NAME=FILE", help="a split and its scores (bleu.py --json); the first is primary")
    args = parser.parse_args(argv)

    result = build_result(
        args.setting, args.checkpoint, args.averaged, args.beam, args.lenpen, args.splits, data_dir=args.data_dir,
        max_len_a=args.max_len_a, max_len_b=args.max_len_b,
    )
    write_json(args.output, result)
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
