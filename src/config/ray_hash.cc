#include "config/ray_hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
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

void AppendNumber(const json& value, std::string& out) {
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isnan(number)) {
      out += "NaN";
      return;
    }
    if (std::isinf(number)) {
      out += number > 0 ? "Infinity" : "-Infinity";
      return;
    }
  }
  // nlohmann writes the shortest round-trip digits, and the exponent rules of Python's repr
  // except for one decade: Python writes numbers whose decimal point falls after the 16th digit
  // ([1e15, 1e16)) in fixed notation, nlohmann as "d.ddde+15".
  const std::string text = value.dump();
  const std::size_t e = text.find("e+15");
  if (!value.is_number_float() || e == std::string::npos) {
    out += text;
    return;
  }
  const std::string mantissa = text.substr(0, e);
  const bool negative = mantissa[0] == '-';
  std::string digits;
  for (const char c : mantissa) {
    if (c >= '0' && c <= '9') digits += c;
  }
  std::string integer = digits.substr(0, std::min<std::size_t>(16, digits.size()));
  integer.append(16 - integer.size(), '0');
  const std::string fraction = digits.size() > 16 ? digits.substr(16) : "0";
  out += (negative ? "-" : "") + integer + "." + fraction;
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
