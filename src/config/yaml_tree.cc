#include "config/yaml_tree.h"

#include <yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vsray::config {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 100;
constexpr std::size_t kMaxNodes = 1000000;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMap = "tag:yaml.org,2002:map";
constexpr std::string_view kTagSeq = "tag:yaml.org,2002:seq";

int LineOf(const yaml_mark_t& mark) { return static_cast<int>(mark.line) + 1; }

std::string Hex(unsigned char c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[c >> 4] + kDigits[c & 0xf];
}

// The length of the UTF-8 sequence that starts at text[i] (a byte of 0x80 or more); 0 if it is
// not valid UTF-8 (truncated, overlong, a surrogate, beyond U+10FFFF).
std::size_t Utf8Length(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  std::uint32_t minimum = 0;
  if ((c & 0xe0) == 0xc0) {
    length = 2;
    code_point = c & 0x1fU;
    minimum = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    length = 3;
    code_point = c & 0x0fU;
    minimum = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    length = 4;
    code_point = c & 0x07U;
    minimum = 0x10000;
  }
  if (length == 0 || i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3fU);
  }
  if (code_point < minimum || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

// A cluster config is text: UTF-8 without control characters other than tab, CR and LF.
Status CheckText(std::string_view text, std::string_view source) {
  int line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
        return ConfigError(source, line, "",
                           "not a text file (control byte " + Hex(c) +
                               "); a cluster config must be YAML or JSON text");
      }
      ++i;
      continue;
    }
    const std::size_t length = Utf8Length(text, i);
    if (length == 0) {
      return ConfigError(source, line, "",
                         "not UTF-8 text (invalid byte " + Hex(c) +
                             "); a cluster config must be YAML or JSON text");
    }
    i += length;
  }
  return OkStatus();
}

std::string StripUnderscores(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c != '_') out += c;
  }
  return out;
}

// Magnitude of an unsigned integer in `base`; nullopt on overflow or a bad digit.
std::optional<std::uint64_t> ParseMagnitude(std::string_view digits, int base) {
  std::uint64_t value = 0;
  const auto* const end = digits.data() + digits.size();
  const auto result = std::from_chars(digits.data(), end, value, base);
  if (result.ec != std::errc() || result.ptr != end) return std::nullopt;
  return value;
}

json SignedInteger(bool negative, std::uint64_t magnitude) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  json value;
  if (!negative) {
    if (magnitude <= kMax) {
      value = static_cast<std::int64_t>(magnitude);
    } else {
      value = magnitude;
    }
  } else if (magnitude <= kMax) {
    value = -static_cast<std::int64_t>(magnitude);
  } else if (magnitude == kMax + 1) {
    value = std::numeric_limits<std::int64_t>::min();
  } else {
    value = -static_cast<double>(magnitude);
  }
  return value;
}

std::optional<json> ParseInteger(std::string_view text) {
  static const std::regex kBinary("[-+]?0b[0-1_]+");
  static const std::regex kOctal("[-+]?0[0-7_]+");
  static const std::regex kDecimal("[-+]?(0|[1-9][0-9_]*)");
  static const std::regex kHex("[-+]?0x[0-9a-fA-F_]+");
  static const std::regex kBase60("[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+");
  const std::string s(text);
  const bool negative = !s.empty() && s[0] == '-';
  const std::string_view unsigned_part =
      !s.empty() && (s[0] == '-' || s[0] == '+') ? text.substr(1) : text;
  std::optional<std::uint64_t> magnitude;
  if (std::regex_match(s, kBinary)) {
    magnitude = ParseMagnitude(StripUnderscores(unsigned_part.substr(2)), 2);
  } else if (std::regex_match(s, kHex)) {
    magnitude = ParseMagnitude(StripUnderscores(unsigned_part.substr(2)), 16);
  } else if (std::regex_match(s, kOctal)) {
    magnitude = ParseMagnitude(StripUnderscores(unsigned_part.substr(1)), 8);
  } else if (std::regex_match(s, kDecimal)) {
    magnitude = ParseMagnitude(StripUnderscores(unsigned_part), 10);
  } else if (std::regex_match(s, kBase60)) {
    std::uint64_t value = 0;
    const std::string digits = StripUnderscores(unsigned_part);
    std::size_t start = 0;
    while (start <= digits.size()) {
      const std::size_t colon = std::min(digits.find(':', start), digits.size());
      const std::string_view all_digits = digits;
      const auto part = ParseMagnitude(all_digits.substr(start, colon - start), 10);
      if (!part || value > (std::numeric_limits<std::uint64_t>::max() - *part) / 60) {
        return std::nullopt;
      }
      value = value * 60 + *part;
      start = colon + 1;
    }
    magnitude = value;
  } else {
    return std::nullopt;
  }
  if (!magnitude) {
    // Too large for 64 bits: PyYAML has big integers; a double is the closest we have.
    double value = 0;
    const std::string digits = StripUnderscores(unsigned_part);
    const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (result.ec != std::errc()) return std::nullopt;
    return json(negative ? -value : value);
  }
  return SignedInteger(negative, *magnitude);
}

