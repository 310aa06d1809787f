#include "loadtest/runner.h"

#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/grpc/channel.h"
#include "recstack/v1/gateway.grpc.pb.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "recstack/v1/loadtest.grpc.pb.h"
#include "recstack/v1/ranking.grpc.pb.h"
#include "recstack/v1/retrieval.grpc.pb.h"

namespace recstack::loadtest {
namespace {

namespace pb = ::recstack::v1;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void SleepUntilNs(int64_t t) {
  timespec ts{static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// One connection's stubs (only those of the target are used).
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::GatewayService::Stub> gateway;
  std::unique_ptr<pb::RetrievalService::Stub> retrieval;
  std::unique_ptr<pb::RankingService::Stub> ranking;
  std::unique_ptr<pb::IngestionService::Stub> ingestion;
  std::unique_ptr<pb::EchoService::Stub> echo;
};

struct Worker;

struct Call {
  virtual ~Call() = default;
  // Runs on the worker thread that completed the call.
  virtual void Done(Worker& /*w*/) {}
  Op op = Op::kRecommend;
  int64_t sched_ns = 0;
  bool measured = false;
  bool is_click = false;  // a CLICK event sent by the click simulation
  grpc::ClientContext ctx;
  grpc::Status status;
};

template <class Req, class Resp>
struct TypedCall : Call {
  Req req;
  Resp resp;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader;
};

struct Worker {
  grpc::CompletionQueue cq;
  std::thread thread;
  std::array<OpResult, kNumOps> ops;
  std::vector<SecondStats> seconds;  // the timeline, when asked for
  ClickStats clicks;
  std::vector<AckedEvent> acked;  // with event_id_prefix
  int64_t last_measured_done_ns = 0;
  math::Rng rng{1};
  class Runner* runner = nullptr;
};

class Runner {
 public:
  Runner(const RunOptions& o, const Catalog& c)
      : o_(o), catalog_(c), users_(static_cast<int64_t>(c.users.size()), o.zipf),
        items_(static_cast<int64_t>(c.items.size()), o.zipf), rng_(o.seed) {}

  absl::StatusOr<RunResult> Go();

  // Called by the click simulation on a worker thread.
  void SendClicks(Worker& w, const std::string& user, const pb::RecommendResponse& resp);
  void Finished() { inflight_.fetch_sub(1, std::memory_order_relaxed); }
  const RunOptions& options() const { return o_; }
  int64_t window_ns() const { return window_ns_; }

 private:
  absl::Status Connect();
  void Send(Op op, int64_t sched_ns, bool measured);
  template <class Req, class Resp, class PrepareFn>
  void Start(TypedCall<Req, Resp>* call, Worker& w, PrepareFn prepare);

