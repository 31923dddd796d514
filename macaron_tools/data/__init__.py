"""Corpus preparation: raw text to the tokenized, BPE-encoded text fairseq-preprocess binarizes, and what a prepared
folder records about it (``corpus.json``)."""
