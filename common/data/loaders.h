#pragma once

// Interaction and item loaders (DESIGN §9). They stream: the core API calls
// a function per row with views into a read buffer, so a 5M-row file is
// parsed without a string per row. Malformed input fails with the file and
// line number: "u.data:17: expected 4 tab-separated fields, got 3".
//
// Formats:
//   movielens  u.data / u1.base: user \t item \t rating \t unix_seconds
//   ml-dat     ratings.dat: user::item::rating::unix_seconds
//   ml-csv     ratings.csv: header userId,movieId,rating,timestamp (seconds); CRLF ok
//   csv        user,item,value[,timestamp]; an optional header line is
//              recognised by a non-numeric value column. Timestamps below
//              1e11 are seconds, larger ones milliseconds.
//   auto       by name: *.dat -> ml-dat; *.csv -> ml-csv if its header starts
//              with userId, else csv; anything else -> movielens.
// Empty lines are skipped. Limits: a line is at most 64 MiB (longer is
// InvalidArgument); the file is read in 64 KiB blocks, so memory does not
// grow with the file.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recstack::data {

enum class Format { kAuto, kMovieLens, kMovieLensDat, kMovieLensCsv, kCsv };

// "auto", "movielens", "ml-dat", "ml-csv", "csv".
absl::StatusOr<Format> ParseFormat(std::string_view name);
std::string FormatName(Format format);

struct InteractionView {
  std::string_view user;
  std::string_view item;
  float value;
  int64_t timestamp_ms;  // 0 = none given
  int64_t line;          // 1-based
};

struct Interaction {
  std::string user;
  std::string item;
  float value;
  int64_t timestamp_ms;
};

using InteractionFn = std::function<absl::Status(const InteractionView&)>;

// Streams every row; stops at the first malformed row or at fn's first error.
absl::Status ForEachInteraction(const std::string& path, Format format, const InteractionFn& fn);
// The same parser over bytes in memory (what the fuzzer and a request body
// hand in): `name` stands for the file name in messages and, with kAuto,
// picks the format as a path would (extension; first line of a .csv).
absl::Status ForEachInteractionInBuffer(std::string_view data, std::string_view name, Format format,
                                        const InteractionFn& fn);
absl::StatusOr<std::vector<Interaction>> LoadInteractions(const std::string& path, Format format);

struct ItemMeta {
  std::string item;
  std::string title;  // UTF-8
  std::vector<std::string> categories;
  int64_t created_at_ms = 0;
};

// MovieLens u.item (Latin-1 titles converted to UTF-8, genres from the 19
// flags) or recstack's items.csv (item,title,categories,created_at_ms with
// categories separated by '|'), told apart by the first line.
absl::StatusOr<std::vector<ItemMeta>> LoadItems(const std::string& path);
// The same over bytes in memory; `name` stands for the file name in messages.
absl::StatusOr<std::vector<ItemMeta>> ParseItems(std::string_view data, std::string_view name);

// Splits one CSV line (RFC 4180 quotes; a trailing \r is dropped).
std::vector<std::string> SplitCsvLine(std::string_view line);

}  // namespace recstack::data
