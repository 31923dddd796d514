# One definition of each setting's recipe, sourced by train.sh, evaluate.sh, translate.sh, compare.sh and the tests.
#
# The paper's settings follow the authors' public scripts (Lu et al. 2019, fairseq v0.6 fork): pre-norm layers,
# attention and activation dropout 0.1, Adam (0.9, 0.98), inverse_sqrt from 1e-7, label smoothing 0.1, joined
# dictionary with all embeddings shared, no gradient clipping, seed 1. "multi30k" is this project's small setting
# for CPUs and quick GPU checks.
#
# A setting is a recipe, not a corpus: the direction and the preprocessing of the data are the data's own facts
# (DATA_DIR/corpus.json, written by scripts/prepare-*.sh), so `--setting S --data-dir DIR` runs recipe S on any
# prepared corpus.
#
# load_setting NAME sets:
#   DATA_NAME          the data it is normally trained on: its folder under data/data-bin/
#   BASELINE_ARCH      fairseq's architecture;  MACARON_ARCH  its parameter-matched Macaron twin
#   MODEL_FLAGS        architecture flags both models get on top of their preset (array)
#   BASELINE_FLAGS     flags only the baseline gets (array), MACARON_FLAGS likewise
#   LR WARMUP_UPDATES DROPOUT ATTENTION_DROPOUT ACTIVATION_DROPOUT WEIGHT_DECAY
#   MAX_TOKENS         tokens per GPU per forward pass in the recipe
#   RECIPE_GPUS RECIPE_UPDATE_FREQ   the recipe's GPU count and update frequency; tokens per update =
#                      MAX_TOKENS * RECIPE_GPUS * RECIPE_UPDATE_FREQ, which train.sh keeps on any GPU count
#   MAX_UPDATE         default update limit (0: none, as in the authors' scripts)
#   VALIDATE_INTERVAL_UPDATES  validate every N updates as well as after each epoch (0: after each epoch only)
#   PATIENCE           stop after this many validations without a lower validation loss (0: never)
#   BEAM LENPEN        decoding
#   MAX_LEN_A MAX_LEN_B  longest hypothesis: MAX_LEN_A x source length + MAX_LEN_B (fairseq's defaults: 0, 200)
#   TOKENIZED_BLEU     the paper's BLEU variant: "lowercase" (IWSLT) or "compound-split" (WMT14); data whose
#                      corpus.json names one (lowercased text: "lowercase") is scored with that one

SETTINGS=(iwslt14 wmt14-base wmt14-big multi30k multi30k-quick multi30k-iwslt)

# require_setting NAME: load_setting for a script's --setting; a missing or unknown one is a one-line error
# (status 2). Needs die from lib/env.sh.
require_setting() {
  [[ -n "$1" ]] || usage_error "--setting is required: one of ${SETTINGS[*]}"
  load_setting "$1" || exit 2
}

# norm_suffix POST_NORM: "-postnorm" for post-norm runs (POST_NORM 1), else nothing: part of run and report names.
norm_suffix() { if [[ "$1" -eq 1 ]]; then echo -postnorm; fi; }

# run_dir RUNS_DIR MODEL SEED POST_NORM: the folder of one training run, RUNS_DIR/MODEL[-postnorm]-seedN. The runs
# of a setting live in checkpoints/SETTING by default.
run_dir() { echo "$1/$2$(norm_suffix "$4")-seed$3"; }

_paper_defaults() {
  MODEL_FLAGS=(--encoder-normalize-before --decoder-normalize-before --share-all-embeddings)
  BASELINE_FLAGS=(); MACARON_FLAGS=()
  ATTENTION_DROPOUT=0.1; ACTIVATION_DROPOUT=0.1; WEIGHT_DECAY=0
  WARMUP_UPDATES=8000; RECIPE_UPDATE_FREQ=1; MAX_UPDATE=0; VALIDATE_INTERVAL_UPDATES=0; PATIENCE=0
  MAX_LEN_A=0; MAX_LEN_B=200
}