// "1:30:5.5" (sexagesimal, YAML 1.1): 1*3600 + 30*60 + 5.5.
std::optional<double> ParseBase60(const std::string& digits) {
  double value = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = digits.find(':', start);
    const std::string part =
        digits.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    double part_value = 0;
    const auto result = std::from_chars(part.data(), part.data() + part.size(), part_value);
    if (result.ec != std::errc()) return std::nullopt;
    value = value * 60 + part_value;
    if (colon == std::string::npos) return value;
    start = colon + 1;
  }
}

std::optional<json> ParseFloat(std::string_view text) {
  // PyYAML's float forms, plus YAML 1.2's exponent forms without a dot or exponent sign.
  static const std::regex kPyYamlFloat(
      "[-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9_]+([eE][-+][0-9]+)?");
  static const std::regex kCoreFloat(
      "[-+]?(\\.[0-9]+|[0-9]+\\.[0-9]*)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+");
  static const std::regex kBase60("[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*");
  static const std::regex kInfinity("[-+]?\\.(inf|Inf|INF)");
  static const std::regex kNan("\\.(nan|NaN|NAN)");
  const std::string s(text);
  const bool negative = !s.empty() && s[0] == '-';
  const std::string unsigned_part =
      StripUnderscores(!s.empty() && (s[0] == '-' || s[0] == '+') ? text.substr(1) : text);
  if (std::regex_match(s, kInfinity)) {
    return json(negative ? -std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::infinity());
  }
  if (std::regex_match(s, kNan)) return json(std::numeric_limits<double>::quiet_NaN());
  if (std::regex_match(s, kBase60)) {
    const auto value = ParseBase60(unsigned_part);
    if (!value) return std::nullopt;
    return json(negative ? -*value : *value);
  }
  if (!std::regex_match(s, kPyYamlFloat) && !std::regex_match(s, kCoreFloat)) return std::nullopt;
  double value = 0;
  const auto result =
      std::from_chars(unsigned_part.data(), unsigned_part.data() + unsigned_part.size(), value);
  if (result.ec != std::errc() && result.ec != std::errc::result_out_of_range) return std::nullopt;
  return json(negative ? -value : value);
}

// libyaml's bytes are unsigned; ours are chars.
const yaml_char_t* Bytes(std::string_view text) {
  return reinterpret_cast<const yaml_char_t*>(text.data());  // NOLINT: same bytes
}
std::string Text(const yaml_char_t* bytes, std::size_t length) {
  return {reinterpret_cast<const char*>(bytes), length};  // NOLINT: same bytes
}
std::string Text(const yaml_char_t* bytes) {
  return bytes == nullptr ? std::string()
                          : std::string(reinterpret_cast<const char*>(bytes));  // NOLINT
}

// A node of the document as libyaml reads it; an alias is its anchor's node, shared.
struct Node {
  enum class Kind { kScalar, kSequence, kMapping };
  Kind kind = Kind::kScalar;
  std::string tag;    // as written (resolved: "tag:yaml.org,2002:str"); "!" for a quoted or
                      // block scalar without one; empty for a plain scalar without one
  std::string value;  // a scalar's text
  int line = 1;
  std::vector<const Node*> children;  // a mapping's are key, value, key, value, ...

  // A missing value (`key:`). libyaml marks it at the next token, often on a later line.
  bool IsEmpty() const { return kind == Kind::kScalar && tag.empty() && value.empty(); }
  bool IsMergeKey() const { return kind == Kind::kScalar && tag.empty() && value == "<<"; }
};

