#include "config/checker.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace vsray::config {

using nlohmann::json;

const json* Member(const json& parent, std::string_view key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it == parent.end() ? nullptr : &*it;
}

std::string DescribeType(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "empty (null)";
    case json::value_t::boolean:
      return "true/false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "a mapping";
    default:
      return "an unsupported value";
  }
}

Status Checker::Error(const ConfigPath& at, std::string_view message) const {
  // The key's line: for a block mapping it is the line people look for ("frozen_vm:"), and
  // for a scalar it is the value's line too.
  return ConfigError(source_, lines_->KeyLine(at), at.Display(), message);
}

Status Checker::KeyError(const ConfigPath& at, std::string_view message) const {
  return ConfigError(source_, lines_->KeyLine(at), at.Display(), message);
}

void Checker::Warn(const ConfigPath& at, std::string_view message) {
  warnings_.push_back(ConfigError(source_, lines_->KeyLine(at), at.Display(), message).message());
}

Status Checker::GetString(const json& parent, const ConfigPath& parent_path, std::string_view key,
                          std::string* out, bool* present) const {
  if (present != nullptr) *present = false;
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return OkStatus();
  const ConfigPath path = parent_path.Key(key);
  if (!value->is_string()) {
    std::string message = "expected a string, got " + DescribeType(*value);
    if (value->is_number() || value->is_boolean()) message += " (quote it to make it a string)";
    return Error(path, message);
  }
  const auto& text = value->get_ref<const std::string&>();
  if (text.empty()) return OkStatus();
  *out = text;
  if (present != nullptr) *present = true;
  return OkStatus();
}

Status Checker::GetBool(const json& parent, const ConfigPath& parent_path, std::string_view key,
                        bool* out) const {
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return OkStatus();
  if (!value->is_boolean()) {
    return Error(parent_path.Key(key), "expected true or false, got " + DescribeType(*value));
  }
  *out = value->get<bool>();
  return OkStatus();
}

Status Checker::GetInt(const json& parent, const ConfigPath& parent_path, std::string_view key,
                       std::int64_t min, std::int64_t max, std::int64_t* out, bool* present) const {
  if (present != nullptr) *present = false;
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return OkStatus();
  const ConfigPath path = parent_path.Key(key);
  const std::string range =
      max >= std::numeric_limits<int>::max()
          ? "a whole number >= " + std::to_string(min)
          : "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  std::int64_t number = 0;
  if (value->is_number_integer() && !value->is_number_unsigned()) {
    number = value->get<std::int64_t>();
  } else if (value->is_number_unsigned()) {
    const auto big = value->get<std::uint64_t>();
    if (big > static_cast<std::uint64_t>(max)) {
      return Error(path, "expected " + range + ", got " + std::to_string(big));
    }
    number = static_cast<std::int64_t>(big);
  } else if (value->is_number_float()) {
    const double real = value->get<double>();
    if (!std::isfinite(real) || std::floor(real) != real || real < -9.0e18 || real > 9.0e18) {
      return Error(path, "expected " + range + ", got " + value->dump());
    }
    number = static_cast<std::int64_t>(real);
  } else {
    return Error(path, "expected " + range + ", got " + DescribeType(*value));
  }
  if (number < min || number > max) {
    return Error(path, "expected " + range + ", got " + std::to_string(number));
  }
  *out = number;
  if (present != nullptr) *present = true;
  return OkStatus();
}

Status Checker::GetNumber(const json& parent, const ConfigPath& parent_path, std::string_view key,
                          double min, bool min_exclusive, double* out) const {
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return OkStatus();
  const ConfigPath path = parent_path.Key(key);
  const std::string bound =
      std::floor(min) == min ? std::to_string(static_cast<std::int64_t>(min)) : json(min).dump();
  const std::string expected = std::string("a number ") + (min_exclusive ? "> " : ">= ") + bound;
  if (!value->is_number()) {
    return Error(path, "expected " + expected + ", got " + DescribeType(*value));
  }
  const double number = value->get<double>();
  if (!std::isfinite(number) || number < min || (min_exclusive && number == min)) {
    return Error(path, "expected " + expected + ", got " + value->dump());
  }
  *out = number;
  return OkStatus();
}

Status Checker::GetStringList(const json& parent, const ConfigPath& parent_path,
                              std::string_view key, std::vector<std::string>* out,
                              bool* present) const {
  if (present != nullptr) *present = false;
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return OkStatus();
  const ConfigPath path = parent_path.Key(key);
  if (!value->is_array()) {
    return Error(path, "expected a list of strings, got " + DescribeType(*value));
  }
  std::vector<std::string> items;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    if (!item.is_string()) {
      return Error(path.Index(i), "expected a string, got " + DescribeType(item));
    }
    items.push_back(item.get<std::string>());
  }
  *out = std::move(items);
  if (present != nullptr) *present = true;
  return OkStatus();
}

Status Checker::GetStringMap(const json& parent, const ConfigPath& parent_path,
                             std::string_view key, std::map<std::string, std::string>* out) const {
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return OkStatus();
  const ConfigPath path = parent_path.Key(key);
  if (!value->is_object()) {
    return Error(path, "expected a mapping of strings, got " + DescribeType(*value));
  }
  std::map<std::string, std::string> items;
  for (const auto& [name, item] : value->items()) {
    if (!item.is_string()) {
      return Error(path.Key(name), "expected a string, got " + DescribeType(item));
    }
    items[name] = item.get<std::string>();
  }
  *out = std::move(items);
  return OkStatus();
}

StatusOr<const json*> Checker::GetObject(const json& parent, const ConfigPath& parent_path,
                                         std::string_view key) const {
  const json* value = Member(parent, key);
  if (value == nullptr || value->is_null()) return static_cast<const json*>(nullptr);
  if (!value->is_object()) {
    return Error(parent_path.Key(key), "expected a mapping, got " + DescribeType(*value));
  }
  return value;
}

std::string Checker::UnknownKeyMessage(std::string_view key,
                                       const std::vector<std::string>& known) const {
  std::string message = "unknown key '" + std::string(key) + "'";
  if (const std::string close = ClosestMatch(key, known); !close.empty()) {
    message += "; did you mean '" + close + "'? Known keys: ";
  } else {
    message += "; known keys: ";
  }
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (i > 0) message += ", ";
    message += known[i];
  }
  return message;
}

Status Checker::CheckKeys(const json& object, const ConfigPath& path,
                          const std::vector<std::string>& known) const {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    // Named by the mapping it is in, located at the key's own line.
    return ConfigError(source_, lines_->KeyLine(path.Key(key)), path.Display(),
                       UnknownKeyMessage(key, known));
  }
  return OkStatus();
}

void Checker::WarnUnknownKeys(const json& object, const ConfigPath& path,
                              const std::vector<std::string>& known, std::string_view note) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    warnings_.push_back(ConfigError(source_, lines_->KeyLine(path.Key(key)), path.Display(),
                                    UnknownKeyMessage(key, known) + " " + std::string(note))
                            .message());
  }
}

}  // namespace vsray::config
