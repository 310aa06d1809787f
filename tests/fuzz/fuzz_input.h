#pragma once

// What the fuzz targets share: a reader that takes a fuzz input apart
// (without clang's FuzzedDataProvider, so the targets also build with gcc
// for replay) and the invariant check that makes a broken promise a
// finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

namespace recstack::fuzz {

// An accepted input broke a promise of the code under test: report it and
// trap, so libFuzzer (and the replay ctest) count it as a crash.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      __builtin_trap();                                                                 \
    }                                                                                   \
  } while (0)

// Consumes an input from the front.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  std::string_view rest() const { return rest_; }

  // One byte (0 when none is left).
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Up to the next `sep` (consumed, not returned), or everything left.
  std::string_view Until(std::string_view sep) {
    const size_t p = rest_.find(sep);
    std::string_view out = rest_.substr(0, p);
    rest_.remove_prefix(p == std::string_view::npos ? rest_.size() : p + sep.size());
    return out;
  }
  std::string_view Take() {
    std::string_view out = rest_;
    rest_ = {};
    return out;
  }

 private:
  std::string_view rest_;
};

// `text` cut at every `sep` (an empty text is one empty piece).
inline std::vector<std::string_view> SplitAll(std::string_view text, std::string_view sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t p = text.find(sep);
    out.push_back(text.substr(0, p));
    if (p == std::string_view::npos) return out;
    text.remove_prefix(p + sep.size());
  }
}

}  // namespace recstack::fuzz