// One libyaml event, freed when it goes.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { yaml_event_delete(&event_); }
  yaml_event_t* get() { return &event_; }

 private:
  yaml_event_t event_{};
};

// The line of a byte offset in the text.
int LineAtOffset(std::string_view text, std::size_t offset) {
  const std::string_view before = text.substr(0, std::min(offset, text.size()));
  return 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
}

// libyaml's parser over one text.
class Parser {
 public:
  Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {
    initialized_ = yaml_parser_initialize(&parser_) != 0;
    if (initialized_) {
      yaml_parser_set_input_string(&parser_, Bytes(text), text.size());
      yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
    }
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  ~Parser() {
    if (initialized_) yaml_parser_delete(&parser_);
  }

  // The next event, or the syntax error with its line (PyYAML's words: it is the same parser).
  Status Next(Event* event) {
    if (!initialized_) return ConfigError(source_, 1, "", "cannot start the YAML parser");
    if (yaml_parser_parse(&parser_, event->get()) != 0) return OkStatus();
    std::string message = "YAML syntax error: ";
    message += parser_.problem != nullptr ? parser_.problem : "cannot read the text";
    if (parser_.context != nullptr) {
      message += std::string(" (") + parser_.context + " from line " +
                 std::to_string(LineOf(parser_.context_mark)) + ")";
    }
    const int line = parser_.error == YAML_READER_ERROR
                         ? LineAtOffset(text_, parser_.problem_offset)
                         : LineOf(parser_.problem_mark);
    return ConfigError(source_, line, "", message);
  }

 private:
  std::string_view text_;
  std::string_view source_;
  yaml_parser_t parser_{};
  bool initialized_ = false;
};

// Builds the first document's nodes from libyaml's events. A second document is an error.
class TreeBuilder {
 public:
  explicit TreeBuilder(std::string_view source) : source_(source) {}

  // The root, or nullptr for a text without a document (blanks and comments).
  StatusOr<const Node*> Build(std::string_view text) {
    Parser parser(text, source_);
    bool done = false;
    while (!done) {
      Event event;
      VSRAY_RETURN_IF_ERROR(parser.Next(&event));
      VSRAY_RETURN_IF_ERROR(OnEvent(*event.get(), &done));
    }
    return root_;
  }

 private:
  Status OnEvent(const yaml_event_t& event, bool* done) {
    const int line = LineOf(event.start_mark);
    switch (event.type) {
      case YAML_STREAM_END_EVENT:
        *done = true;
        break;
      case YAML_DOCUMENT_START_EVENT:
        if (documents_ > 0) {
          return ConfigError(source_, line, "",
                             "more than one YAML document ('---'); a cluster config is one "
                             "mapping");
        }
        break;
      case YAML_DOCUMENT_END_EVENT:
        ++documents_;
        break;
      case YAML_SCALAR_EVENT: {
        const auto& scalar = event.data.scalar;
        std::string tag = Text(scalar.tag);
        if (tag.empty() && scalar.style != YAML_PLAIN_SCALAR_STYLE) tag = "!";
        Add(Node{Node::Kind::kScalar, std::move(tag), Text(scalar.value, scalar.length), line, {}},
            scalar.anchor);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        open_.push_back(
            Add(Node{Node::Kind::kSequence, Text(event.data.sequence_start.tag), "", line, {}},
                event.data.sequence_start.anchor));
        break;
      case YAML_MAPPING_START_EVENT:
        open_.push_back(
            Add(Node{Node::Kind::kMapping, Text(event.data.mapping_start.tag), "", line, {}},
                event.data.mapping_start.anchor));
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (!open_.empty()) open_.pop_back();
        break;
      case YAML_ALIAS_EVENT:
        return AddAlias(Text(event.data.alias.anchor), line);
      default:
        break;
    }
    return OkStatus();
  }

  Node* Add(Node node, const yaml_char_t* anchor) {
    Node* const added = &nodes_.emplace_back(std::move(node));
    if (anchor != nullptr) anchors_[Text(anchor)] = added;
    Attach(added);
    return added;
  }

  Status AddAlias(const std::string& anchor, int line) {
    const auto found = anchors_.find(anchor);
    if (found == anchors_.end()) {
      return ConfigError(source_, line, "",
                         "YAML syntax error: found undefined alias '" + anchor + "'");
    }
    Attach(found->second);
    return OkStatus();
  }

  void Attach(const Node* node) {
    if (open_.empty()) {
      root_ = node;
    } else {
      open_.back()->children.push_back(node);
    }
  }

  std::string_view source_;
  std::deque<Node> nodes_;  // stable addresses: nodes point at each other
  std::unordered_map<std::string, const Node*> anchors_;
  std::vector<Node*> open_;  // the collections being read, innermost last
  const Node* root_ = nullptr;
  int documents_ = 0;
};

class Converter {
 public:
  Converter(std::string_view source, SourceMap* lines) : source_(source), lines_(lines) {}

