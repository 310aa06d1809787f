#include "common/overload/limiter.h"

#include <algorithm>
#include <cmath>

namespace recstack::overload {

ConcurrencyLimiter::ConcurrencyLimiter(std::string service, LimiterOptions options,
                                       prometheus::Registry* registry)
    : service_(std::move(service)), options_(options) {
  options_.min_limit = std::max(1, options_.min_limit);
  options_.max_limit = std::max(options_.min_limit, options_.max_limit);
  limit_ = std::clamp<double>(options_.initial_limit, options_.min_limit, options_.max_limit);
  if (registry == nullptr) return;
  inflight_gauge_ = &prometheus::BuildGauge()
                         .Name("recstack_inflight_requests")
                         .Help("Requests being served now (admitted by the concurrency limiter)")
                         .Register(*registry)
                         .Add({{"service", service_}});
  limit_gauge_ = &prometheus::BuildGauge()
                      .Name("recstack_concurrency_limit")
                      .Help("The adaptive limit on requests in flight")
                      .Register(*registry)
                      .Add({{"service", service_}});
  auto& shed = prometheus::BuildCounter()
                   .Name("recstack_shed_total")
                   .Help("Requests refused at admission, by reason")
                   .Register(*registry);
  shed_limit_ = &shed.Add({{"service", service_}, {"reason", "limit"}});
  shed_deadline_ = &shed.Add({{"service", service_}, {"reason", "deadline"}});
  limit_gauge_->Set(limit_);
}

int ConcurrencyLimiter::limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(limit_);
}

std::optional<ConcurrencyLimiter::Permit> ConcurrencyLimiter::TryAcquire(
    std::chrono::system_clock::time_point deadline, Verdict* why) {
  if (deadline != std::chrono::system_clock::time_point::max() &&
      std::chrono::system_clock::now() >= deadline) {
    shed_++;
    if (shed_deadline_ != nullptr) shed_deadline_->Increment();
    if (why != nullptr) *why = Verdict::kDeadlinePassed;
    return std::nullopt;
  }
  const int cap = limit();
  int cur = inflight_.load();
  while (true) {
    if (cur >= cap) {
      shed_++;
      if (shed_limit_ != nullptr) shed_limit_->Increment();
      if (why != nullptr) *why = Verdict::kOverLimit;
      return std::nullopt;
    }
    if (inflight_.compare_exchange_weak(cur, cur + 1)) break;
  }
  if (inflight_gauge_ != nullptr) inflight_gauge_->Increment();
  if (why != nullptr) *why = Verdict::kAdmitted;
  return Permit(this, Clock::now());
}

ConcurrencyLimiter::Permit::~Permit() {
  if (limiter_ != nullptr) limiter_->Release(start_, dropped_);
}

void ConcurrencyLimiter::Release(Clock::time_point start, bool dropped) {
  const int before = inflight_.fetch_sub(1);
  if (inflight_gauge_ != nullptr) inflight_gauge_->Decrement();
  if (!options_.adaptive) return;
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  std::lock_guard<std::mutex> lock(mu_);
  // Only a sample taken while the limit binds (half of it or more in use)
  // tells whether more concurrency would help or hurt.
  if (before * 2 < limit_) return;
  if (dropped || latency > options_.latency_target) {
    // Admitted before the last cut: that cut already answered this stall.
    if (start < last_backoff_) return;
    limit_ = std::max<double>(options_.min_limit, limit_ * options_.backoff);
    last_backoff_ = Clock::now();
  } else {
    limit_ = std::min<double>(options_.max_limit, limit_ + 1);
  }
  if (limit_gauge_ != nullptr) limit_gauge_->Set(std::floor(limit_));
}

}  // namespace recstack::overload
