#include "common/redis/subscriber.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace recstack::redis {
namespace {

// How often the read loop wakes to check Stop(): Stop() returns within this.
constexpr std::chrono::milliseconds kPoll{100};
// Reconnect backoff, doubled per failed attempt.
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

struct ReplyDeleter {
  void operator()(void* r) const { freeReplyObject(r); }
};

}  // namespace

std::string UpdatesMessage(const std::vector<std::string>& ids) { return absl::StrJoin(ids, "\n"); }

std::vector<std::string_view> ParseUpdates(std::string_view message) {
  std::vector<std::string_view> out;
  // Debian's Abseil has its own string_view.
  for (absl::string_view id :
       absl::StrSplit(absl::string_view(message.data(), message.size()), '\n', absl::SkipEmpty()))
    out.emplace_back(id.data(), id.size());
  return out;
}

Subscriber::Subscriber(Options options, std::vector<std::string> channels, Handler on_message)
    : options_(std::move(options)), channels_(std::move(channels)),
      on_message_(std::move(on_message)) {}

Subscriber::~Subscriber() { Stop(); }

void Subscriber::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Subscriber::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  connected_ = false;
}

void Subscriber::SleepUnlessStopped(std::chrono::milliseconds d) const {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(kPoll / 2);
}

void Subscriber::Run() {
  auto backoff = kMinBackoff;
  auto fail = [&] {
    SleepUnlessStopped(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  };
  size_t next_seed = 0;
  while (!stop_) {
    // Connect, AUTH and SELECT under the normal timeouts. On a cluster any
    // node will do (a PUBLISH reaches every node): the seeds in turn.
    Options node = options_;
    if (options_.cluster()) {
      const auto& [host, port] =
          options_.cluster_seeds[next_seed++ % options_.cluster_seeds.size()];
      node = NodeOptions(options_, host, port);
    }
    auto conn = Connection::Connect(node);
    if (!conn.ok()) {
      fail();
      continue;
    }
    std::vector<std::string> cmd = {"SUBSCRIBE"};
    cmd.insert(cmd.end(), channels_.begin(), channels_.end());
    // Read only the first confirmation; the other channels' confirmations
    // arrive as pushes and are skipped below (their first element is
    // "subscribe", not "message").
    auto confirm = (*conn)->Pipeline({cmd});
    if (!confirm.ok() || confirm->empty() || (*confirm)[0].is_error() ||
        !(*conn)->SetCommandTimeout(kPoll).ok()) {
      fail();
      continue;
    }
    // From here the read timeout is the poll period: timeouts are expected.
    backoff = kMinBackoff;
    connected_ = true;
    if (on_subscribed_) on_subscribed_();
    redisContext* ctx = (*conn)->ctx_.get();
    while (!stop_) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK) {
        const bool timeout =
            ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                         std::string_view(ctx->errstr) == std::strerror(EAGAIN));
        if (timeout) {
          // hiredis marks the context failed on a read timeout; nothing was
          // consumed, so clear the error and read again (a partly read reply
          // stays in hiredis's reader and is completed by the next read).
          ctx->err = 0;
          ctx->errstr[0] = '\0';
          continue;
        }
        break;  // connection lost: reconnect
      }
      std::unique_ptr<redisReply, ReplyDeleter> r(static_cast<redisReply*>(raw));
      if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
          r->element[0]->type == REDIS_REPLY_STRING &&
          std::string_view(r->element[0]->str, r->element[0]->len) == "message") {
        on_message_(std::string_view(r->element[1]->str, r->element[1]->len),
                    std::string_view(r->element[2]->str, r->element[2]->len));
      }
    }
    connected_ = false;
    if (on_disconnected_) on_disconnected_();
  }
}

}  // namespace recstack::redis