  Status Convert(const Node& node, const ConfigPath& path, int depth, json* out) {
    if (++nodes_ > kMaxNodes) {
      return Error(node, path, "more than 1,000,000 values (aliases expanding without bound?)");
    }
    if (depth > kMaxDepth) return Error(node, path, "nested more than 100 levels deep");
    switch (node.kind) {
      case Node::Kind::kScalar:
        return ConvertScalar(node, path, out);
      case Node::Kind::kSequence: {
        VSRAY_RETURN_IF_ERROR(CheckCollectionTag(node, path, kTagSeq));
        *out = json::array();
        std::size_t index = 0;
        for (const Node* item : node.children) {
          const ConfigPath item_path = path.Index(index++);
          Record(item_path, 0, *item);
          json value;
          VSRAY_RETURN_IF_ERROR(Convert(*item, item_path, depth + 1, &value));
          out->push_back(std::move(value));
        }
        return OkStatus();
      }
      case Node::Kind::kMapping:
        return ConvertMap(node, path, depth, out);
    }
    *out = nullptr;
    return OkStatus();
  }

  void Record(const ConfigPath& path, int key_line, const Node& value) {
    const int value_line = value.IsEmpty() && key_line > 0 ? key_line : value.line;
    lines_->Set(path.Pointer(), SourceMap::Lines{key_line, value_line});
  }

 private:
  Status Error(const Node& node, const ConfigPath& path, std::string_view message) const {
    const int line = node.IsEmpty() ? lines_->ValueLine(path) : node.line;
    return ConfigError(source_, line, path.Display(), message);
  }

  Status CheckCollectionTag(const Node& node, const ConfigPath& path,
                            std::string_view standard) const {
    if (node.tag.empty() || node.tag == "!" || node.tag == standard) return OkStatus();
    return Error(node, path, "unsupported YAML tag '" + node.tag + "'");
  }

  Status ConvertScalar(const Node& node, const ConfigPath& path, json* out) const {
    const std::string& tag = node.tag;
    if (tag == "!" || tag == kTagStr) {
      *out = node.value;
      return OkStatus();
    }
    const json resolved = ResolvePlainScalar(node.value);
    if (tag.empty()) {
      *out = resolved;
      return OkStatus();
    }
    if ((tag == kTagInt && resolved.is_number_integer()) ||
        (tag == kTagBool && resolved.is_boolean())) {
      *out = resolved;
    } else if (tag == kTagFloat && resolved.is_number()) {
      *out = resolved.get<double>();
    } else if (tag == kTagNull && resolved.is_null()) {
      *out = nullptr;
    } else if (tag == kTagInt || tag == kTagFloat || tag == kTagBool || tag == kTagNull) {
      return Error(node, path, "the value does not match its tag '" + tag + "'");
    } else {
      return Error(node, path, "unsupported YAML tag '" + tag + "'");
    }
    return OkStatus();
  }

  // The mappings a merge key ('<<') refers to: one, or a list of them.
  StatusOr<std::vector<const Node*>> MergeSources(const Node& merge, const ConfigPath& path) {
    std::vector<const Node*> sources;
    if (merge.kind == Node::Kind::kMapping) {
      sources.push_back(&merge);
    } else if (merge.kind == Node::Kind::kSequence) {
      for (const Node* item : merge.children) {
        if (item->kind != Node::Kind::kMapping) {
          return Error(*item, path, "a merge key ('<<') must refer to mappings");
        }
        sources.push_back(item);
      }
    } else {
      return Error(merge, path, "a merge key ('<<') must refer to a mapping");
    }
    return sources;
  }

