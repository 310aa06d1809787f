#include "common/metrics/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <sys/resource.h>
#include <unistd.h>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "absl/strings/str_cat.h"

namespace recstack::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    // civetweb takes "host:port"; one thread is plenty for scrapes.
    server->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", listen, ": ", e.what()));
  }
  server->exposer_->RegisterCollectable(registry);
  server->process_ = std::make_shared<ProcessCollector>();
  server->exposer_->RegisterCollectable(server->process_);
  auto ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  // kLatencyBuckets bounds from 50 us to exactly 10 s, equal ratios
  // (about 4.3 per decade, each ~1.7x the previous).
  prometheus::Histogram::BucketBoundaries b(kLatencyBuckets);
  const double ratio = std::pow(10.0 / 50e-6, 1.0 / (kLatencyBuckets - 1));
  for (int i = 0; i < kLatencyBuckets; ++i) b[i] = 50e-6 * std::pow(ratio, i);
  b.back() = 10.0;
  return b;
}

std::string CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kUnknown:
      return "UNKNOWN";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal:
      return "INTERNAL";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry, std::string service,
                       const std::vector<std::string>& methods)
    : service_(std::move(service)) {
  auto& requests = prometheus::BuildCounter()
                       .Name("recstack_rpc_requests_total")
                       .Help("RPCs handled, by method and status code")
                       .Register(registry);
  auto& latency = prometheus::BuildHistogram()
                      .Name("recstack_rpc_latency_seconds")
                      .Help("RPC handling time")
                      .Register(registry);
  for (const auto& m : methods) {
    PerMethod pm;
    for (int c = 0; c < kCodes; ++c) {
      pm.requests[c] = &requests.Add({{"service", service_},
                                      {"method", m},
                                      {"code", CodeName(static_cast<absl::StatusCode>(c))}});
    }
    pm.latency = &latency.Add({{"service", service_}, {"method", m}}, LatencyBuckets());
    methods_.emplace(m, pm);
  }
}

void RpcMetrics::Record(std::string_view method, absl::StatusCode code, double seconds) {
  auto it = methods_.find(std::string(method));
  if (it == methods_.end()) {
    // A method missing from the constructor's list is a programming error
    // (STYLE rule 3): crash, and say which.
    std::fprintf(stderr,
                 "RpcMetrics::Record: method '%.*s' of service '%s' was not declared to the "
                 "constructor\n",
                 static_cast<int>(method.size()), method.data(), service_.c_str());
    std::abort();
  }
  int c = static_cast<int>(code);
  if (c < 0 || c >= kCodes) c = static_cast<int>(absl::StatusCode::kUnknown);
  it->second.requests[c]->Increment();
  it->second.latency->Observe(seconds);
}

}  // namespace recstack::metrics

namespace recstack::metrics {

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                     ru.ru_stime.tv_usec / 1e6;
  long pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  auto family = [](const char* name, const char* help, prometheus::MetricType type, double v) {
    prometheus::MetricFamily fam;
    fam.name = name;
    fam.help = help;
    fam.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    fam.metric.push_back(m);
    return fam;
  };
  return {family("process_cpu_seconds_total", "User and system CPU time of this process",
                 prometheus::MetricType::Counter, cpu),
          family("process_resident_memory_bytes", "Resident set size of this process",
                 prometheus::MetricType::Gauge,
                 static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)))};
}

}  // namespace recstack::metrics