  const RunOptions& o_;
  const Catalog& catalog_;
  ZipfSampler users_, items_;
  math::Rng rng_;
  std::vector<Connection> conns_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int64_t> inflight_{0};
  std::atomic<uint64_t> next_conn_{0};
  uint64_t next_worker_ = 0;
  int64_t refused_ = 0;
  int64_t window_ns_ = 0;
  int64_t next_event_ = 0;  // the n of the next `<event_id_prefix><n>`
};

// "retrieval failed (...): trending items" -> "retrieval failed".
std::string ReasonHead(const std::string& reason) {
  size_t cut = reason.find_first_of("(:");
  std::string head = reason.substr(0, cut);
  while (!head.empty() && head.back() == ' ') head.pop_back();
  return head.empty() ? "unspecified" : head;
}

struct RecommendCall : TypedCall<pb::RecommendRequest, pb::RecommendResponse> {
  void Done(Worker& w) override {
    if (status.ok() && measured && resp.degraded()) {
      w.ops[static_cast<int>(op)].degraded[ReasonHead(resp.degraded_reason())]++;
      if (!w.seconds.empty()) {
        const int64_t sec = (sched_ns - w.runner->window_ns()) / 1'000'000'000;
        if (sec >= 0 && sec < static_cast<int64_t>(w.seconds.size())) w.seconds[sec].degraded++;
      }
    }
    if (!status.ok() || !measured || w.runner->options().truth == nullptr) return;
    w.runner->SendClicks(w, req.user_id(), resp);
  }
};

// An IngestEvents of the load (not a click): with an event_id_prefix, the
// events it carried are acknowledged when the call returned OK, except those
// the answer lists as rejected. A duplicate is acknowledged too: its id is
// in the log already.
struct IngestCall : TypedCall<pb::IngestEventsRequest, pb::IngestEventsResponse> {
  void Done(Worker& w) override {
    if (!status.ok() || w.runner->options().event_id_prefix.empty()) return;
    std::vector<bool> rejected(req.events_size(), false);
    for (const pb::RejectedEvent& r : resp.rejected()) {
      if (r.index() >= 0 && r.index() < req.events_size()) rejected[r.index()] = true;
    }
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (int i = 0; i < req.events_size(); ++i) {
      if (!rejected[i]) w.acked.push_back({req.events(i).event_id(), now_ms});
    }
  }
};

absl::Status Runner::Connect() {
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  for (int i = 0; i < o_.connections; ++i) {
    grpc::ChannelArguments args;
    // A channel of its own per connection: no subchannel sharing.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("recstack.loadtest.connection", i);
    args.SetMaxReceiveMessageSize(16 << 20);
    // Over several addresses (gateways), every request goes to the next one,
    // as the services' own channels do (grpcutil::MakeChannel).
    args.SetServiceConfigJSON(grpcutil::kRoundRobinServiceConfig);
    args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
    grpcutil::SetListAuthority(o_.addr, args);
    Connection c;
    c.channel = grpc::CreateCustomChannel(
        o_.addr, o_.credentials ? o_.credentials : grpc::InsecureChannelCredentials(), args);
    if (!c.channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", o_.addr, " within 5s"));
    }
    c.gateway = pb::GatewayService::NewStub(c.channel);
    c.retrieval = pb::RetrievalService::NewStub(c.channel);
    c.ranking = pb::RankingService::NewStub(c.channel);
    c.ingestion = pb::IngestionService::NewStub(c.channel);
    c.echo = pb::EchoService::NewStub(c.channel);
    conns_.push_back(std::move(c));
  }
  return absl::OkStatus();
}

template <class Req, class Resp, class PrepareFn>
void Runner::Start(TypedCall<Req, Resp>* call, Worker& w, PrepareFn prepare) {
  call->ctx.set_deadline(std::chrono::system_clock::now() + o_.timeout);
  if (!o_.api_key.empty()) call->ctx.AddMetadata("x-api-key", o_.api_key);
  inflight_.fetch_add(1, std::memory_order_relaxed);
  call->reader = prepare(&call->ctx, call->req, &w.cq);
  call->reader->StartCall();
  call->reader->Finish(&call->resp, &call->status, call);
}

void Runner::Send(Op op, int64_t sched_ns, bool measured) {
  Worker& w = *workers_[next_worker_++ % workers_.size()];
  Connection& c = conns_[next_conn_.fetch_add(1, std::memory_order_relaxed) % conns_.size()];
  const std::string& user = catalog_.users[users_.Sample(rng_)];
  auto fill = [&](Call* call) {
    call->op = op;
    call->sched_ns = sched_ns;
    call->measured = measured;
  };

  if (o_.target == Target::kFloor) {
    auto* call = new TypedCall<pb::EchoRequest, pb::EchoResponse>;
    fill(call);
    call->req.set_payload(user);
    call->req.set_response_bytes(o_.echo_response_bytes);
    Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
      return c.echo->PrepareAsyncEcho(ctx, req, cq);
    });
    return;
  }
  switch (op) {
    case Op::kRecommend: {
      if (o_.target == Target::kGateway) {
        auto* call = new RecommendCall;
        fill(call);
        call->req.set_user_id(user);
        call->req.set_k(o_.k);
        (*call->req.mutable_context())["source"] = "loadtest";
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.gateway->PrepareAsyncRecommend(ctx, req, cq);
        });
      } else if (o_.target == Target::kRetrieval) {
        auto* call = new TypedCall<pb::RetrieveRequest, pb::RetrieveResponse>;
        fill(call);
        call->req.set_user_id(user);
        call->req.set_k(o_.k);
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.retrieval->PrepareAsyncRetrieve(ctx, req, cq);
        });
      } else {  // ranking
        auto* call = new TypedCall<pb::RankRequest, pb::RankResponse>;
        fill(call);
        call->req.set_user_id(user);
        call->req.set_k(o_.k);
        for (int i = 0; i < o_.rank_candidates; ++i) {
          pb::ScoredItem* s = call->req.add_candidates();
          s->set_item_id(catalog_.items[items_.Sample(rng_)]);
          s->set_score(1.0 - i * 1e-3);
          s->set_source("mf");
          s->set_retrieval_score(s->score());
          s->set_retrieval_rank(i);
        }
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.ranking->PrepareAsyncRank(ctx, req, cq);
        });
      }
      return;
    }
    case Op::kIngest: {
      auto* call = new IngestCall;
      fill(call);
      for (int i = 0; i < o_.ingest_batch; ++i) {
        pb::Event* e = call->req.add_events();
        if (!o_.event_id_prefix.empty()) {
          e->set_event_id(absl::StrCat(o_.event_id_prefix, next_event_++));
        }
        e->set_user_id(i == 0 ? user : catalog_.users[users_.Sample(rng_)]);
        e->set_item_id(catalog_.items[items_.Sample(rng_)]);
        e->set_type(pb::VIEW);
        (*e->mutable_context())["source"] = "loadtest";
      }
      if (o_.target == Target::kGateway) {
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.gateway->PrepareAsyncIngestEvents(ctx, req, cq);
        });
      } else {
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.ingestion->PrepareAsyncIngestEvents(ctx, req, cq);
        });
      }
      return;
    }
    case Op::kSimilar: {
      auto* call = new TypedCall<pb::SimilarItemsRequest, pb::SimilarItemsResponse>;
      fill(call);
      call->req.set_item_id(catalog_.items[items_.Sample(rng_)]);
      call->req.set_k(o_.k);
      if (o_.target == Target::kGateway) {
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.gateway->PrepareAsyncSimilarItems(ctx, req, cq);
        });
      } else {
        Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
          return c.retrieval->PrepareAsyncSimilarItems(ctx, req, cq);
        });
      }
      return;
    }
  }
}

