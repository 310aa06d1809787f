// The data loaders of common/data/loaders.h on any bytes: u.data, ratings.dat,
// ratings.csv, user,item,value[,ts] csv (also picked by name, as `auto`
// does) and the items files (u.item, items.csv). The first byte says which
// file the rest is:
//   'u' u.data (movielens)   'd' ratings.dat (ml-dat)   'r' ratings.csv (ml-csv)
//   'c' a csv                'i' an items file           other: auto, by name
// Every accepted row must be what the header promises (non-empty ids,
// finite value, timestamp >= 0, increasing line numbers), and the file
// loader must agree with the in-memory one on the same bytes.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/data/loaders.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using recstack::data::Format;
using recstack::data::InteractionView;

struct Row {
  std::string user, item;
  float value;
  int64_t ts, line;
  bool operator==(const Row&) const = default;
};

struct Parsed {
  absl::Status status;
  std::vector<Row> rows;
};

recstack::data::InteractionFn Collect(Parsed* p) {
  return [p](const InteractionView& v) {
    FUZZ_CHECK(!v.user.empty() && !v.item.empty());
    FUZZ_CHECK(std::isfinite(v.value));
    FUZZ_CHECK(v.timestamp_ms >= 0);
    FUZZ_CHECK(p->rows.empty() || v.line > p->rows.back().line);
    FUZZ_CHECK(v.user.find('\n') == std::string_view::npos);
    FUZZ_CHECK(v.item.find('\n') == std::string_view::npos);
    p->rows.push_back({std::string(v.user), std::string(v.item), v.value, v.timestamp_ms, v.line});
    return absl::OkStatus();
  };
}

// A per-process scratch file: the path loaders read (and pick a format by).
// In memory (/dev/shm) when there is one: a file on disk costs a
// millisecond per input.
std::string ScratchPath(const std::string& name) {
  // Never destroyed, so the exit handler that removes it can still read it.
  static const std::filesystem::path* dir = [] {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    auto* d =
        new std::filesystem::path(base / ("recstack-loaders-fuzz-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return d;
  }();
  return (*dir / name).string();
}

std::string WriteScratch(const std::string& name, std::string_view bytes) {
  const std::string path = ScratchPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  return path;
}

void Interactions(const std::string& name, Format format, std::string_view data) {
  Parsed mem;
  mem.status = recstack::data::ForEachInteractionInBuffer(data, name, format, Collect(&mem));
  Parsed file;
  file.status =
      recstack::data::ForEachInteraction(WriteScratch(name, data), format, Collect(&file));
  FUZZ_CHECK(mem.status == file.status);
  FUZZ_CHECK(mem.rows == file.rows);
}

void Items(std::string_view data) {
  auto mem = recstack::data::ParseItems(data, "items.csv");
  if (mem.ok()) {
    for (const auto& m : *mem) FUZZ_CHECK(!m.item.empty());
  }
  auto file = recstack::data::LoadItems(WriteScratch("items.csv", data));
  FUZZ_CHECK(mem.status() == file.status());
  if (mem.ok()) {
    FUZZ_CHECK(mem->size() == file->size());
    for (size_t i = 0; i < mem->size(); ++i) {
      FUZZ_CHECK((*mem)[i].item == (*file)[i].item && (*mem)[i].title == (*file)[i].title &&
                 (*mem)[i].categories == (*file)[i].categories &&
                 (*mem)[i].created_at_ms == (*file)[i].created_at_ms);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recstack::fuzz::Input in(data, size);
  const uint8_t kind = in.Byte();
  const std::string_view rest = in.Take();
  switch (kind) {
    case 'u':
      Interactions("u.data", Format::kMovieLens, rest);
      break;
    case 'd':
      Interactions("ratings.dat", Format::kMovieLensDat, rest);
      break;
    case 'r':
      Interactions("ratings.csv", Format::kMovieLensCsv, rest);
      break;
    case 'c':
      Interactions("interactions.csv", Format::kCsv, rest);
      break;
    case 'i':
      Items(rest);
      break;
    default: {
      static const char* const kNames[] = {"u.data", "ratings.dat", "ratings.csv", "events.csv"};
      Interactions(kNames[kind % 4], Format::kAuto, rest);
      break;
    }
  }
  return 0;
}
