#pragma once

// The trainer's copy of the event log. It reads every partition stream
// (rs:events, or rs:{p<i>...}:events with partitions; common/redis/keyspace.h)
// through one consumer group per stream (so a restart resumes where it
// stopped), appends each batch to a snapshot file in --state-dir, fsyncs,
// and only then XACKs. Each batch is preceded by a header record naming its
// partition, its last stream id and its event count, written in the same
// write: after a crash a batch is either whole (its entries, re-delivered
// because they were not acknowledged, are recognised by id and not counted
// twice) or cut off with its header (a torn tail), never half counted.
//
// Snapshot records (little-endian):
//   event:  u8 user_len (1-255), user, u8 item_len, item,
//           u8 type (recstack.v1.EventType), f32 value, i64 timestamp_ms
//   header: u8 0, u16 partition, u32 count, u8 id_len, last stream id
// Files written before partitions have no headers: their last id is in
// `last_id` and counts for partition 0.

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
  // XLEN summed over the partition streams: O(partitions), what a caller
  // checks before waiting for a Sync.
  absl::StatusOr<int64_t> StreamLength();
  // Rows for training: implicit sums weight(type) * value (value 0 counts
  // as 1) over the event types with weight > 0; explicit takes RATING
  // events, the latest per (user, item).
  mf::Dataset BuildDataset(bool explicit_ratings,
                           const std::map<std::string, double>& weights) const;

 private:
  absl::Status Append(const std::vector<LoggedEvent>& events, int partition,
                      const std::string& last_id);
  // Reads partition `partition`'s stream to its end; returns events added.
  absl::StatusOr<int64_t> SyncPartition(int partition);

  redis::Pool& pool_;
  redis::Keyspace keys_;
  std::string dir_, group_, consumer_;
  mutable std::mutex mu_;
  mf::IdMap users_, items_;
  std::vector<LoggedEvent> events_;
  std::vector<std::string> last_ids_;  // per partition, "0-0" until read
  std::vector<bool> group_ready_;      // per partition
  std::FILE* file_ = nullptr;
  FeedbackLog* feedback_ = nullptr;
};

// Stream ids "ms-seq" compared numerically.
bool StreamIdLess(std::string_view a, std::string_view b);

}  // namespace recstack::training
