#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <mutex>

namespace vsray {

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    stderr_sink->set_level(spdlog::level::warn);
    auto l = std::make_shared<spdlog::logger>("vsray", stderr_sink);
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return logger;
}

namespace {

// The logger lets through what its most verbose sink wants.
void UpdateLoggerLevel() {
  auto level = spdlog::level::off;
  for (const auto& sink : Log()->sinks()) level = std::min(level, sink->level());
  Log()->set_level(level);
}

}  // namespace

void SetLogLevel(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return;
  Log()->sinks().front()->set_level(parsed);
  UpdateLoggerLevel();
}

bool AddLogFile(const std::string& path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    sink->set_level(spdlog::level::debug);
    Log()->sinks().push_back(sink);
    UpdateLoggerLevel();
    return true;
  } catch (const spdlog::spdlog_ex&) {
    return false;
  }
}

}  // namespace vsray
