"""Training cost by width: forward+backward steps per second of each Macaron model against its baseline twin.

Both models of a pair are built as fairseq-train builds them, from the same flags but for the FFN width (the
baseline's one FFN against Macaron's two of half its width), given the same random batches, and timed in
alternation in one process: baseline, Macaron, Macaron, baseline in one round, the other way round in the next. Whatever else the machine does
then falls on both alike, and the ratio of each width is the median of its per-round ratios. On a GPU the steps run
in bf16 autocast and each is timed to its end (``torch.cuda.synchronize``).

    python -m macaron_tools.runs.throughput [--device cpu|cuda] [--widths d128 d256 ...] [--rounds N]
        [--batch-tokens N] [--json OUT]

The widths are the paper's and this project's: d 128 (FFN 512, 2+2 layers, the CPU setting), d 256 (1024, 3+3),
d 512 with FFN 1024 (6+6, IWSLT14 small), d 512 with FFN 2048 (6+6, WMT14 base), d 1024 with FFN 4096 (6+6, big).
"""

import argparse
import dataclasses
import statistics
import sys
import time
from typing import Dict, List

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_fairseq.modules.splitting_scheme import DEFAULT_SCHEME, macaron_ffn_width
from macaron_tools.runs.machine import processor_name


@dataclasses.dataclass(frozen=True)
class Width:
    dim: int
    ffn: int  # the baseline's FFN; each of Macaron's two FFNs has half of it
    layers: int  # encoder and decoder layers each
    heads: int


WIDTHS: Dict[str, Width] = {
    "d128": Width(128, 512, 2, 4),
    "d256": Width(256, 1024, 3, 4),
    "d512-ffn1024": Width(512, 1024, 6, 4),
    "d512-ffn2048": Width(512, 2048, 6, 8),
    "d1024-ffn4096": Width(1024, 4096, 6, 16),
}
MODELS = ("baseline", "macaron")


@dataclasses.dataclass
class WidthResult:
    width: str
    layers: int
    parameters: Dict[str, int]
    steps_per_second: Dict[str, float]  # over all timed steps of the model
    ratio: float  # median over rounds of Macaron's steps/s over the baseline's

    def row(self):
        return [self.width, f"{self.layers}+{self.layers}", f"{self.parameters['baseline']:,}",
                f"{self.parameters['macaron']:,}", f"{self.steps_per_second['baseline']:.2f}",
                f"{self.steps_per_second['macaron']:.2f}", f"{self.ratio:.3f}"]


def build_pair(width: Width, vocabulary: int, device):
    """The baseline ``transformer`` and ``macaron_transformer`` of ``width``, pre-norm as in the recipes."""
    from fairseq import options
    from fairseq.data import Dictionary
    from fairseq.tasks.translation import TranslationTask

    import macaron_fairseq.models  # noqa: F401  registers the Macaron architectures

    dictionary = Dictionary()
    for i in range(vocabulary - len(dictionary)):
        dictionary.add_symbol(f"w{i}")
    shape = ["--encoder-embed-dim", width.dim, "--decoder-embed-dim", width.dim,
             "--encoder-layers", width.layers, "--decoder-layers", width.layers,
             "--encoder-attention-heads", width.heads, "--decoder-attention-heads", width.heads,
             "--encoder-normalize-before", "--decoder-normalize-before", "--share-all-embeddings",
             "--dropout", 0.1, "--attention-dropout", 0.1, "--activation-dropout", 0.1]
    models = {}
    twins = (("baseline", "transformer", width.ffn),
             ("macaron", "macaron_transformer", macaron_ffn_width(width.ffn, DEFAULT_SCHEME)))
    for model, arch, ffn in twins:
        flags = ["unused-data-dir", "--task", "translation", "--source-lang", "src", "--target-lang", "tgt",
                 "--arch", arch, *shape, "--encoder-ffn-embed-dim", ffn, "--decoder-ffn-embed-dim", ffn]
        args = options.parse_args_and_arch(options.get_training_parser(), [str(flag) for flag in flags])
        models[model] = TranslationTask(args, dictionary, dictionary).build_model(args).to(device).train()
    return models, dictionary