void Runner::SendClicks(Worker& w, const std::string& user, const pb::RecommendResponse& resp) {
  auto* call = new TypedCall<pb::IngestEventsRequest, pb::IngestEventsResponse>;
  call->is_click = true;
  for (int pos = 0; pos < resp.items_size(); ++pos) {
    const std::string& item = resp.items(pos).item_id();
    auto p = o_.truth->ClickProbability(user, item);
    const double prob = p.ok() ? *p : 0.0;  // items outside the data set never get clicked
    // The model's position is 1-based; the logged one stays 0-based like
    // the gateway's impressions.
    if (!w.clicks.Record(resp.variant(), pos + 1, o_.position_bias, prob, w.rng.Uniform())) {
      continue;
    }
    pb::Event* e = call->req.add_events();
    e->set_user_id(user);
    e->set_item_id(item);
    e->set_type(pb::CLICK);
    auto& ctx = *e->mutable_context();
    ctx["source"] = "loadtest";
    ctx["request_id"] = resp.request_id();
    ctx["position"] = absl::StrCat(pos);
  }
  if (call->req.events_size() == 0) {
    delete call;
    return;
  }
  ++w.clicks.events_sent;
  Connection& c = conns_[next_conn_.fetch_add(1, std::memory_order_relaxed) % conns_.size()];
  Start(call, w, [&](auto* ctx, const auto& req, auto* cq) {
    return c.gateway->PrepareAsyncIngestEvents(ctx, req, cq);
  });
}

