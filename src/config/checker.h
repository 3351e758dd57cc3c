// Internal: typed, located reads from a config tree for the parsers in this directory. Every
// error is a ConfigError at the line of the offending value (or key).
#ifndef VSRAY_CONFIG_CHECKER_H_
#define VSRAY_CONFIG_CHECKER_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/diagnostics.h"

namespace vsray::config {

// The member `key` of `parent` (an object), or nullptr when absent or `parent` is not an object.
const nlohmann::json* Member(const nlohmann::json& parent, std::string_view key);

// "a string", "a number", "true/false", "a list", "a mapping", "empty (null)".
std::string DescribeType(const nlohmann::json& value);

class Checker {
 public:
  Checker(std::string source, const SourceMap* lines) : source_(std::move(source)), lines_(lines) {}

  const std::string& source() const { return source_; }

  // Errors located at the key that names `at` (for list items and the root: the value), or at
  // its nearest ancestor when `at` is not in the tree.
  Status Error(const ConfigPath& at, std::string_view message) const;
  Status KeyError(const ConfigPath& at, std::string_view message) const;
  void Warn(const ConfigPath& at, std::string_view message);
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Readers for member `key` of the mapping `parent` at `parent_path`. An absent or null
  // member leaves `*out` as it is and returns OK; `*present` (if given) says whether it was set.
  // Empty strings count as absent.
  Status GetString(const nlohmann::json& parent, const ConfigPath& parent_path,
                   std::string_view key, std::string* out, bool* present = nullptr) const;
  Status GetBool(const nlohmann::json& parent, const ConfigPath& parent_path, std::string_view key,
                 bool* out) const;
  Status GetInt(const nlohmann::json& parent, const ConfigPath& parent_path, std::string_view key,
                std::int64_t min, std::int64_t max, std::int64_t* out,
                bool* present = nullptr) const;
  Status GetNumber(const nlohmann::json& parent, const ConfigPath& parent_path,
                   std::string_view key, double min, bool min_exclusive, double* out) const;
  Status GetStringList(const nlohmann::json& parent, const ConfigPath& parent_path,
                       std::string_view key, std::vector<std::string>* out,
                       bool* present = nullptr) const;
  Status GetStringMap(const nlohmann::json& parent, const ConfigPath& parent_path,
                      std::string_view key, std::map<std::string, std::string>* out) const;
  // The member as a mapping: nullptr when absent or null; an error when not a mapping.
  StatusOr<const nlohmann::json*> GetObject(const nlohmann::json& parent,
                                            const ConfigPath& parent_path,
                                            std::string_view key) const;

  // Unknown keys of `object` are errors, with a "did you mean" when one is close.
  Status CheckKeys(const nlohmann::json& object, const ConfigPath& path,
                   const std::vector<std::string>& known) const;
  // Unknown keys of `object` are warnings, with a "did you mean" when one is close.
  void WarnUnknownKeys(const nlohmann::json& object, const ConfigPath& path,
                       const std::vector<std::string>& known, std::string_view note);

 private:
  std::string UnknownKeyMessage(std::string_view key, const std::vector<std::string>& known) const;

  std::string source_;
  const SourceMap* lines_;
  std::vector<std::string> warnings_;
};

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_CHECKER_H_
