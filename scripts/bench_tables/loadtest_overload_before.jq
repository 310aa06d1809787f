# input: loadtest_overload_before.json
# The overload run of the five-process stack in the same sitting.
include "lib";
overload_sentence
