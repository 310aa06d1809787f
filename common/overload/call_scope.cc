#include "common/overload/call_scope.h"

#include <utility>
#include <vector>

namespace recstack::overload {
namespace {

struct CallState {
  int depth = 0;
  std::vector<ConcurrencyLimiter::Permit> held;
};

CallState& State() {
  thread_local CallState state;
  return state;
}

}  // namespace

void BeginCall() { ++State().depth; }

void EndCall() {
  CallState& s = State();
  if (s.depth > 0 && --s.depth == 0) {
    // Released here: each permit's latency now includes the send. (The
    // vector keeps its buffer for the thread's next call.)
    s.held.clear();
  }
}

void ReleaseAfterSend(ConcurrencyLimiter::Permit permit) {
  CallState& s = State();
  if (s.depth > 0) s.held.push_back(std::move(permit));
  // else: `permit` is released as it goes out of scope.
}

int HeldForCall() { return static_cast<int>(State().held.size()); }

}  // namespace recstack::overload
