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

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

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

std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  // Three rows: i-2, i-1, i.
  std::vector<std::size_t> two_back(m + 1);
  std::vector<std::size_t> previous(m + 1);
  std::vector<std::size_t> current(m + 1);
  for (std::size_t j = 0; j <= m; ++j) previous[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1])) {
        current[j] = std::min(current[j], two_back[j - 2] + 1);
      }
    }
    two_back.swap(previous);
    previous.swap(current);
  }
  return previous[m];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = EditDistance(word, candidate);
    if (best.empty() || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (best.empty()) return "";
  // A typo: a couple of edits for short words, about a third of the word for long ones.
  const std::size_t longest = std::max(word.size(), best.size());
  const std::size_t limit = std::max<std::size_t>(2, longest / 3);
  return best_distance <= limit && best_distance < longest ? best : "";
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
