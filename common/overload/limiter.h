#pragma once

// Admission control for a service (STYLE rule 16): a bound on the requests
// in flight that adapts to the latency they see, so that past the knee a
// service answers RESOURCE_EXHAUSTED at once instead of queueing work that
// will miss its deadline anyway.
//
// The limit follows AIMD, as Netflix's concurrency-limits `AIMDLimit` does:
// a request that finishes within `latency_target` while at least half the
// limit is in use raises the limit by one; one that takes longer (or was
// dropped by the caller's deadline) while at least half the limit is in use
// multiplies it by `backoff`, at most once per generation: as TCP cuts its
// window once per round trip, a slow request admitted before the last cut
// says nothing the cut did not already answer, so it leaves the limit
// alone. Without that, one stall (a page fault, a compaction, a busy core)
// seen by every request in flight multiplied the limit by backoff^inflight
// and shed healthy traffic for seconds after. A sample taken with the
// limit far from binding says nothing about concurrency (a slow build, a
// cold cache or a slow dependency at light load), so it leaves the limit
// alone: a service that is slow but lightly loaded never sheds. The limit
// stays within [min_limit, max_limit]. A request that arrives when the
// in-flight count is at the limit is shed; so is one whose deadline has
// already passed (its caller has given up).
//
// Gauges and counters: recstack_inflight_requests{service},
// recstack_concurrency_limit{service}, recstack_shed_total{service,reason}.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace recstack::overload {

struct LimiterOptions {
  int initial_limit = 32;
  int min_limit = 2;
  int max_limit = 256;
  std::chrono::microseconds latency_target{20'000};
  double backoff = 0.9;
  bool adaptive = true;  // false: the limit stays at initial_limit
};

class ConcurrencyLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // Registers its metrics in `registry` (may be null: no metrics).
  ConcurrencyLimiter(std::string service, LimiterOptions options, prometheus::Registry* registry);

  // Holds one slot until destroyed; the request's latency feeds the limit.
  class Permit {
   public:
    Permit(Permit&& other) noexcept
        : limiter_(other.limiter_), start_(other.start_), dropped_(other.dropped_) {
      other.limiter_ = nullptr;
    }
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        if (limiter_ != nullptr) limiter_->Release(start_, dropped_);
        limiter_ = other.limiter_;
        start_ = other.start_;
        dropped_ = other.dropped_;
        other.limiter_ = nullptr;
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();
    // The request failed for overload (a deadline or a shed downstream):
    // counts as a slow sample whatever its latency.
    void set_dropped() { dropped_ = true; }

   private:
    friend class ConcurrencyLimiter;
    Permit(ConcurrencyLimiter* l, Clock::time_point start) : limiter_(l), start_(start) {}
    ConcurrencyLimiter* limiter_;
    Clock::time_point start_;
    bool dropped_ = false;
  };

  enum class Verdict { kAdmitted, kOverLimit, kDeadlinePassed };
  // A permit when admitted; nullopt (and `*why`) when shed. `deadline`
  // is the caller's (system clock; time_point::max() for none).
  std::optional<Permit> TryAcquire(std::chrono::system_clock::time_point deadline,
                                   Verdict* why = nullptr);
  std::optional<Permit> TryAcquire() {
    return TryAcquire(std::chrono::system_clock::time_point::max());
  }

  int limit() const;
  int inflight() const { return inflight_.load(); }
  uint64_t shed() const { return shed_.load(); }
  const std::string& service() const { return service_; }

 private:
  void Release(Clock::time_point start, bool dropped);

  std::string service_;
  LimiterOptions options_;
  mutable std::mutex mu_;
  double limit_;
  // When the limit was last cut: slow requests admitted before it are
  // ignored (one cut per generation).
  Clock::time_point last_backoff_{};
  std::atomic<int> inflight_{0};
  std::atomic<uint64_t> shed_{0};
  prometheus::Gauge* inflight_gauge_ = nullptr;
  prometheus::Gauge* limit_gauge_ = nullptr;
  prometheus::Counter* shed_limit_ = nullptr;
  prometheus::Counter* shed_deadline_ = nullptr;
};

}  // namespace recstack::overload

namespace recstack::overload {
// The options a service's flags describe (--max-inflight, --latency-target-ms).
inline LimiterOptions LimiterOptionsFor(int max_inflight, double latency_target_ms) {
  LimiterOptions o;
  o.max_limit = max_inflight;
  o.initial_limit = std::min(16, max_inflight);
  o.min_limit = std::max(1, std::min(4, max_inflight));
  o.latency_target = std::chrono::microseconds(static_cast<int64_t>(latency_target_ms * 1000));
  return o;
}
}  // namespace recstack::overload
