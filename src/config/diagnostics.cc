#include "config/diagnostics.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace vsray::config {
namespace {

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

}  // namespace

ConfigPath ConfigPath::Key(std::string_view key) const {
  ConfigPath path = *this;
  path.segments_.push_back(Segment{std::string(key), false, 0});
  return path;
}

ConfigPath ConfigPath::Index(std::size_t index) const {
  ConfigPath path = *this;
  path.segments_.push_back(Segment{"", true, index});
  return path;
}

ConfigPath ConfigPath::Parent() const {
  ConfigPath path = *this;
  if (!path.segments_.empty()) path.segments_.pop_back();
  return path;
}

std::string ConfigPath::Display() const {
  if (segments_.empty()) return "(top level)";
  std::string out;
  for (const Segment& segment : segments_) {
    if (segment.is_index) {
      out += "[" + std::to_string(segment.index) + "]";
    } else if (IsPlainKey(segment.key)) {
      if (!out.empty()) out += '.';
      out += segment.key;
    } else {
      out += "[\"";
      for (const char c : segment.key) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += "\"]";
    }
  }
  return out;
}

std::string ConfigPath::Pointer() const {
  std::string out;
  for (const Segment& segment : segments_) {
    out += '/';
    if (segment.is_index) {
      out += std::to_string(segment.index);
      continue;
    }
    for (const char c : segment.key) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

const SourceMap::Lines* SourceMap::Find(const ConfigPath& path) const {
  ConfigPath at = path;
  while (true) {
    if (const auto it = lines_.find(at.Pointer()); it != lines_.end()) return &it->second;
    if (at.empty()) return nullptr;
    at = at.Parent();
  }
}

void SourceMap::CopySubtree(const SourceMap& other, const std::string& pointer) {
  for (const auto& [key, lines] : other.lines_) {
    if (key == pointer ||
        (key.size() > pointer.size() && key.compare(0, pointer.size(), pointer) == 0 &&
         key[pointer.size()] == '/')) {
      lines_[key] = lines;
    }
  }
}

int SourceMap::ValueLine(const ConfigPath& path) const {
  const Lines* lines = Find(path);
  if (lines == nullptr) return 1;
  if (lines->value > 0) return lines->value;
  return lines->key > 0 ? lines->key : 1;
}

int SourceMap::KeyLine(const ConfigPath& path) const {
  const Lines* lines = Find(path);
  if (lines == nullptr) return 1;
  if (lines->key > 0) return lines->key;
  return lines->value > 0 ? lines->value : 1;
}

Status ConfigError(std::string_view source, int line, std::string_view path,
                   std::string_view message) {
  std::string text(source.empty() ? "<config>" : source);
  text += ':' + std::to_string(line < 1 ? 1 : line) + ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return InvalidArgumentError(std::move(text));
}

std::string RedactSecret(std::string text, std::string_view secret) {
  if (secret.size() < 3) return text;
  std::size_t at = 0;
  while ((at = text.find(secret, at)) != std::string::npos) {
    text.replace(at, secret.size(), "*****");
    at += 5;
  }
  return text;
}

}  // namespace vsray::config
