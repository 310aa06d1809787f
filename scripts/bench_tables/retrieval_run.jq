# input: retrieval.json
# The conditions of the run behind the retrieval_* tables.
include "lib";
run_table
