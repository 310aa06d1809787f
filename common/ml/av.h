#pragma once

// Debian 12's abseil is built with its own absl::string_view (not an alias of
// std::string_view), and absl::StrCat only takes that one.

#include <string_view>

#include "absl/strings/string_view.h"

namespace recstack::ml {

inline absl::string_view Av(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace recstack::ml
