# input: loadtest_knee_before.json
# The same sweep in the same sitting on the five-process stack (retrieval
# and ranking over gRPC), the shape before the gateway embedded them.
include "lib";
"Steps (p99): \(sweep_line). " + knee_sentence