void WorkerLoop(Worker& w) {
  void* tag;
  bool ok;
  while (w.cq.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    const int64_t now = NowNs();
    if (call->is_click) {
      if (!call->status.ok()) ++w.clicks.events_failed;
    } else if (call->measured) {
      OpResult& r = w.ops[static_cast<int>(call->op)];
      r.latency.Record(now - call->sched_ns);
      if (call->status.ok()) {
        ++r.ok;
      } else {
        ++r.errors[CodeName(call->status.error_code())];
      }
      if (!w.seconds.empty()) {
        const int64_t sec = (call->sched_ns - w.runner->window_ns()) / 1'000'000'000;
        if (sec >= 0 && sec < static_cast<int64_t>(w.seconds.size())) {
          SecondStats& ss = w.seconds[sec];
          ss.latency.Record(now - call->sched_ns);
          (call->status.ok() ? ss.ok : ss.errors)++;
        }
      }
      w.last_measured_done_ns = std::max(w.last_measured_done_ns, now);
    }
    call->Done(w);
    w.runner->Finished();
  }
}

absl::StatusOr<RunResult> Runner::Go() {
  if (auto st = Connect(); !st.ok()) return st;
  // Wake-ups within a microsecond of the schedule instead of the default
  // 50 us timer slack.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  for (int i = 0; i < o_.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->rng = math::Rng(o_.seed * 7919 + i + 1);
    w->runner = this;
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) w->thread = std::thread([wp = w.get()] { WorkerLoop(*wp); });

  RunResult result;
  result.target = o_.target;
  result.target_rate = o_.rate;
  // Phases: the main one (warm-up included), then `then`.
  std::vector<std::pair<double, int64_t>> phases;  // rate, end ns
  const int64_t start = NowNs() + 10'000'000;
  const int64_t window = start + std::chrono::nanoseconds(o_.warmup).count();
  window_ns_ = window;
  result.window_start_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                (window - NowNs()) / 1'000'000;
  int64_t end = window + std::chrono::nanoseconds(o_.duration).count();
  phases.push_back({o_.rate, end});
  for (const auto& [rate, len] : o_.then) {
    end += std::chrono::nanoseconds(len).count();
    phases.push_back({rate, end});
  }
  const int64_t n_seconds = (end - window + 999'999'999) / 1'000'000'000;
  if (o_.timeline) {
    for (auto& w : workers_) w->seconds.resize(n_seconds);
    result.timeline.resize(n_seconds);
    for (int64_t sec = 0; sec < n_seconds; ++sec) {
      const int64_t t = window + sec * 1'000'000'000;
      for (const auto& [rate, phase_end] : phases) {
        if (t < phase_end) {
          result.timeline[sec].rate = rate;
          break;
        }
      }
    }
  }
  size_t phase = 0;
  auto arrivals = std::make_unique<Arrivals>(o_.rate, o_.poisson, o_.seed ^ 0x5eed);
  for (int64_t t = start; t < end; t += arrivals->NextGapNs()) {
    while (phase + 1 < phases.size() && t >= phases[phase].second) {
      ++phase;
      arrivals =
          std::make_unique<Arrivals>(phases[phase].first, o_.poisson, o_.seed ^ (0x5eed + phase));
    }
    int64_t now = NowNs();
    if (now < t) {
      SleepUntilNs(t);
      now = NowNs();
    }
    const bool measured = t >= window;
    const Op op = o_.mix.Sample(rng_);
    if (measured) {
      ++result.scheduled;
      result.send_lag.Record(now - t);
    }
    if (inflight_.load(std::memory_order_relaxed) >= o_.max_inflight) {
      if (measured) {
        ++refused_;
        ++result.ops[static_cast<int>(op)].errors["CLIENT_INFLIGHT_CAP"];
      }
      continue;
    }
    Send(op, t, measured);
    ++result.sent;
  }
  // Every call has a deadline, so this ends; the margin covers a server
  // that ignores deadlines (then the calls are cancelled by Shutdown).
  const int64_t give_up = NowNs() + std::chrono::nanoseconds(o_.timeout).count() + 5'000'000'000;
  while (inflight_.load() > 0 && NowNs() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  conns_.clear();
  for (auto& w : workers_) w->cq.Shutdown();
  for (auto& w : workers_) w->thread.join();

  int64_t last_done = window;
  for (auto& w : workers_) {
    for (int i = 0; i < kNumOps; ++i) {
      OpResult& dst = result.ops[i];
      dst.latency.Merge(w->ops[i].latency);
      dst.ok += w->ops[i].ok;
      for (auto& [code, n] : w->ops[i].errors) dst.errors[code] += n;
      for (auto& [why, n] : w->ops[i].degraded) dst.degraded[why] += n;
    }
    for (size_t sec = 0; sec < w->seconds.size(); ++sec) {
      SecondStats& d = result.timeline[sec];
      d.latency.Merge(w->seconds[sec].latency);
      d.ok += w->seconds[sec].ok;
      d.errors += w->seconds[sec].errors;
      d.degraded += w->seconds[sec].degraded;
    }
    result.clicks.Merge(w->clicks);
    for (AckedEvent& e : w->acked) result.acked_events.push_back(std::move(e));
    last_done = std::max(last_done, w->last_measured_done_ns);
  }
  for (const OpResult& r : result.ops) {
    result.latency.Merge(r.latency);
    result.ok += r.ok;
    for (auto& [code, n] : r.errors) {
      result.errors_by_code[code] += n;
      result.errors += n;
    }
    for (auto& [why, n] : r.degraded) {
      result.degraded_by_reason[why] += n;
      result.degraded += n;
    }
  }
  result.completed = result.latency.count();
  result.event_id_prefix = o_.event_id_prefix;
  result.events_sent = next_event_;
  result.seconds = static_cast<double>(end - window) / 1e9;
  const double span = static_cast<double>(std::max(last_done, end) - window) / 1e9;
  result.achieved_rate = span > 0 ? static_cast<double>(result.completed) / span : 0;
  return result;
}

}  // namespace

