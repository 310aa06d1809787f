# input: loadtest_overload_quiet.json
# scripts/capacity.sh's overload run on the quiet machine: 2x the knee,
# then half of it.
include "lib";
overload_sentence
