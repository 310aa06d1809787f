# input: loadtest_overload_repeat.json
# The overload run of scripts/capacity.sh's second run in the same sitting.
include "lib";
overload_sentence