absl::StatusOr<RunResult> Run(const RunOptions& options, const Catalog& catalog) {
  if (auto st = options.Validate(); !st.ok()) return st;
  if (catalog.users.empty() || catalog.items.empty()) {
    return absl::InvalidArgumentError("the catalogue has no users or no items");
  }
  Runner runner(options, catalog);
  return runner.Go();
}

namespace {
nlohmann::json LatencyJson(const LatencyHistogram& h) {
  return {{"count", h.count()},
          {"p50_us", RoundedUs(h.Percentile(0.50))},
          {"p90_us", RoundedUs(h.Percentile(0.90))},
          {"p99_us", RoundedUs(h.Percentile(0.99))},
          {"p999_us", RoundedUs(h.Percentile(0.999))},
          {"max_us", RoundedUs(h.max_ns())},
          {"mean_us", RoundedUs(static_cast<int64_t>(h.mean_ns()))}};
}
}  // namespace

nlohmann::json RunResult::ToJson() const {
  nlohmann::json j = LatencyJson(latency);
  j["target"] = TargetName(target);
  j["rate"] = target_rate;
  j["seconds"] = seconds;
  j["scheduled"] = scheduled;
  j["completed"] = completed;
  j["ok"] = ok;
  j["errors"] = errors;
  j["errors_by_code"] = errors_by_code;
  j["degraded"] = degraded;
  j["degraded_by_reason"] = degraded_by_reason;
  j["ok_not_degraded"] = ok - degraded;
  j["achieved_rate"] = std::round(achieved_rate * 10) / 10;
  j["send_lag_p99_us"] = RoundedUs(send_lag.Percentile(0.99));
  j["window_start_unix_ms"] = window_start_unix_ms;
  if (!event_id_prefix.empty()) {
    j["events"] = {{"id_prefix", event_id_prefix},
                   {"sent", events_sent},
                   {"acked", static_cast<int64_t>(acked_events.size())}};
  }
  nlohmann::json ops_json = nlohmann::json::object();
  for (int i = 0; i < kNumOps; ++i) {
    if (ops[i].latency.count() == 0 && ops[i].errors.empty()) continue;
    nlohmann::json o = LatencyJson(ops[i].latency);
    o["ok"] = ops[i].ok;
    o["errors_by_code"] = ops[i].errors;
    if (!ops[i].degraded.empty()) o["degraded_by_reason"] = ops[i].degraded;
    ops_json[std::string(OpName(static_cast<Op>(i)))] = std::move(o);
  }
  j["ops"] = std::move(ops_json);
  if (!timeline.empty()) {
    nlohmann::json tl = nlohmann::json::array();
    for (size_t sec = 0; sec < timeline.size(); ++sec) {
      const SecondStats& t = timeline[sec];
      tl.push_back({{"second", sec},
                    {"rate", t.rate},
                    {"ok", t.ok},
                    {"errors", t.errors},
                    {"degraded", t.degraded},
                    {"p50_us", RoundedUs(t.latency.Percentile(0.5))},
                    {"p99_us", RoundedUs(t.latency.Percentile(0.99))},
                    {"max_us", RoundedUs(t.latency.max_ns())}});
    }
    j["timeline"] = std::move(tl);
  }
  if (clicks.impressions > 0) j["clicks"] = clicks.ToJson();
  return j;
}