  // Merge keys: explicit keys win; among merged mappings, the first one given wins.
  Status ApplyMerges(const std::vector<const Node*>& merges, const ConfigPath& path, int depth,
                     json* out) {
    for (const Node* merge : merges) {
      VSRAY_ASSIGN_OR_RETURN(auto sources, MergeSources(*merge, path));
      for (const Node* source : sources) {
        // Convert into a scratch line map, so keys that are not taken keep their own lines.
        SourceMap scratch;
        SourceMap* const own = lines_;
        lines_ = &scratch;
        json merged;
        const Status converted = Convert(*source, path, depth + 1, &merged);
        lines_ = own;
        VSRAY_RETURN_IF_ERROR(converted);
        for (auto& [name, value] : merged.items()) {
          if (out->contains(name)) continue;
          lines_->CopySubtree(scratch, path.Key(name).Pointer());
          (*out)[name] = value;
        }
      }
    }
    return OkStatus();
  }

  Status ConvertMap(const Node& node, const ConfigPath& path, int depth, json* out) {
    VSRAY_RETURN_IF_ERROR(CheckCollectionTag(node, path, kTagMap));
    *out = json::object();
    std::unordered_map<std::string, int> first_line;
    std::vector<const Node*> merges;
    for (std::size_t i = 0; i + 1 < node.children.size(); i += 2) {
      const Node& key = *node.children[i];
      const Node& value = *node.children[i + 1];
      if (key.IsMergeKey()) {
        merges.push_back(&value);
        continue;
      }
      if (key.kind != Node::Kind::kScalar || key.IsEmpty()) {
        return ConfigError(source_, key.line, path.Display(),
                           "mapping keys must be plain strings, not " +
                               std::string(key.IsEmpty() ? "empty" : "lists or mappings"));
      }
      const std::string& name = key.value;
      if (const auto [it, inserted] = first_line.emplace(name, key.line); !inserted) {
        return ConfigError(source_, key.line, path.Display(),
                           "duplicate key '" + name + "' (first given on line " +
                               std::to_string(it->second) + ")");
      }
      const ConfigPath value_path = path.Key(name);
      Record(value_path, key.line, value);
      json converted;
      VSRAY_RETURN_IF_ERROR(Convert(value, value_path, depth + 1, &converted));
      (*out)[name] = std::move(converted);
    }
    return ApplyMerges(merges, path, depth, out);
  }

