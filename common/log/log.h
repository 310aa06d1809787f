#pragma once

// One JSON object per line on stderr (DESIGN §1): {"ts","level","service",
// "msg", ...fields}; ts is milliseconds since the epoch. A field named like
// one of the four fixed keys is written as "field_<key>". Thread-safe; cheap
// when the level is filtered out.

#include <nlohmann/json.hpp>
#include <string_view>

namespace recstack::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets the service name and minimum level ("debug", "info", "warn", "error").
void Init(std::string_view service, std::string_view level);
bool Enabled(Level level);
void Write(Level level, std::string_view msg, const nlohmann::json& fields);

inline void Debug(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  if (Enabled(Level::kError)) Write(Level::kError, msg, fields);
}

// The line Write would print, for tests.
std::string Format(Level level, std::string_view service, std::string_view msg,
                   const nlohmann::json& fields, int64_t ts_ms);

}  // namespace recstack::log