std::string RunResult::Summary() const {
  std::string out = absl::StrFormat(
      "%-9s rate %8.1f/s achieved %8.1f/s  %7d ok %5d errors  p50 %8.1fus p90 %8.1fus p99 "
      "%8.1fus p99.9 %8.1fus max %8.1fus",
      TargetName(target), target_rate, achieved_rate, ok, errors,
      RoundedUs(latency.Percentile(0.5)), RoundedUs(latency.Percentile(0.9)),
      RoundedUs(latency.Percentile(0.99)), RoundedUs(latency.Percentile(0.999)),
      RoundedUs(latency.max_ns()));
  for (auto& [code, n] : errors_by_code) absl::StrAppend(&out, "\n          ", code, ": ", n);
  for (auto& [why, n] : degraded_by_reason)
    absl::StrAppend(&out, "\n          degraded (", why, "): ", n);
  return out;
}

double ExaminationProbability(int position, double eta) {
  if (position < 1) {
    // Positions are 1-based; 0 or less is a caller's bug (STYLE rule 3).
    std::fprintf(stderr, "ExaminationProbability: position %d is not 1-based\n", position);
    std::abort();
  }
  // pow(p, -0.0) is exactly 1: eta 0 examines everything.
  return std::pow(static_cast<double>(position), -eta);
}

double SimulatedClickProbability(int position, double eta, double click_probability) {
  return ExaminationProbability(position, eta) * click_probability;
}

bool SimulatedClick(int position, double eta, double click_probability, double u) {
  // One draw decides both steps: u < e * p has probability e * p, the
  // product of examining (e) and clicking what was examined (p).
  return u < SimulatedClickProbability(position, eta, click_probability);
}

std::string VariantKey(std::string_view variant) {
  return variant.empty() ? std::string("none") : std::string(variant);
}

bool ClickStats::Record(std::string_view variant, int position, double eta, double prob, double u) {
  const double p = SimulatedClickProbability(position, eta, prob);
  const bool clicked = u < p;
  VariantClicks& v = by_variant[VariantKey(variant)];
  ++impressions;
  ++v.impressions;
  expected_clicks += p;
  v.expected_clicks += p;
  if (clicked) {
    ++clicks;
    ++v.clicks;
  }
  return clicked;
}

void ClickStats::Merge(const ClickStats& other) {
  impressions += other.impressions;
  clicks += other.clicks;
  expected_clicks += other.expected_clicks;
  events_sent += other.events_sent;
  events_failed += other.events_failed;
  for (const auto& [name, v] : other.by_variant) {
    VariantClicks& d = by_variant[name];
    d.impressions += v.impressions;
    d.clicks += v.clicks;
    d.expected_clicks += v.expected_clicks;
  }
}

nlohmann::json ClickStats::ToJson() const {
  auto ratio = [](double a, int64_t n) { return n > 0 ? a / static_cast<double>(n) : 0.0; };
  nlohmann::json variants = nlohmann::json::object();
  for (const auto& [name, v] : by_variant) {
    variants[name] = {{"impressions", v.impressions},
                      {"clicks", v.clicks},
                      {"ctr", ratio(static_cast<double>(v.clicks), v.impressions)},
                      {"expected_ctr", ratio(v.expected_clicks, v.impressions)}};
  }
  return {{"impressions", impressions},
          {"clicks", clicks},
          {"ctr", ratio(static_cast<double>(clicks), impressions)},
          {"expected_ctr", ratio(expected_clicks, impressions)},
          {"click_requests", events_sent},
          {"click_requests_failed", events_failed},
          {"by_variant", std::move(variants)}};
}

