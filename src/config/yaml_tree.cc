#include "config/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
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

int LineOf(const YAML::Mark& mark) { return mark.line < 0 ? 1 : mark.line + 1; }

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

class Converter {
 public:
  Converter(std::string_view source, SourceMap* lines) : source_(source), lines_(lines) {}

  Status Convert(const YAML::Node& node, const ConfigPath& path, int depth, json* out) {
    if (++nodes_ > kMaxNodes) {
      return Error(node, path, "more than 1,000,000 values (aliases expanding without bound?)");
    }
    if (depth > kMaxDepth) return Error(node, path, "nested more than 100 levels deep");
    switch (node.Type()) {
      case YAML::NodeType::Null:
        return ConvertNull(node, path, out);
      case YAML::NodeType::Scalar:
        return ConvertScalar(node, path, out);
      case YAML::NodeType::Sequence: {
        VSRAY_RETURN_IF_ERROR(CheckCollectionTag(node, path, kTagSeq));
        *out = json::array();
        std::size_t index = 0;
        for (const YAML::Node& item : node) {
          const ConfigPath item_path = path.Index(index++);
          Record(item_path, 0, item);
          json value;
          VSRAY_RETURN_IF_ERROR(Convert(item, item_path, depth + 1, &value));
          out->push_back(std::move(value));
        }
        return OkStatus();
      }
      case YAML::NodeType::Map:
        return ConvertMap(node, path, depth, out);
      case YAML::NodeType::Undefined:
        break;
    }
    *out = nullptr;
    return OkStatus();
  }

  void Record(const ConfigPath& path, int key_line, const YAML::Node& value) {
    // yaml-cpp marks an empty value at the next token, often on a later line: use the key's.
    const int value_line = value.IsNull() && key_line > 0 ? key_line : LineOf(value.Mark());
    lines_->Set(path.Pointer(), SourceMap::Lines{key_line, value_line});
  }

 private:
  Status Error(const YAML::Node& node, const ConfigPath& path, std::string_view message) const {
    const int line = node.IsNull() ? lines_->ValueLine(path) : LineOf(node.Mark());
    return ConfigError(source_, line, path.Display(), message);
  }

  Status CheckCollectionTag(const YAML::Node& node, const ConfigPath& path,
                            std::string_view standard) const {
    const std::string& tag = node.Tag();
    if (tag.empty() || tag == "?" || tag == "!" || tag == standard) return OkStatus();
    return Error(node, path, "unsupported YAML tag '" + tag + "'");
  }

  Status ConvertNull(const YAML::Node& node, const ConfigPath& path, json* out) const {
    const std::string& tag = node.Tag();
    if (tag == kTagStr || tag == "!") {
      *out = "";
    } else if (tag.empty() || tag == "?" || tag == kTagNull) {
      *out = nullptr;
    } else {
      return Error(node, path, "unsupported YAML tag '" + tag + "' on an empty value");
    }
    return OkStatus();
  }

