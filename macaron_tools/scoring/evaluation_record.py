"""The record of one evaluation, ``eval/result.json``: what was decoded, how, and every split's scores.

scripts/evaluate.sh writes it (``python -m macaron_tools.scoring.result``), the comparison report reads it.
Both go through these types, so the report reads fields and never parses strings such as sacreBLEU's signature.
"""

import dataclasses
import json
from typing import Dict, List, Optional

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.files import write_json


@dataclasses.dataclass
class SplitScores:
    hypotheses: int
    sacrebleu: float
    sacrebleu_signature: str
    chrf: float
    chrf_signature: str
    tokenized_bleu: float
    tokenized_bleu_variant: str  # "lowercase" or "compound-split", see bleu.py
    lowercase: bool  # sacreBLEU and chrF ignored case (a system trained on lowercased text)
    references: Dict[str, Optional[str]]  # {"detok": FILE, "tok": FILE}; detok None: the log's own T- lines
    decode_seconds: Optional[float] = None
    sentences_per_second: Optional[float] = None
    generated_tokens: Optional[int] = None
    tokens_per_second: Optional[float] = None  # generated (subword) tokens per second, beam search included
    comet: Optional[float] = None
    comet_model: Optional[str] = None


@dataclasses.dataclass
class Decoding:
    beam: int
    lenpen: float
    max_len_a: float
    max_len_b: int


@dataclasses.dataclass
class EvaluationRecord:
    setting: str
    source_lang: str
    target_lang: str
    checkpoint: str
    averaged: Optional[List[str]]  # the checkpoints averaged into ``checkpoint``, newest first
    data_dir: str
    decoding: Decoding
    primary_split: str
    splits: Dict[str, SplitScores]

    @property
    def primary(self) -> SplitScores:
        return self.splits[self.primary_split]

    def write(self, path):
        write_json(path, dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, fields):
        fields = dict(fields)
        fields["decoding"] = Decoding(**fields["decoding"])
        fields["splits"] = {name: SplitScores(**scores) for name, scores in fields["splits"].items()}
        return cls(**fields)

    @classmethod
    def read(cls, path):
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_dict(json.load(f))
        except FileNotFoundError:
            raise MacaronFairseqError(f"{path} does not exist: evaluate the run first (scripts/evaluate.sh)") from None
        except (ValueError, TypeError, KeyError) as error:
            raise MacaronFairseqError(
                f"{path} is not an evaluation record of this version ({type(error).__name__}: {error}): "
                f"evaluate the run again (scripts/evaluate.sh)"
            ) from None
