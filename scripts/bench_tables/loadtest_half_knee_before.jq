# input: loadtest_knee_before.json
# Where the time goes at half the knee, five-process stack, same sitting.
include "lib";
half_knee_budget