  Status ConvertScalar(const YAML::Node& node, const ConfigPath& path, json* out) const {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "!" || tag == kTagStr) {
      *out = text;
      return OkStatus();
    }
    const json resolved = ResolvePlainScalar(text);
    if (tag == "?" || tag.empty()) {
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
  StatusOr<std::vector<YAML::Node>> MergeSources(const YAML::Node& merge, const ConfigPath& path) {
    std::vector<YAML::Node> sources;
    if (merge.IsMap()) {
      sources.push_back(merge);
    } else if (merge.IsSequence()) {
      for (const YAML::Node& item : merge) {
        if (!item.IsMap()) return Error(item, path, "a merge key ('<<') must refer to mappings");
        sources.push_back(item);
      }
    } else {
      return Error(merge, path, "a merge key ('<<') must refer to a mapping");
    }
    return sources;
  }

  // Merge keys: explicit keys win; among merged mappings, the first one given wins.
  Status ApplyMerges(const std::vector<YAML::Node>& merges, const ConfigPath& path, int depth,
                     json* out) {
    for (const YAML::Node& merge : merges) {
      VSRAY_ASSIGN_OR_RETURN(auto sources, MergeSources(merge, path));
      for (const YAML::Node& source : sources) {
        // Convert into a scratch line map, so keys that are not taken keep their own lines.
        SourceMap scratch;
        SourceMap* const own = lines_;
        lines_ = &scratch;
        json merged;
        const Status converted = Convert(source, path, depth + 1, &merged);
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

  static bool IsMergeKey(const YAML::Node& key) {
    return key.IsScalar() && key.Scalar() == "<<" && (key.Tag() == "?" || key.Tag().empty());
  }

  Status ConvertMap(const YAML::Node& node, const ConfigPath& path, int depth, json* out) {
    VSRAY_RETURN_IF_ERROR(CheckCollectionTag(node, path, kTagMap));
    *out = json::object();
    std::unordered_map<std::string, int> first_line;
    std::vector<YAML::Node> merges;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      if (IsMergeKey(key)) {
        merges.push_back(entry.second);
        continue;
      }
      if (!key.IsScalar()) {
        return ConfigError(source_, LineOf(key.Mark()), path.Display(),
                           "mapping keys must be plain strings, not " +
                               std::string(key.IsNull() ? "empty" : "lists or mappings"));
      }
      const std::string& name = key.Scalar();
      const int key_line = LineOf(key.Mark());
      if (const auto [it, inserted] = first_line.emplace(name, key_line); !inserted) {
        return ConfigError(source_, key_line, path.Display(),
                           "duplicate key '" + name + "' (first given on line " +
                               std::to_string(it->second) + ")");
      }
      const ConfigPath value_path = path.Key(name);
      Record(value_path, key_line, entry.second);
      json value;
      VSRAY_RETURN_IF_ERROR(Convert(entry.second, value_path, depth + 1, &value));
      (*out)[name] = std::move(value);
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

void Emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        if (!ResolvePlainScalar(key).is_string()) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        Emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const json& item : value) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (!ResolvePlainScalar(text).is_string()) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case json::value_t::number_integer:
      out << value.get<std::int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << value.get<std::uint64_t>();
      break;
    case json::value_t::number_float: {
      const double number = value.get<double>();
      if (std::isnan(number)) {
        out << ".nan";
      } else if (std::isinf(number)) {
        out << (number > 0 ? ".inf" : "-.inf");
      } else {
        std::string text = value.dump();  // shortest round-trip form, always with '.' or 'e'
        if (text.find_first_of(".eE") == std::string::npos) text += ".0";
        out << text;
      }
      break;
    }
    default:
      out << YAML::Null;
      break;
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

// Counts the text's documents, stopping at two, and marks where the second begins. yaml-cpp's
// LoadAll never returns on some malformed text: after a document it yields empty documents
// forever without consuming the offending character (e.g. " r: 1\n,a:\n"), so documents are
// counted by a bounded event pass and only the first is loaded.
class DocumentCounter : public YAML::EventHandler {
 public:
  int documents = 0;
  std::optional<YAML::Mark> second;  // the first event of the second document

  void OnDocumentStart(const YAML::Mark& mark) override { Note(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { Note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { Note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    Note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
    Note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    Note(mark);
  }
  void OnMapEnd() override {}

 private:
  void Note(const YAML::Mark& mark) {
    if (documents == 1 && !second) second = mark;
  }
};

// Throws YAML::Exception on a syntax error.
DocumentCounter CountDocuments(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentCounter counter;
  while (counter.documents < 2 && parser.HandleNextDocument(counter)) ++counter.documents;
  return counter;
}

// The error for a text of more than one document, at the second one's '---' if there is one;
// without one, yaml-cpp stopped at text it could not read (PyYAML: "expected '<document
// start>'"), which is named.
Status MultipleDocumentsError(std::string_view text, const std::string& source,
                              const YAML::Mark& second) {
  const int mark_line = LineOf(second);
  int line = 0;
  int current = 1;
  std::size_t start = 0;
  while (start < text.size() && current <= mark_line) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    if (current > 1 && text.substr(start, end - start).rfind("---", 0) == 0) line = current;
    start = end + 1;
    ++current;
  }
  if (line > 0) {
    return ConfigError(source, line, "",
                       "more than one YAML document ('---'); a cluster config is one mapping");
  }
  std::string found = "text";
  if (second.pos >= 0 && static_cast<std::size_t>(second.pos) < text.size()) {
    found = std::string("'") + text[static_cast<std::size_t>(second.pos)] + "'";
  }
  return ConfigError(source, mark_line, "",
                     "YAML syntax error: unexpected " + found + " after the end of the mapping");
}

StatusOr<Document> ParseConfigText(std::string_view text, std::string source) {
  Document document;
  document.source = std::move(source);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  VSRAY_RETURN_IF_ERROR(CheckText(text, document.source));

  const std::string owned(text);
  DocumentCounter counted;
  YAML::Node first;
  std::string yaml_error;
  int yaml_error_line = 1;
  try {
    counted = CountDocuments(owned);
    if (counted.documents == 1) first = YAML::Load(owned);
  } catch (const YAML::Exception& e) {
    yaml_error = e.msg;
    yaml_error_line = LineOf(e.mark);
  } catch (const std::exception& e) {
    yaml_error = e.what();
  }
  if (!yaml_error.empty()) {
    // JSON that YAML refuses (rare: e.g. tabs for indentation) is still JSON.
    if (IsJsonLike(text)) {
      try {
        document.root = json::parse(text);
        return document;
      } catch (const json::exception&) {  // report the YAML error, which has a line
      }
    }
    return ConfigError(document.source, yaml_error_line, "", "YAML syntax error: " + yaml_error);
  }
  if (counted.documents > 1) {
    return MultipleDocumentsError(text, document.source, counted.second.value_or(YAML::Mark()));
  }
  if (counted.documents == 0) {
    document.root = nullptr;
    return document;
  }
  try {
    Converter converter(document.source, &document.lines);
    converter.Record(ConfigPath(), 0, first);
    VSRAY_RETURN_IF_ERROR(converter.Convert(first, ConfigPath(), 0, &document.root));
  } catch (const std::exception& e) {  // yaml-cpp or nlohmann: never let one escape
    return ConfigError(document.source, 1, "", std::string("cannot read the YAML: ") + e.what());
  }
  return document;
}

std::string ToYaml(const json& value) {
  try {
    YAML::Emitter out;
    out.SetIndent(2);
    Emit(out, value);
    std::string text = out.c_str();
    if (text.empty() || text.back() != '\n') text += '\n';
    return text;
  } catch (const std::exception& e) {
    return std::string("# cannot write YAML: ") + e.what() + "\n";
  }
}

}  // namespace vsray::config
