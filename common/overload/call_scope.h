#pragma once

// A request is in flight until its answer has been sent, not only until its
// handler returns. gRPC's synchronous server runs a handler and then, on the
// same thread, sends the answer and waits for the send to complete; when the
// caller reads slowly (a congested link, or a client starved of CPU on the
// same cores) that wait is where calls pile up. Counted out of flight at the
// handler's return, a service kept admitting full work while answers it had
// already computed waited to be sent: at twice the embedded stack's knee
// the gateway ran 700 threads, 437 of them waiting on sends, and 9,197 of
// 68,000 Recommends came back in time (docs/serving.md, "Overload is a
// state").
//
// The server's hooks (common/grpc/server.cc) mark the thread serving a call
// from before its handler to after its send; a permit handed to
// ReleaseAfterSend inside that span is released (its latency sampled) at
// the span's end, so the limiter sees the latency the caller sees and
// counts a call in flight while its answer waits. Outside any call (a unit
// test, a handler called in-process) it is released at once.

#include "common/overload/limiter.h"

namespace recstack::overload {

// The calling thread starts or ends serving a call (nested calls count once).
void BeginCall();
void EndCall();
// Keeps `permit` until the call on this thread has sent its answer (EndCall),
// or releases it now when no call is marked.
void ReleaseAfterSend(ConcurrencyLimiter::Permit permit);
// Permits held for the current call on this thread (tests).
int HeldForCall();

}  // namespace recstack::overload