def random_batch(dictionary, batch_tokens, length, device, generator):
    import torch

    sentences = max(1, batch_tokens // length)
    low, high = dictionary.nspecial, len(dictionary)
    source = torch.randint(low, high, (sentences, length), generator=generator)
    target = torch.randint(low, high, (sentences, length), generator=generator)
    previous = torch.cat([torch.full((sentences, 1), dictionary.eos()), target[:, :-1]], dim=1)
    lengths = torch.full((sentences,), length)
    return [t.to(device) for t in (source, lengths, previous, target)]


def timed_step(model, batch, device):
    """Seconds of one forward and backward pass of ``model`` on ``batch``."""
    import torch

    source, lengths, previous, target = batch
    model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        logits, _ = model(source, lengths, previous)
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target.flatten())
    loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def measure(width_name, width, device, rounds, batch_tokens, length, vocabulary, seed=1) -> WidthResult:
    import torch

    torch.manual_seed(seed)
    models, dictionary = build_pair(width, vocabulary, device)
    generator = torch.Generator().manual_seed(seed)
    seconds: Dict[str, List[float]] = {model: [] for model in MODELS}
    ratios = []
    for round_index in range(rounds + 1):  # round 0 warms up (allocator, kernels) and is not counted
        batch = random_batch(dictionary, batch_tokens, length, device, generator)
        this_round = {model: 0.0 for model in MODELS}
        # ABBA in even rounds, BAAB in odd ones: a drift in speed within a round, and the first step's cost of a
        # new batch, fall on both models alike
        order = ("baseline", "macaron") if round_index % 2 == 0 else ("macaron", "baseline")
        for model in order + order[::-1]:
            this_round[model] += timed_step(models[model], batch, device)
        if round_index == 0:
            continue
        for model in MODELS:
            seconds[model].append(this_round[model] / 2)
        ratios.append(this_round["baseline"] / this_round["macaron"])
    return WidthResult(
        width=width_name,
        layers=width.layers,
        parameters={model: sum(p.numel() for p in models[model].parameters()) for model in MODELS},
        steps_per_second={model: len(seconds[model]) / sum(seconds[model]) for model in MODELS},
        ratio=statistics.median(ratios),
    )


def table(results: List[WidthResult]):
    header = ["width", "layers", "baseline params", "Macaron params", "baseline steps/s", "Macaron steps/s",
              "Macaron / baseline"]
    rows = [header, ["---"] * len(header)] + [result.row() for result in results]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def describe_device(device):
    import os

    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, bf16 autocast"
    return f"{len(os.sched_getaffinity(0))} CPU cores ({processor_name()}), {torch.get_num_threads()} threads, fp32"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when a GPU is there, else cpu")
    parser.add_argument("--widths", nargs="+", choices=list(WIDTHS), default=list(WIDTHS),
                        help="which widths to measure (default: all)")
    parser.add_argument("--rounds", type=int, help="timed rounds per width, each 2 steps per model "
                        "(default: 4 on the CPU, 20 on a GPU)")
    parser.add_argument("--batch-tokens", type=int, help="source (and target) tokens per batch "
                        "(default: 512 on the CPU, 8192 on a GPU)")
    parser.add_argument("--length", type=int, default=32, help="tokens per sentence (default 32)")
    parser.add_argument("--vocabulary", type=int, default=8000, help="joined dictionary size (default 8000)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--markdown", help="also write the table here, with the device and the command")
    args = parser.parse_args(argv)
    for name in ("rounds", "batch_tokens", "length", "vocabulary"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more, got {value}")
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise MacaronFairseqError("--device cuda: no CUDA device is visible; leave --device out to measure on the CPU")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    rounds = args.rounds or (20 if on_gpu else 4)
    batch_tokens = args.batch_tokens or (8192 if on_gpu else 512)
    print(f"[throughput] {describe_device(device)}; {batch_tokens} tokens per batch, sentences of {args.length}, "
          f"{rounds} rounds per width", flush=True)
    results = []
    for name in args.widths:
        result = measure(name, WIDTHS[name], device, rounds, batch_tokens, args.length, args.vocabulary)
        print(f"[throughput] {name}: baseline {result.steps_per_second['baseline']:.2f} steps/s, Macaron "
              f"{result.steps_per_second['macaron']:.2f} steps/s, ratio {result.ratio:.3f}", flush=True)
        results.append(result)
        del result
        if on_gpu:
            torch.cuda.empty_cache()
    print(table(results))
    if args.markdown:
        from macaron_tools.files import write_atomically

        command = "python -m macaron_tools.runs.throughput " + " ".join(argv if argv is not None else sys.argv[1:])
        write_atomically(args.markdown, f"# Training cost by width\n\nProduced by:\n\n```\n{command}\n```\n\n"
                                        f"Measured on {describe_device(device)}; {batch_tokens} tokens per batch, "
                                        f"sentences of {args.length}, {rounds} rounds per width.\n\n"
                                        f"{table(results)}\n")
    if args.json:
        from macaron_tools.files import write_json

        write_json(args.json, {"device": describe_device(device), "batch_tokens": batch_tokens,
                               "length": args.length, "rounds": rounds,
                               "widths": [dataclasses.asdict(result) for result in results]})
    return 0


if __name__ == "__main__":
    run_command(main)
