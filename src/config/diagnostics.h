// Diagnostics for the cluster config: where a value sits in the tree (ConfigPath), which line of
// which file it came from (SourceMap), and the one-line error format every config error uses:
//
//   FILE:LINE: YAML.PATH: what is wrong and what is expected
#ifndef VSRAY_CONFIG_DIAGNOSTICS_H_
#define VSRAY_CONFIG_DIAGNOSTICS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/spelling.h"
#include "common/status.h"

namespace vsray::config {

// A path into the config tree: mapping keys and list indices.
class ConfigPath {
 public:
  ConfigPath() = default;

  ConfigPath Key(std::string_view key) const;
  ConfigPath Index(std::size_t index) const;
  ConfigPath Parent() const;
  bool empty() const { return segments_.empty(); }

  // For people: `provider.vsphere_config.frozen_vm`, `available_node_types["ray.head.default"]`,
  // `setup_commands[2]`; "(top level)" for the root.
  std::string Display() const;
  // RFC 6901 JSON pointer: `/provider/vsphere_config`; "" for the root.
  std::string Pointer() const;

 private:
  struct Segment {
    std::string key;
    bool is_index = false;
    std::size_t index = 0;
  };
  std::vector<Segment> segments_;
};

// The 1-based lines of a document's nodes, by JSON pointer. Trees built from JSON objects (not
// text) have no lines: every lookup gives 1.
class SourceMap {
 public:
  struct Lines {
    int key = 0;    // line of the mapping key (0 for list items and the root)
    int value = 0;  // line of the value
  };

  void Set(const std::string& pointer, Lines lines) { lines_[pointer] = lines; }
  // Copies `other`'s lines for `pointer` and everything below it.
  void CopySubtree(const SourceMap& other, const std::string& pointer);
  // Line of the value at `path`, or of its nearest ancestor that has one; 1 if none.
  int ValueLine(const ConfigPath& path) const;
  // Line of the key that names `path` (falls back like ValueLine).
  int KeyLine(const ConfigPath& path) const;

 private:
  const Lines* Find(const ConfigPath& path) const;
  std::unordered_map<std::string, Lines> lines_;
};

// INVALID_ARGUMENT with "SOURCE:LINE: PATH: message", or "SOURCE:LINE: message" when `path` is
// empty. Newlines and other control characters in the text are replaced so it stays one line.
Status ConfigError(std::string_view source, int line, std::string_view path,
                   std::string_view message);

// The "did you mean" helpers (common/spelling.h), for the config's callers.
using ::vsray::ClosestMatch;
using ::vsray::EditDistance;

// Replaces every occurrence of `secret` (when at least 3 characters long) with "*****".
std::string RedactSecret(std::string text, std::string_view secret);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_DIAGNOSTICS_H_
