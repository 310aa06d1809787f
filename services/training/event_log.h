#pragma once

// The trainer's copy of the event stream. It reads rs:events through a
// consumer group (so a restart resumes where it stopped), appends each
// batch to a snapshot file in --state-dir, fsyncs, records the last stream
// id it persisted, and only then XACKs. After a crash, entries that were
// persisted but not acknowledged are recognised by their id and not counted
// twice; a torn last record is cut off.
//
// Snapshot record (little-endian): u8 user_len, user, u8 item_len, item,
// u8 type (recstack.v1.EventType), f32 value, i64 timestamp_ms.

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mf/dataset.h"
#include "common/redis/client.h"
#include "services/training/feedback_log.h"

namespace recstack::training {

struct LoggedEvent {
  int32_t user;
  int32_t item;
  uint8_t type;
  float value;
  int64_t timestamp_ms;
};

class EventLog {
 public:
  EventLog(redis::Pool& pool, redis::Keyspace keys, std::string state_dir,
           std::string group = "training", std::string consumer = "trainer-1");
  ~EventLog();

  // Where IMPRESSION events and CLICKs with a request id also go (the
  // feedback loop's log), persisted before the stream is acknowledged.
  // Set before Open; may be null.
  void set_feedback(FeedbackLog* feedback) { feedback_ = feedback; }
  FeedbackLog* feedback() const { return feedback_; }
  // Reads the snapshot and creates the consumer group if needed.
  absl::Status Open();
  // Pulls everything new from the stream; returns how many events were added.
  absl::StatusOr<int64_t> Sync();

  int64_t size() const;
  // XLEN of the stream: O(1), what a caller checks before waiting for a Sync.
  absl::StatusOr<int64_t> StreamLength();
  // Rows for training: implicit sums weight(type) * value (value 0 counts
  // as 1) over the event types with weight > 0; explicit takes RATING
  // events, the latest per (user, item).
  mf::Dataset BuildDataset(bool explicit_ratings,
                           const std::map<std::string, double>& weights) const;

 private:
  absl::Status Append(const std::vector<LoggedEvent>& events, const std::string& last_id);

  redis::Pool& pool_;
  redis::Keyspace keys_;
  std::string dir_, group_, consumer_;
  mutable std::mutex mu_;
  mf::IdMap users_, items_;
  std::vector<LoggedEvent> events_;
  std::string last_id_ = "0-0";
  std::FILE* file_ = nullptr;
  bool group_ready_ = false;
  FeedbackLog* feedback_ = nullptr;
};

// Stream ids "ms-seq" compared numerically.
bool StreamIdLess(std::string_view a, std::string_view b);

}  // namespace recstack::training