nlohmann::json ClickBaselines::ToJson() const {
  return {{"oracle_ctr", oracle_ctr}, {"random_ctr", random_ctr}, {"position_bias", position_bias}};
}

void AddShareOfOracle(nlohmann::json& clicks, double oracle_ctr) {
  if (!(oracle_ctr > 0)) return;
  if (clicks.contains("ctr")) clicks["share_of_oracle"] = clicks["ctr"].get<double>() / oracle_ctr;
  if (!clicks.contains("by_variant")) return;
  for (auto& v : clicks["by_variant"]) v["share_of_oracle"] = v["ctr"].get<double>() / oracle_ctr;
}

std::string ClickSummary(const nlohmann::json& clicks, const ClickBaselines& b, int k) {
  std::string out = absl::StrFormat(
      "clicks: ctr %.4f (expected %.4f); an oracle's top-%d gets %.4f, random items %.4f "
      "(position bias %g)",
      clicks.value("ctr", 0.0), clicks.value("expected_ctr", 0.0), k, b.oracle_ctr, b.random_ctr,
      b.position_bias);
  if (b.oracle_ctr > 0) {
    absl::StrAppend(&out, absl::StrFormat(", %.1f%% of the oracle",
                                          100 * clicks.value("ctr", 0.0) / b.oracle_ctr));
  }
  if (!clicks.contains("by_variant")) return out;
  for (const auto& el : clicks["by_variant"].items()) {
    const std::string& name = el.key();
    const nlohmann::json& v = el.value();
    absl::StrAppend(&out, absl::StrFormat("\n  variant %-12s %9d impressions %7d clicks  ctr %.4f "
                                          "(expected %.4f)",
                                          name, v.value("impressions", int64_t{0}),
                                          v.value("clicks", int64_t{0}), v.value("ctr", 0.0),
                                          v.value("expected_ctr", 0.0)));
    if (b.oracle_ctr > 0) {
      absl::StrAppend(&out, absl::StrFormat(", %.1f%% of the oracle",
                                            100 * v.value("ctr", 0.0) / b.oracle_ctr));
    }
  }
  return out;
}

ClickBaselines ComputeClickBaselines(const data::GroundTruth& truth, const Catalog& catalog,
                                     double zipf, int k, int samples, uint64_t seed, double eta) {
  ZipfSampler users(static_cast<int64_t>(catalog.users.size()), zipf);
  math::Rng rng(seed);
  ClickBaselines b;
  b.position_bias = eta;
  int n_oracle = 0, n_random = 0;
  for (int s = 0; s < samples; ++s) {
    const std::string& user = catalog.users[users.Sample(rng)];
    auto top = truth.TrueTopK(user, k);
    if (!top.ok()) continue;
    // The true top-k in its true order (best first) at positions 1..k.
    for (size_t i = 0; i < top->size(); ++i) {
      if (auto p = truth.ClickProbability(user, (*top)[i]); p.ok()) {
        b.oracle_ctr += SimulatedClickProbability(static_cast<int>(i) + 1, eta, *p);
        ++n_oracle;
      }
    }
    for (int i = 0; i < k; ++i) {
      const std::string& item = truth.item_ids()[rng.Below(truth.item_ids().size())];
      if (auto p = truth.ClickProbability(user, item); p.ok()) {
        b.random_ctr += SimulatedClickProbability(i + 1, eta, *p);
        ++n_random;
      }
    }
  }
  if (n_oracle > 0) b.oracle_ctr /= n_oracle;
  if (n_random > 0) b.random_ctr /= n_random;
  return b;
}

double RoundedUs(int64_t ns) { return std::round(static_cast<double>(ns) / 100.0) / 10.0; }

}  // namespace recstack::loadtest
