#pragma once

// A pub/sub subscriber on its own connection and thread. It reconnects with
// backoff (100 ms doubling to 2 s) after Redis goes away, and Stop() returns
// within one poll period (100 ms). Messages published while it is
// disconnected are lost (Redis pub/sub is fire-and-forget): use
// set_on_subscribed to catch up from durable state. On a cluster it
// subscribes on one node (the seeds in turn after a failure).

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/redis/client.h"

namespace recstack::redis {

// The payload of an announcement of changed ids (rs:items:updates,
// rs:users:updates; common/redis/keyspace.h): the ids one per line (an id
// holds no control character, common/events/ids.h), and the ids of one
// (empty lines skipped).
std::string UpdatesMessage(const std::vector<std::string>& ids);
std::vector<std::string_view> ParseUpdates(std::string_view message);

class Subscriber {
 public:
  using Handler = std::function<void(std::string_view channel, std::string_view payload)>;

  Subscriber(Options options, std::vector<std::string> channels, Handler on_message);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void Start();
  void Stop();
  // True while subscribed (tests wait for it before publishing).
  bool connected() const { return connected_.load(); }
  // Called on the subscriber thread after every (re)subscription, e.g. to
  // poll for what was missed while disconnected. Set before Start().
  void set_on_subscribed(std::function<void()> fn) { on_subscribed_ = std::move(fn); }
  // Called on the subscriber thread when the subscription is lost (from then
  // on messages are missed until the next on_subscribed). Set before Start().
  void set_on_disconnected(std::function<void()> fn) { on_disconnected_ = std::move(fn); }

 private:
  void Run();
  void SleepUnlessStopped(std::chrono::milliseconds d) const;

  Options options_;
  std::vector<std::string> channels_;
  Handler on_message_;
  std::function<void()> on_subscribed_, on_disconnected_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace recstack::redis
