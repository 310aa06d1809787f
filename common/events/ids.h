#pragma once

// The id rule of DESIGN §2, in one place: user, item and event ids are 1-128
// bytes of printable UTF-8 (valid encoding, no C0/C1 control characters or
// DEL). Every service checks ids with it, so an id one service accepts no
// other refuses.

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace recstack::ids {

inline constexpr size_t kMaxIdBytes = 128;

// Valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
// with no C0/C1 control characters or DEL.
bool IsPrintableUtf8(std::string_view s);

// OK, or InvalidArgument naming `field` and the rule it broke:
// "user_id is empty", "item_id is 300 bytes (at most 128)",
// "user_id is not printable UTF-8".
absl::Status ValidateId(std::string_view field, std::string_view id);

}  // namespace recstack::ids
