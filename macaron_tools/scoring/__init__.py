"""Scoring a trained model: BLEU and chrF of fairseq-generate's output, COMET, perplexity, significance, and the
evaluation record that holds them."""
