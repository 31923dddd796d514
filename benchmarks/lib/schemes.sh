# The splitting schemes of --macaron-scheme and the fairseq-train flags each one is trained with, for
# benchmarks/schemes.sh and benchmarks/lib/train-scheme.sh. Needs scripts/lib/env.sh and scripts/settings.sh.
#
# The scheme names come from the model's own table (macaron_fairseq/modules/splitting_scheme.py), so that a scheme
# added there is one this benchmark knows about, or refuses by name, rather than one it silently leaves out.

# load_schemes: SCHEMES (every --macaron-scheme, in the model's order) and HALF_WIDTH_SCHEMES (those with two
# FFNs, which the settings give half the baseline's FFN width).
load_schemes() {
  local listed
  listed="$(python -c 'from macaron_fairseq.modules.splitting_scheme import HALF_WIDTH_SCHEMES, SCHEMES
print(" ".join(SCHEMES)); print(" ".join(HALF_WIDTH_SCHEMES))')" \
    || die "cannot read the splitting schemes from macaron_fairseq/modules/splitting_scheme.py: run scripts/setup.sh"
  read -r -a SCHEMES <<<"$(sed -n 1p <<<"$listed")"
  read -r -a HALF_WIDTH_SCHEMES <<<"$(sed -n 2p <<<"$listed")"
}

# scheme_flags SETTING SCHEME: SCHEME_FLAGS, the fairseq-train flags that train the Macaron model of SETTING as
# SCHEME at its baseline's parameter count. The settings give the Macaron model the FFN width of a two-FFN
# scheme (MACARON_FLAGS: half the baseline's); a one-FFN scheme takes the baseline's width back (BASELINE_FLAGS;
# empty for the paper's presets, which halve the width only for the two-FFN scheme themselves).
scheme_flags() {
  local setting=$1 scheme=$2 half
  [[ " ${SCHEMES[*]} " == *" $scheme "* ]] || usage_error "unknown scheme '$scheme': choose one of ${SCHEMES[*]}"
  load_setting "$setting" || exit 2
  SCHEME_FLAGS=(--macaron-scheme "$scheme")
  for half in "${HALF_WIDTH_SCHEMES[@]}"; do
    [[ "$half" == "$scheme" ]] && return 0
  done
  SCHEME_FLAGS+=("${BASELINE_FLAGS[@]}")
}
