#include "config/ray_hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vsray::config {
namespace {

using nlohmann::json;

void AppendHex4(std::uint32_t unit, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xFU];
}

// The next code point of UTF-8 `text` at `i` (advanced past it); U+FFFD for a bad sequence.
std::uint32_t NextCodePoint(const std::string& text, std::size_t& i) {
  const auto byte = static_cast<unsigned char>(text[i++]);
  if (byte < 0x80) return byte;
  int extra = 0;
  std::uint32_t code = 0;
  if ((byte & 0xE0U) == 0xC0U) {
    extra = 1;
    code = byte & 0x1FU;
  } else if ((byte & 0xF0U) == 0xE0U) {
    extra = 2;
    code = byte & 0x0FU;
  } else if ((byte & 0xF8U) == 0xF0U) {
    extra = 3;
    code = byte & 0x07U;
  } else {
    return 0xFFFD;
  }
  for (int k = 0; k < extra; ++k) {
    if (i >= text.size() || (static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) return 0xFFFD;
    code = (code << 6U) | (static_cast<unsigned char>(text[i++]) & 0x3FU);
  }
  return code;
}

// A JSON string as Python's json module writes it with ensure_ascii=True.
void AppendString(const std::string& text, std::string& out) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const std::uint32_t code = NextCodePoint(text, i);
    switch (code) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (code >= 0x20 && code < 0x7F) {
          out += static_cast<char>(code);
        } else if (code < 0x10000) {
          AppendHex4(code, out);
        } else {
          const std::uint32_t v = code - 0x10000;
          AppendHex4(0xD800U | (v >> 10U), out);
          AppendHex4(0xDC00U | (v & 0x3FFU), out);
        }
    }
  }
  out += '"';
}

// A double as Python's repr writes it: the shortest digits that read back as the same
// double (the closest such, as std::to_chars picks them), in fixed notation when the decimal
// point falls within -4 < position <= 16, else as d.ddde+XX.
std::string PythonFloat(double number) {
  if (std::isnan(number)) return "NaN";
  if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
  std::array<char, 64> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number,
                                          std::chars_format::scientific);
  std::string text(buffer.data(), error == std::errc() ? end : buffer.data());
  const std::size_t e = text.find('e');
  if (e == std::string::npos) return text;
  const bool negative = text[0] == '-';
  std::string digits;
  for (std::size_t i = 0; i < e; ++i) {
    if (text[i] >= '0' && text[i] <= '9') digits += text[i];
  }
  const int exponent = std::stoi(text.substr(e + 1));
  const int point = exponent + 1;  // digits before the decimal point
  const auto size = static_cast<int>(digits.size());
  std::string out = negative ? "-" : "";
  if (point > -4 && point <= 16) {
    if (point <= 0) return out + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    if (point >= size)
      return out + digits + std::string(static_cast<std::size_t>(point - size), '0') + ".0";
    return out + digits.substr(0, static_cast<std::size_t>(point)) + "." +
           digits.substr(static_cast<std::size_t>(point));
  }
  out += digits.substr(0, 1);
  if (size > 1) out += "." + digits.substr(1);
  const int magnitude = std::abs(exponent);
  return out + (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") +
         std::to_string(magnitude);
}

void AppendNumber(const json& value, std::string& out) {
  out += value.is_number_float() ? PythonFloat(value.get<double>()) : value.dump();
}

void Append(const json& value, std::string& out) {
  if (value.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, item] : value.items()) {  // std::map: sorted by key
      if (!first) out += ", ";
      first = false;
      AppendString(key, out);
      out += ": ";
      Append(item, out);
    }
    out += '}';
  } else if (value.is_array()) {
    out += '[';
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += ", ";
      Append(value[i], out);
    }
    out += ']';
  } else if (value.is_string()) {
    AppendString(value.get_ref<const std::string&>(), out);
  } else if (value.is_number()) {
    AppendNumber(value, out);
  } else {
    out += value.dump();  // true, false, null
  }
}

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read the SSH key '" + path + "' for Ray's launch hash");
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  // Python reads it in text mode: universal newlines.
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::string PythonJsonDumps(const json& value) {
  std::string out;
  Append(value, out);
  return out;
}

std::string Sha1Hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4U];
    out += kHex[digest[i] & 0xFU];
  }
  return out;
}

StatusOr<std::string> RayLaunchHash(const json& node_config, const json& auth) {
  json full_auth = auth.is_object() ? auth : json::object();
  for (const char* key : {"ssh_private_key", "ssh_public_key"}) {
    if (!full_auth.contains(key) || !full_auth[key].is_string()) continue;
    VSRAY_ASSIGN_OR_RETURN(full_auth[key], ReadText(full_auth[key].get<std::string>()));
  }
  return Sha1Hex(PythonJsonDumps(json::array({node_config, full_auth})));
}

}  // namespace vsray::config
