#pragma once

// The feedback loop's log (issue 13, docs/rankers.md): the IMPRESSION events
// the gateway logged, each with the feature vector the ranker scored the
// item with, its position, propensity, ranker and experiment variant, and
// the CLICK events that name a request id. The event log's consumer hands
// them over while it reads the stream (EventLog::Sync); they are appended to
// feedback.log in the state folder (fsynced before the stream is
// acknowledged) and read back at start-up, so a restart loses nothing.
//
// feedback.log record (little-endian): u32 payload length, then the payload
// u8 type, and u16-length-prefixed strings stream id, user, item, context
// (the event's context as JSON), then i64 timestamp_ms. A torn last record
// is cut off; entries at or before the newest stream id already in the file
// are skipped, so a crash between this file and the event log's own
// last-id does not count anything twice.
//
// Joining is by request id: an impression is clicked when a CLICK of the
// same request and item arrives within the attribution window after it.
//
// Retention (FeedbackRetention, --feedback-retention): the log keeps the
// impressions of the last `window_ms` of event time, counted back from the
// newest event it holds, and the clicks that can still join them; older
// entries are dropped from memory every window/16, and feedback.log is
// rewritten without them (to a temporary file, fsynced, renamed) when it has
// grown to twice its size after the last rewrite. Memory and disk are then
// bounded by the rate of impressions times the window. The newest entry of
// each partition always stays in the file: it is what a restart skips
// repeats by.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mf/dataset.h"

namespace recstack::training {

// One stream entry the log keeps (IMPRESSION, or CLICK with a request id).
struct RawFeedback {
  std::string stream_id;
  uint8_t type = 0;  // recstack.v1.EventType
  std::string user, item;
  int64_t timestamp_ms = 0;
  std::string context_json;  // the entry's "ctx" field
  int partition = 0;         // the event log partition the stream id is of
};

// An impression as the loop reads it.
struct Impression {
  int64_t ts_ms = 0;
  uint64_t request = 0;  // hash of the request id
  int32_t user = 0;      // into FeedbackView::users
  int32_t item = 0;      // into FeedbackView::items
  int32_t position = 0;  // 0-based, as shown
  float propensity = 1;  // of showing this item at this position
  bool explored = false;
  // Into FeedbackView::names; -1 when the impression did not say.
  int32_t experiment = -1, variant = -1, ranker = -1;
  // Offset of its kNumFeatures floats in FeedbackView::features; -1 when
  // it has no (or an unusable) feature vector, e.g. a fallback answer.
  int64_t features = -1;
};

struct Click {
  int64_t ts_ms = 0;
  uint64_t request = 0;
  int32_t item = 0;
};

// A consistent copy of (part of) the log, for one job or one report.
struct FeedbackView {
  std::vector<Impression> impressions;  // in log order (time order)
  std::vector<float> features;
  std::vector<Click> clicks;
  mf::IdMap users, items, names;

  const float* Features(const Impression& imp) const {
    return imp.features < 0 ? nullptr : features.data() + imp.features;
  }
  // label[i] = 1 when impression i was clicked: a CLICK with its request id
  // and item at most `attribution_ms` after it (or up to 1 s before, for
  // clocks of different processes).
  std::vector<uint8_t> Labels(int64_t attribution_ms) const;
};

// Hash of a request id as the log keys it.
uint64_t RequestKey(std::string_view request_id);

struct FeedbackRetention {
  int64_t window_ms = 0;  // 0: keep every entry for the life of the log
  // The file is rewritten once it is at least this large and twice its size
  // after the last rewrite (amortised: each byte is copied O(1) times).
  int64_t compact_min_bytes = 4 << 20;
};

// What the log holds, for metrics and logs.
struct FeedbackStats {
  int64_t impressions = 0, clicks = 0;
  int64_t file_bytes = 0;       // feedback.log's size
  int64_t dropped_entries = 0;  // impressions and clicks dropped by retention so far
  int64_t compactions = 0;      // rewrites of feedback.log so far
  int64_t oldest_ms = 0;        // timestamp of the oldest impression kept (0: none)
};

class FeedbackLog {
 public:
  explicit FeedbackLog(std::string state_dir, FeedbackRetention retention = {});
  ~FeedbackLog();
  FeedbackLog(const FeedbackLog&) = delete;
  FeedbackLog& operator=(const FeedbackLog&) = delete;

  // Reads feedback.log (cutting a torn tail) and opens it for appending.
  absl::Status Open();
  // Persists and indexes the entries newer than those already kept.
  absl::Status Append(const std::vector<RawFeedback>& entries);
  // A copy of the impressions at or after `from_ms` and every click.
  FeedbackView Snapshot(int64_t from_ms = 0) const;
  int64_t impressions() const;
  int64_t clicks() const;
  // Impressions whose context could not be used for learning (a bad or
  // foreign-schema feature vector); they still count in experiment reports.
  int64_t unusable() const;
  FeedbackStats stats() const;
  // Called (under no lock of the log's) after every Append that changed it.
  void set_observer(std::function<void(const FeedbackStats&)> observer);

 private:
  void Index(const RawFeedback& e);
  // Drops what the window no longer keeps (when due), then rewrites the
  // file when it has doubled. mu_ held.
  absl::Status Retain();
  absl::Status Compact();
  // The entries of `window_ms` before the newest one: impressions at or
  // after it, clicks at or after it less the 1 s of FeedbackView::Labels.
  int64_t Cutoff() const;
  bool Keeps(const RawFeedback& e, int64_t cutoff) const;
  FeedbackStats StatsLocked() const;

  std::string dir_;
  FeedbackRetention retention_;
  std::function<void(const FeedbackStats&)> observer_;
  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  std::map<int, std::string> last_ids_;  // newest stream id kept, per partition
  FeedbackView all_;
  int64_t unusable_ = 0;
  int64_t newest_ms_ = 0;       // the newest entry's timestamp (event time)
  int64_t retained_at_ms_ = 0;  // newest_ms_ when Retain last dropped entries
  int64_t file_bytes_ = 0, compacted_bytes_ = 0;
  int64_t dropped_ = 0, compactions_ = 0;
  int64_t interned_at_last_remap_ = 0;  // names in the id maps after the last re-interning
};

}  // namespace recstack::training
