# One definition of each setting's recipe, sourced by train.sh, evaluate.sh, translate.sh, compare.sh and the tests.
#
# The paper's settings follow the authors' public scripts (Lu et al. 2019, fairseq v0.6 fork): pre-norm layers,
# attention and activation dropout 0.1, Adam (0.9, 0.98), inverse_sqrt from 1e-7, label smoothing 0.1, joined
# dictionary with all embeddings shared, no gradient clipping, seed 1. "multi30k" is this project's small setting
# for CPUs and quick GPU checks. The language-model settings put the twins of macaron_transformer_lm and
# macaron_roberta against fairseq's: lm-quick and mlm-quick on 2 CPU cores, wikitext103-lm and bert-base with
# fairseq's own GPU recipes.
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
#   TASK               fairseq's task: translation, language_modeling or masked_lm
#
# The language-model settings (TASK language_modeling or masked_lm; data: scripts/prepare-lm.sh, or any
# fairseq-preprocess --only-source folder) use MODEL_FLAGS, BASELINE_FLAGS, MACARON_FLAGS, MAX_TOKENS, RECIPE_GPUS,
# RECIPE_UPDATE_FREQ, MAX_UPDATE, VALIDATE_INTERVAL_UPDATES and PATIENCE as above, and instead of the rest:
#   TASK_FLAGS         task and criterion flags of fairseq-train (array)
#   OPTIMIZER_FLAGS    optimizer, learning-rate schedule and clipping (array)
#   MAX_SENTENCES      sequences per GPU per forward pass as well as MAX_TOKENS (0: no such limit)
#   EVAL_FLAGS         flags of the perplexity evaluation: fairseq-eval-lm (language_modeling) or fairseq-validate
#                      (masked_lm) (array)

TRANSLATION_SETTINGS=(iwslt14 wmt14-base wmt14-big multi30k multi30k-quick multi30k-iwslt)
LM_SETTINGS=(lm-quick mlm-quick wikitext103-lm bert-base)
# The settings the sourcing script runs: the translation ones (evaluate.sh and translate.sh decode translations);
# scripts that run every task (train.sh, compare.sh) call with_lm_settings.
SETTINGS=("${TRANSLATION_SETTINGS[@]}")
with_lm_settings() { SETTINGS=("${TRANSLATION_SETTINGS[@]}" "${LM_SETTINGS[@]}"); }

# require_setting NAME: load_setting for a script's --setting; a missing or unknown one, or one of a task the
# script does not run, is a one-line error (status 2). Needs die from lib/env.sh.
require_setting() {
  [[ -n "$1" ]] || usage_error "--setting is required: one of ${SETTINGS[*]}"
  if [[ " ${LM_SETTINGS[*]} " == *" $1 "* && " ${SETTINGS[*]} " != *" $1 "* ]]; then
    usage_error "setting $1 is a language model's: $(basename "$0") runs translation settings" \
      "(${SETTINGS[*]}); train and compare it with scripts/train.sh and scripts/compare.sh"
  fi
  load_setting "$1" || exit 2
}

# norm_suffix POST_NORM: "-postnorm" for post-norm runs (POST_NORM 1), else nothing: part of run and report names.
norm_suffix() { if [[ "$1" -eq 1 ]]; then echo -postnorm; fi; }

# run_dir RUNS_DIR MODEL SEED POST_NORM: the folder of one training run, RUNS_DIR/MODEL[-postnorm]-seedN. The runs
# of a setting live in checkpoints/SETTING by default.
run_dir() { echo "$1/$2$(norm_suffix "$4")-seed$3"; }

_paper_defaults() {
  TASK=translation
  MODEL_FLAGS=(--encoder-normalize-before --decoder-normalize-before --share-all-embeddings)
  BASELINE_FLAGS=(); MACARON_FLAGS=()
  ATTENTION_DROPOUT=0.1; ACTIVATION_DROPOUT=0.1; WEIGHT_DECAY=0
  WARMUP_UPDATES=8000; RECIPE_UPDATE_FREQ=1; MAX_UPDATE=0; VALIDATE_INTERVAL_UPDATES=0; PATIENCE=0
  MAX_LEN_A=0; MAX_LEN_B=200
}

