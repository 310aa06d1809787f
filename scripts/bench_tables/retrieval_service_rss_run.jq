# input: retrieval_service_rss.json
# The conditions of the run behind retrieval_service_rss.
include "lib";
run_table
