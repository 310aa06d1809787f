#include "common/model/holder.h"

#include "common/log/log.h"

namespace recstack::model {

ModelFollower::ModelFollower(ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
                             FollowOptions options, LoadFn load, VersionFn current)
    : store_(store), redis_options_(std::move(redis_options)), keys_(std::move(keys)),
      options_(std::move(options)), load_(std::move(load)), current_(std::move(current)) {}

ModelFollower::~ModelFollower() { Stop(); }

void ModelFollower::Start() {
  Refresh();
  const std::string channel = UpdatesKey(keys_, options_.slot);
  subscriber_ = std::make_unique<redis::Subscriber>(
      redis_options_, std::vector<std::string>{channel},
      [this](std::string_view, std::string_view version) {
        absl::Status st = Load(std::string(version));
        if (!st.ok()) {
          log::Warn(options_.name + " update not loaded",
                    {{"version", version}, {"error", st.message()}});
        }
      });
  // After a reconnect, what was announced meanwhile is picked up by a poll.
  subscriber_->set_on_subscribed([this] { Refresh(); });
  subscriber_->Start();
  poller_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      Refresh();
      lock.lock();
    }
  });
}

void ModelFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (subscriber_) subscriber_->Stop();
  if (poller_.joinable()) poller_.join();
}

bool ModelFollower::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void ModelFollower::Refresh() {
  auto v = store_.CurrentVersion(options_.slot);
  if (!v.ok()) return;  // no model yet, or Redis down: keep serving what we have
  if (current_() == *v) return;
  absl::Status st = Load(*v);
  if (!st.ok())
    log::Warn(options_.name + " not loaded", {{"version", *v}, {"error", st.message()}});
}

absl::Status ModelFollower::Load(const std::string& version) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  if (current_() == version) return absl::OkStatus();
  return load_(version);
}

}  // namespace recstack::model