load_setting() {
  _paper_defaults
  case "$1" in
    iwslt14)
      DATA_NAME=iwslt14.de-en
      BASELINE_ARCH=transformer_iwslt_de_en; MACARON_ARCH=macaron_transformer_iwslt_de_en
      LR=1.5e-3; DROPOUT=0.3; WEIGHT_DECAY=1e-4
      MAX_TOKENS=4096; RECIPE_GPUS=1
      BEAM=5; LENPEN=1.0; TOKENIZED_BLEU=lowercase ;;
    wmt14-base)
      DATA_NAME=wmt14.en-de
      BASELINE_ARCH=transformer_wmt_en_de; MACARON_ARCH=macaron_transformer_wmt_en_de
      LR=1.5e-3; DROPOUT=0.1
      MAX_TOKENS=8192; RECIPE_GPUS=4
      BEAM=4; LENPEN=0.6; TOKENIZED_BLEU=compound-split ;;
    wmt14-big)
      DATA_NAME=wmt14.en-de
      # With the recipe's pre-norm and dropout flags this is exactly the *_big_t2t preset the authors used
      # (transformer_wmt_en_de_big_t2t_macaron), and --post-norm can still turn pre-norm off.
      BASELINE_ARCH=transformer_wmt_en_de_big; MACARON_ARCH=macaron_transformer_wmt_en_de_big
      LR=3e-3; DROPOUT=0.3
      MAX_TOKENS=4096; RECIPE_GPUS=4; RECIPE_UPDATE_FREQ=16
      BEAM=4; LENPEN=0.6; TOKENIZED_BLEU=compound-split ;;
    multi30k-iwslt)
      # The IWSLT14 small pair (d 512, 4 heads, 6+6 layers, FFN 1024 against 2 x 512) on Multi30k, trained to
      # convergence on one GPU in minutes (benchmarks/gpu.sh): the paper's width, with a warm-up and a batch sized
      # for a corpus of 29,000 pairs.
      DATA_NAME=multi30k.de-en
      BASELINE_ARCH=transformer_iwslt_de_en; MACARON_ARCH=macaron_transformer_iwslt_de_en
      LR=1e-3; WARMUP_UPDATES=1000; DROPOUT=0.3; WEIGHT_DECAY=1e-4
      MAX_TOKENS=8192; RECIPE_GPUS=1; MAX_UPDATE=6000; VALIDATE_INTERVAL_UPDATES=250; PATIENCE=5
      BEAM=5; LENPEN=1.0; MAX_LEN_A=1.2; MAX_LEN_B=10; TOKENIZED_BLEU=lowercase ;;
    multi30k|multi30k-quick)
      # multi30k: d 256, 4 heads, 3+3 layers, 3,000 updates, for a GPU or a long CPU run.
      # multi30k-quick, the main job's and the benchmark's setting, is sized for 2 CPU cores: d 128, 2+2 layers,
      # small batches, light dropout and a high learning rate learn the most per second there (about 600
      # updates in 4 minutes), so that both models train, decode and compare within 15 minutes.
      # Both cap hypotheses at 1.2 x source length + 10 tokens: a half-trained model's repetitions otherwise
      # run to fairseq's 200 tokens and make beam search slow.
      DATA_NAME=multi30k.de-en
      BASELINE_ARCH=transformer; MACARON_ARCH=macaron_transformer
      if [[ "$1" == multi30k ]]; then
        local dim=256 ffn=1024 layers=3
        LR=1e-3; WARMUP_UPDATES=400; DROPOUT=0.3; MAX_TOKENS=4096; MAX_UPDATE=3000
      else
        local dim=128 ffn=512 layers=2
        LR=3e-3; WARMUP_UPDATES=150; DROPOUT=0.1; MAX_TOKENS=2048; MAX_UPDATE=600; VALIDATE_INTERVAL_UPDATES=100
      fi
      MODEL_FLAGS+=(--encoder-embed-dim "$dim" --decoder-embed-dim "$dim"
                    --encoder-attention-heads 4 --decoder-attention-heads 4
                    --encoder-layers "$layers" --decoder-layers "$layers")
      BASELINE_FLAGS=(--encoder-ffn-embed-dim "$ffn" --decoder-ffn-embed-dim "$ffn")
      MACARON_FLAGS=(--encoder-ffn-embed-dim $((ffn / 2)) --decoder-ffn-embed-dim $((ffn / 2)))
      RECIPE_GPUS=1
      BEAM=5; LENPEN=1.0; MAX_LEN_A=1.2; MAX_LEN_B=10; TOKENIZED_BLEU=lowercase ;;
    *)
      echo "error: unknown setting '$1': choose one of ${SETTINGS[*]}" >&2
      return 2 ;;
  esac
}
