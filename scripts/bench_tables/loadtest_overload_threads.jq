# input: loadtest_overload_threads.json
# The embedded stack's overload run in the same sitting, with the history
# cache but before permits were held until the answer is sent and before
# the gRPC server kept its threads (sync_server_max_pollers 16).
include "lib";
overload_sentence
