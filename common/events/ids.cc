#include "common/events/ids.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace recstack::ids {

bool IsPrintableUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    int len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, beyond Unicode, C1 controls.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp <= 0x9f)) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status ValidateId(std::string_view field, std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(std::string(field), " is empty"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " is ", id.size(), " bytes (at most 128)"));
  }
  if (!IsPrintableUtf8(id)) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), " is not printable UTF-8"));
  }
  return absl::OkStatus();
}

}  // namespace recstack::ids
