#pragma once

// Interactions as training sees them: external string ids interned to dense
// indices, compact rows (12 bytes each: a 5M-row data set is 60 MB), the
// train/test splits of evaluation, and the CSR matrices ALS runs on.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/loaders.h"
#include "common/math/csr.h"

namespace recstack::mf {

// External id <-> dense index.
class IdMap {
 public:
  int32_t Intern(std::string_view id);
  std::optional<int32_t> Find(std::string_view id) const;
  const std::string& Name(int32_t index) const { return names_[index]; }
  const std::vector<std::string>& names() const { return names_; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> index_;
  std::vector<std::string> names_;
};

struct Row {
  int32_t user;
  int32_t item;
  float value;
};

struct Dataset {
  IdMap users;
  IdMap items;
  std::vector<Row> rows;
  // Parallel to rows, only when the source had timestamps and they were
  // asked for (leave-last-out); epoch ms.
  std::vector<int64_t> timestamps;
};

struct LoadOptions {
  data::Format format = data::Format::kAuto;
  bool keep_timestamps = false;
};

// Reads a ratings/interactions file. Empty input is an error.
absl::StatusOr<Dataset> LoadDataset(const std::string& path, const LoadOptions& options);

// Test rows of a given file, mapped through the training id maps. Rows whose
// user or item training never saw are kept and counted: an unknown item is
// -1, an unknown user -1 - k for the k-th distinct one.
struct TestSet {
  std::vector<Row> rows;  // user or item may be -1
  int64_t unknown_user_rows = 0;
  int64_t unknown_item_rows = 0;
};
absl::StatusOr<TestSet> LoadTestSet(const std::string& path, data::Format format,
                                    const Dataset& train);

// "stratified:F" (F = train fraction per user, 0 < F < 1), "last:N" (each
// user's N latest rows are test), "none".
struct SplitSpec {
  enum class Kind { kNone, kStratified, kLeaveLast };
  Kind kind = Kind::kNone;
  double train_fraction = 1.0;
  int32_t last_n = 0;
  // Users with fewer rows keep them all in train.
  int32_t min_user_rows = 2;
};
absl::StatusOr<SplitSpec> ParseSplit(std::string_view text);

// Splits rows per user; deterministic for a seed. Leave-last needs timestamps.
absl::Status Split(const Dataset& data, const SplitSpec& spec, uint64_t seed,
                   std::vector<Row>* train, std::vector<Row>* test);

// CSR by user and by item of `rows`; duplicate (user, item) pairs summed
// (implicit) or last-wins (explicit ratings).
struct InteractionMatrix {
  math::CsrMatrix by_user;
  math::CsrMatrix by_item;
};
InteractionMatrix BuildMatrix(int32_t n_users, int32_t n_items, std::vector<Row> rows,
                              bool sum_duplicates);

// Event-type weights for implicit training from events (the service):
// VIEW 1, CLICK 1, PLAY 2, PURCHASE 4, LIKE 2, RATING = its value, DISLIKE
// and IMPRESSION excluded (weight <= 0 excludes).
std::map<std::string, double> DefaultEventWeights();

}  // namespace recstack::mf
