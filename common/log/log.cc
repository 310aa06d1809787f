#include "common/log/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

namespace recstack::log {
namespace {

// Process-wide logger state, set once at start-up by Init (the one
// exception to "no mutable globals": logging is process-wide by nature).
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
std::string g_service = "recstack";

std::shared_ptr<spdlog::logger> Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("recstack-json");
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return logger;
}

const char* Name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void Init(std::string_view service, std::string_view level) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_service = std::string(service);
  }
  Level l = Level::kInfo;
  if (level == "debug") l = Level::kDebug;
  if (level == "warn") l = Level::kWarn;
  if (level == "error") l = Level::kError;
  g_level = static_cast<int>(l);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

std::string Format(Level level, std::string_view service, std::string_view msg,
                   const nlohmann::json& fields, int64_t ts_ms) {
  nlohmann::json line = {{"ts", ts_ms}, {"level", Name(level)}, {"service", service}, {"msg", msg}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      // The four fixed keys always mean what they say; a colliding field is kept
      // under "field_<key>" instead of overwriting them.
      const bool reserved = line.contains(it.key());
      line[reserved ? "field_" + it.key() : it.key()] = it.value();
    }
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Write(Level level, std::string_view msg, const nlohmann::json& fields) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string service;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    service = g_service;
  }
  Logger()->info(Format(level, service, msg, fields, now));
}

}  // namespace recstack::log
