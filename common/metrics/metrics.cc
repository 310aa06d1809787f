#include "common/metrics/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <charconv>

#include "absl/strings/str_cat.h"

namespace recstack::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    auto [p, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
    if (ec != std::errc() || p != listen.data() + listen.size()) port = -1;
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics: '", listen, "' is not HOST:PORT"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->registry_ = std::move(registry);
  server->process_ = std::make_shared<ProcessCollector>();
  server->http_ = std::make_unique<httplib::Server>();
  // One worker: scrapes are rare and small.
  server->http_->new_task_queue = [] { return new httplib::ThreadPool(1); };
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second
  // process share a port that is already taken instead of failing.
  server->http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  MetricsServer* self = server.get();
  server->http_->Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->Scrape(), "text/plain; version=0.0.4");
  });
  if (port == 0) {
    port = server->http_->bind_to_any_port(host);
  } else if (!server->http_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("metrics: cannot listen on ", listen));
  }
  server->port_ = port;
  server->thread_ = std::thread([self] { self->http_->listen_after_bind(); });
  // Wait until the loop runs: a stop() before it started would not end it.
  for (int i = 0; i < 5000 && !server->http_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsServer::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& f : process_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
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
