# input: loadtest_knee.json
# Where the time goes at half the knee, embedded stack (capacity.sh's
# half-knee run): CPU per process and Redis commands per request.
include "lib";
half_knee_budget
