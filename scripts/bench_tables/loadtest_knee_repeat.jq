# input: loadtest_knee_repeat.json
# scripts/capacity.sh's sweep run a second time in the same sitting.
include "lib";
"Steps (p99): \(sweep_line). " + knee_sentence