# The language-model settings' defaults: no translation flags, one GPU.
_lm_defaults() {
  MODEL_FLAGS=(); BASELINE_FLAGS=(); MACARON_FLAGS=(); TASK_FLAGS=(); OPTIMIZER_FLAGS=(); EVAL_FLAGS=()
  MAX_SENTENCES=0; RECIPE_GPUS=1; RECIPE_UPDATE_FREQ=1; MAX_UPDATE=0; VALIDATE_INTERVAL_UPDATES=0; PATIENCE=0
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
    lm-quick|mlm-quick)
      # Sized for 2 CPU cores like multi30k-quick (d 128, 4 heads, 2 pre-norm layers, FFN 512 against 2 x 256), on
      # the English side of Multi30k (scripts/prepare-lm.sh): blocks of 64 tokens, batches of at most 2,048.
      # lm-quick is transformer_lm against macaron_transformer_lm, mlm-quick RoBERTa (post-norm, as roberta_base)
      # against macaron_roberta, with fairseq's RoBERTa pre-training schedule (polynomial decay).
      _lm_defaults
      DATA_NAME=multi30k-en-lm
      MAX_TOKENS=2048; MAX_UPDATE=500; VALIDATE_INTERVAL_UPDATES=50
      if [[ "$1" == lm-quick ]]; then
        TASK=language_modeling
        BASELINE_ARCH=transformer_lm; MACARON_ARCH=macaron_transformer_lm
        # input and output widths follow the embedding's only in the presets, not in transformer_lm's defaults
        MODEL_FLAGS=(--decoder-embed-dim 128 --decoder-input-dim 128 --decoder-output-dim 128 --decoder-layers 2
                     --decoder-attention-heads 4 --decoder-normalize-before --share-decoder-input-output-embed
                     --dropout 0.1 --attention-dropout 0.1 --activation-dropout 0.1)
        BASELINE_FLAGS=(--decoder-ffn-embed-dim 512); MACARON_FLAGS=(--decoder-ffn-embed-dim 256)
        TASK_FLAGS=(--criterion cross_entropy --tokens-per-sample 64 --sample-break-mode none)
        OPTIMIZER_FLAGS=(--optimizer adam --adam-betas "(0.9, 0.98)" --weight-decay 0.01 --clip-norm 0.0
                         --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100 --warmup-init-lr 1e-07)
        # the blocks of training: perplexity comparable with the validation loss fairseq-train logs
        EVAL_FLAGS=(--tokens-per-sample 64 --max-tokens 2048)
      else
        TASK=masked_lm
        BASELINE_ARCH=roberta; MACARON_ARCH=macaron_roberta
        MODEL_FLAGS=(--encoder-embed-dim 128 --encoder-layers 2 --encoder-attention-heads 4 --max-positions 64
                     --dropout 0.1 --attention-dropout 0.1)
        BASELINE_FLAGS=(--encoder-ffn-embed-dim 512); MACARON_FLAGS=(--encoder-ffn-embed-dim 256)
        TASK_FLAGS=(--criterion masked_lm --tokens-per-sample 64 --sample-break-mode complete)
        OPTIMIZER_FLAGS=(--optimizer adam --adam-betas "(0.9, 0.98)" --adam-eps 1e-06 --weight-decay 0.01
                         --clip-norm 0.0 --lr 1e-3 --lr-scheduler polynomial_decay --warmup-updates 50)
        EVAL_FLAGS=(--max-tokens 2048)
      fi ;;
    wikitext103-lm)
      # fairseq's adaptive-input recipe (examples/language_model/README.adaptive_inputs.md; Baevski and Auli 2019,
      # 8 V100 GPUs): transformer_lm_wiki103 (16 layers, d 1024, adaptive input and softmax) against its twin, on
      # WikiText-103 binarized word by word (fairseq-preprocess --only-source on wiki.{train,valid,test}.tokens, or
      # scripts/prepare-lm.sh --text DIR/wiki.{split}.tokens --tokenized --bpe-size 0). 3,072 tokens x 3 x 8 GPUs
      # per update.
      _lm_defaults
      TASK=language_modeling; DATA_NAME=wikitext-103
      BASELINE_ARCH=transformer_lm_wiki103; MACARON_ARCH=macaron_transformer_lm_wiki103
      TASK_FLAGS=(--criterion adaptive_loss --tokens-per-sample 3072 --sample-break-mode none
                  --skip-invalid-size-inputs-valid-test --ddp-backend legacy_ddp)
      OPTIMIZER_FLAGS=(--optimizer nag --lr 1.0 --min-lr 0.0001 --stop-min-lr 1e-09 --clip-norm 0.1
                       --lr-scheduler cosine --t-mult 2 --lr-period-updates 270000 --lr-shrink 0.75
                       --warmup-updates 16000 --warmup-init-lr 1e-07)
      MAX_TOKENS=3072; RECIPE_GPUS=8; RECIPE_UPDATE_FREQ=3; MAX_UPDATE=286000
      # fairseq-eval-lm's sliding window: past the first block, every scored token sees 2,560 tokens of context
      EVAL_FLAGS=(--tokens-per-sample 3072 --context-window 2560 --max-tokens 3072 --softmax-batch 1024) ;;
    bert-base)
      # The paper's Macaron BERT-base (roberta_base: d 768, 12 post-norm layers, FFN 3072 against 2 x 1536) with
      # fairseq's RoBERTa-base pre-training recipe (examples/roberta/config/pretraining/base.yaml: 16 sequences
      # of at most 512 tokens x update-freq 16 x 8 GPUs, 2,048 sequences per update), not the paper's BERT one.
      # The data is the user's: pre-training text binarized with --only-source, passed with --data-dir.
      _lm_defaults
      TASK=masked_lm; DATA_NAME=bert-corpus
      BASELINE_ARCH=roberta_base; MACARON_ARCH=macaron_roberta_base
      MODEL_FLAGS=(--dropout 0.1 --attention-dropout 0.1)
      TASK_FLAGS=(--criterion masked_lm --tokens-per-sample 512 --sample-break-mode complete
                  --skip-invalid-size-inputs-valid-test)
      # the polynomial decay ends at --max-update (train.sh sets --total-num-update to it)
      OPTIMIZER_FLAGS=(--optimizer adam --adam-betas "(0.9, 0.98)" --adam-eps 1e-06 --weight-decay 0.01
                       --clip-norm 0.0 --lr 5e-4 --lr-scheduler polynomial_decay --warmup-updates 10000)
      MAX_SENTENCES=16; MAX_TOKENS=8192; RECIPE_GPUS=8; RECIPE_UPDATE_FREQ=16; MAX_UPDATE=125000
      EVAL_FLAGS=(--batch-size 16) ;;
    *)
      echo "error: unknown setting '$1': choose one of ${SETTINGS[*]}" >&2
      return 2 ;;
  esac
}
