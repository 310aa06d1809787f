# input: loadtest_knee_before.json
# The same sweep in the same sitting with the binaries before the change
# the docs describe.
include "lib";
"Steps (p99): \(sweep_line). " + knee_sentence