  std::string_view source_;
  SourceMap* lines_;
  std::size_t nodes_ = 0;
};

bool IsJsonLike(std::string_view text) {
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// libyaml's emitter writing into a string.
class Emitter {
 public:
  Emitter() {
    initialized_ = yaml_emitter_initialize(&emitter_) != 0;
    if (!initialized_) return;
    yaml_emitter_set_output(&emitter_, &Emitter::Write, &text_);
    yaml_emitter_set_indent(&emitter_, 2);
    yaml_emitter_set_width(&emitter_, -1);  // no folding of long lines
    yaml_emitter_set_unicode(&emitter_, 1);
  }
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;
  ~Emitter() {
    if (initialized_) yaml_emitter_delete(&emitter_);
  }

  // Emits an initialized event (which the emitter takes); false on failure.
  bool Emit(int initialized, yaml_event_t* event) {
    if (initialized == 0) return false;
    if (!initialized_) {
      yaml_event_delete(event);
      return false;
    }
    return yaml_emitter_emit(&emitter_, event) != 0;
  }

  bool Scalar(std::string_view text, yaml_scalar_style_t style) {
    yaml_event_t event;
    const bool plain = style != YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    return Emit(
        yaml_scalar_event_initialize(&event, nullptr, nullptr, Bytes(text),
                                     static_cast<int>(text.size()), plain ? 1 : 0, 1, style),
        &event);
  }

  // A string is quoted when it would read back as something else (a number, true, null...).
  bool String(std::string_view text) {
    return Scalar(text, ResolvePlainScalar(text).is_string() ? YAML_ANY_SCALAR_STYLE
                                                             : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
  }

  bool Value(const json& value);

  std::string Document(const json& value) {
    yaml_event_t event;
    const bool ok =
        Emit(yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING), &event) &&
        Emit(yaml_document_start_event_initialize(&event, nullptr, nullptr, nullptr, 1), &event) &&
        Value(value) && Emit(yaml_document_end_event_initialize(&event, 1), &event) &&
        Emit(yaml_stream_end_event_initialize(&event), &event) &&
        yaml_emitter_flush(&emitter_) != 0;
    if (!ok) {
      return std::string("# cannot write YAML: ") +
             (emitter_.problem != nullptr ? emitter_.problem : "out of memory") + "\n";
    }
    return text_;
  }

 private:
  static int Write(void* data, unsigned char* buffer, std::size_t size) {
    static_cast<std::string*>(data)->append(reinterpret_cast<const char*>(buffer),  // NOLINT
                                            size);
    return 1;
  }

  yaml_emitter_t emitter_{};
  bool initialized_ = false;
  std::string text_;
};

std::string FloatText(double number) {
  if (std::isnan(number)) return ".nan";
  if (std::isinf(number)) return number > 0 ? ".inf" : "-.inf";
  std::string text = json(number).dump();  // shortest round-trip form
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

bool Emitter::Value(const json& value) {
  yaml_event_t event;
  switch (value.type()) {
    case json::value_t::object:
      if (!Emit(yaml_mapping_start_event_initialize(&event, nullptr, nullptr, 1,
                                                    YAML_BLOCK_MAPPING_STYLE),
                &event)) {
        return false;
      }
      for (const auto& [key, item] : value.items()) {
        if (!String(key) || !Value(item)) return false;
      }
      return Emit(yaml_mapping_end_event_initialize(&event), &event);
    case json::value_t::array:
      if (!Emit(yaml_sequence_start_event_initialize(&event, nullptr, nullptr, 1,
                                                     YAML_BLOCK_SEQUENCE_STYLE),
                &event)) {
        return false;
      }
      for (const json& item : value) {
        if (!Value(item)) return false;
      }
      return Emit(yaml_sequence_end_event_initialize(&event), &event);
    case json::value_t::string:
      return String(value.get_ref<const std::string&>());
    case json::value_t::boolean:
      return Scalar(value.get<bool>() ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return Scalar(value.dump(), YAML_PLAIN_SCALAR_STYLE);
    case json::value_t::number_float:
      return Scalar(FloatText(value.get<double>()), YAML_PLAIN_SCALAR_STYLE);
    default:
      return Scalar("null", YAML_PLAIN_SCALAR_STYLE);
  }
}

}  // namespace

json ResolvePlainScalar(std::string_view text) {
  static const std::set<std::string_view> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string_view> kTrue = {"yes",  "Yes", "YES", "true", "True",
                                                   "TRUE", "on",  "On",  "ON"};
  static const std::set<std::string_view> kFalse = {"no",    "No",  "NO",  "false", "False",
                                                    "FALSE", "off", "Off", "OFF"};
  if (kNull.contains(text)) return nullptr;
  if (kTrue.contains(text)) return true;
  if (kFalse.contains(text)) return false;
  if (text.size() > 200) return std::string(text);  // no number is that long; spare the regexes
  if (auto integer = ParseInteger(text)) return *integer;
  if (auto number = ParseFloat(text)) return *number;
  return std::string(text);
}

StatusOr<Document> ParseConfigText(std::string_view text, std::string source) {
  Document document;
  document.source = std::move(source);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  VSRAY_RETURN_IF_ERROR(CheckText(text, document.source));

  TreeBuilder builder(document.source);
  const StatusOr<const Node*> root = builder.Build(text);
  if (!root.ok()) {
    // JSON that YAML refuses (rare: e.g. tabs for indentation) is still JSON.
    if (IsJsonLike(text)) {
      try {
        document.root = json::parse(text);
        return document;
      } catch (const json::exception&) {  // report the YAML error, which has a line
      }
    }
    return root.status();
  }
  if (*root == nullptr) {
    document.root = nullptr;
    return document;
  }
  try {
    Converter converter(document.source, &document.lines);
    converter.Record(ConfigPath(), 0, **root);
    VSRAY_RETURN_IF_ERROR(converter.Convert(**root, ConfigPath(), 0, &document.root));
  } catch (const std::exception& e) {  // nlohmann or the allocator: never let one escape
    return ConfigError(document.source, 1, "", std::string("cannot read the YAML: ") + e.what());
  }
  return document;
}

std::string ToYaml(const json& value) {
  try {
    Emitter emitter;
    std::string text = emitter.Document(value);
    if (text.empty() || text.back() != '\n') text += '\n';
    return text;
  } catch (const std::exception& e) {
    return std::string("# cannot write YAML: ") + e.what() + "\n";
  }
}

}  // namespace vsray::config
