// Reading cluster config text (YAML, or JSON, which is read as YAML) into a JSON tree plus the
// line of every node, and writing a tree back as YAML.
//
// Scalars are typed the way Ray reads its YAML (PyYAML's safe loader, YAML 1.1): plain `yes`,
// `no`, `on`, `off`, `true`, `false` (any of three casings) are booleans; `~`, `null` and an
// empty value are null; `0x1F`, `0o17`/`017`, `0b101`, `1_000` and `1:30` (base 60) are
// integers; `1.5`, `.5`, `1.0e+3`, `.inf` and `.nan` are floats (so is `1e3`, which PyYAML
// leaves a string); anything quoted or in a block scalar is a string. Merge keys (`<<: *base`)
// are applied like PyYAML does (explicit keys win). Unlike PyYAML, a duplicate key is an error.
#ifndef VSRAY_CONFIG_YAML_TREE_H_
#define VSRAY_CONFIG_YAML_TREE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "config/diagnostics.h"

namespace vsray::config {

struct Document {
  std::string source;  // the name errors are reported against (a file name)
  nlohmann::json root;
  SourceMap lines;
};

// Parses one YAML (or JSON) document. Errors are INVALID_ARGUMENT, one line,
// "SOURCE:LINE: ...": YAML syntax errors, binary or non-UTF-8 data, more than one document,
// unsupported tags, duplicate keys, non-string keys, nesting deeper than 100 levels or more
// than 1,000,000 nodes after alias expansion. An empty document (nothing but blanks and
// comments) gives a null root, not an error.
StatusOr<Document> ParseConfigText(std::string_view text, std::string source);

// The value of a plain (unquoted) scalar, as described above.
nlohmann::json ResolvePlainScalar(std::string_view text);

// Block-style YAML for a tree; strings that would read back as something else are quoted, so
// ParseConfigText(ToYaml(v)).root == v for every tree of strings, numbers, booleans, nulls,
// objects and arrays (except NaN).
std::string ToYaml(const nlohmann::json& value);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_YAML_TREE_H_
