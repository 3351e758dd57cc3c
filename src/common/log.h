// Logging: one spdlog logger ("vsray") on stderr, shared by every layer. Messages must never
// contain passwords or session tokens; see vsphere/redact.h for the scrubbing helpers.
#ifndef VSRAY_COMMON_LOG_H_
#define VSRAY_COMMON_LOG_H_

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace vsray {

std::shared_ptr<spdlog::logger> Log();

// Sets the level of what goes to stderr by name: trace, debug, info, warn (the default), error,
// off. Unknown names leave it as is.
void SetLogLevel(const std::string& level);

// Adds a file sink at debug level (in addition to stderr, whose level stays). Returns false if
// the file can't be opened.
bool AddLogFile(const std::string& path);

}  // namespace vsray

#endif  // VSRAY_COMMON_LOG_H_
