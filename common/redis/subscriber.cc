#include "common/redis/subscriber.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>

namespace recstack::redis {
namespace {

// How often the read loop wakes to check Stop().
constexpr std::chrono::milliseconds kPoll{100};

struct ReplyDeleter {
  void operator()(void* r) const { freeReplyObject(r); }
};

}  // namespace

Subscriber::Subscriber(Options options, std::vector<std::string> channels, Handler on_message)
    : options_(std::move(options)), channels_(std::move(channels)), on_message_(std::move(on_message)) {
  // The read timeout is the poll period; timeouts are expected, not errors.
  options_.command_timeout = kPoll;
}

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

void Subscriber::Run() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    auto conn = Connection::Connect(options_);
    if (!conn.ok()) {
      auto until = std::chrono::steady_clock::now() + backoff;
      while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(kPoll / 2);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    std::vector<std::string> cmd = {"SUBSCRIBE"};
    cmd.insert(cmd.end(), channels_.begin(), channels_.end());
    // SUBSCRIBE answers one confirmation per channel.
    auto confirms = (*conn)->Pipeline({cmd});
    if (!confirms.ok()) continue;
    // The other channels' confirmations arrive as pushes and are skipped
    // below: their first element is "subscribe", not "message".
    backoff = std::chrono::milliseconds(100);
    connected_ = true;
    if (on_subscribed_) on_subscribed_();
    redisContext* ctx = (*conn)->ctx_;
    while (!stop_) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK) {
        if (ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          // Poll timeout: hiredis marks the context failed; clear and go on.
          ctx->err = 0;
          ctx->errstr[0] = '\0';
          continue;
        }
        break;  // connection lost: reconnect
      }
      std::unique_ptr<redisReply, ReplyDeleter> r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
          std::string_view(r->element[0]->str, r->element[0]->len) == "message") {
        on_message_(std::string_view(r->element[1]->str, r->element[1]->len),
                    std::string_view(r->element[2]->str, r->element[2]->len));
      }
    }
    connected_ = false;
  }
}

}  // namespace recstack::redis
