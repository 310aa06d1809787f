# input: loadtest_knee_no_history.json
# The embedded stack's sweep in the same sitting with retrieval's history
# cache off (RECSTACK_HISTORY_CACHE_SIZE=0): every Recommend reads its
# user's history from Redis.
include "lib";
"Steps (p99): \(sweep_line). " + knee_sentence
