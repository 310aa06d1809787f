#pragma once

// Test helper (header only: the fuzz targets link no test library).

#include <cctype>
#include <string>
#include <string_view>

namespace recstack::testing {

// Every byte but the unreserved ones as %XX (RFC 3986): what
// encodeURIComponent (the page) and any careful client send as an id.
inline std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace recstack::testing
