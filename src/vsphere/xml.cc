#include "vsphere/xml.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace vsray::vsphere {
namespace {

constexpr std::string_view kXsiNamespace = "http://www.w3.org/2001/XMLSchema-instance";

// XML Schema built-in types keep their "xsd:" prefix when written back.
bool IsXsdType(std::string_view type) {
  static constexpr std::array<std::string_view, 12> kBuiltins = {
      "string", "int",    "long",     "short",        "byte",    "boolean",
      "float",  "double", "dateTime", "base64Binary", "anyType", "anyURI"};
  return std::ranges::find(kBuiltins, type) != kBuiltins.end();
}

void AppendTypeAttribute(std::string& out, std::string_view xsi_type) {
  out += " xsi:type=\"";
  if (IsXsdType(xsi_type)) out += "xsd:";
  AppendEscaped(out, xsi_type);
  out += '"';
}

std::string_view StripPrefix(std::string_view name) {
  const auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// True if `prefix` is bound to the XML Schema instance namespace at `node` or above.
bool IsXsiPrefix(const pugi::xml_node& node, std::string_view prefix) {
  std::string attribute = "xmlns:";
  attribute += prefix;
  for (pugi::xml_node n = node; n; n = n.parent()) {
    const pugi::xml_attribute a = n.attribute(attribute.c_str());
    if (a) return kXsiNamespace == a.value();
  }
  // Undeclared: accept the conventional prefix only.
  return prefix == "xsi";
}

}  // namespace

const Any* Any::Get(std::string_view name) const {
  for (const auto& [field_name, value] : fields) {
    if (field_name == name) return &value;
  }
  return nullptr;
}

Any* Any::GetMutable(std::string_view name) {
  for (auto& [field_name, value] : fields) {
    if (field_name == name) return &value;
  }
  return nullptr;
}

const Any* Any::Path(std::string_view dotted) const {
  const Any* current = this;
  while (current != nullptr && !dotted.empty()) {
    const auto dot = dotted.find('.');
    current = current->Get(dotted.substr(0, dot));
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
  }
  return current;
}

std::vector<const Any*> Any::All(std::string_view name) const {
  std::vector<const Any*> out;
  for (const auto& [field_name, value] : fields) {
    if (field_name == name) out.push_back(&value);
  }
  return out;
}

std::string_view Any::TextAt(std::string_view dotted) const {
  const Any* found = Path(dotted);
  if (found == nullptr) return {};
  return found->text;
}

Any& Any::Add(std::string name, std::string text_value) {
  Any child;
  child.text = std::move(text_value);
  fields.push_back({std::move(name), std::move(child)});
  return fields.back().value;
}

std::string_view LocalName(const pugi::xml_node& node) { return StripPrefix(node.name()); }

std::string_view XsiType(const pugi::xml_node& node) {
  for (const pugi::xml_attribute& a : node.attributes()) {
    const std::string_view name = a.name();
    const auto colon = name.find(':');
    if (colon == std::string_view::npos || name.substr(colon + 1) != "type") continue;
    if (IsXsiPrefix(node, name.substr(0, colon))) return StripPrefix(a.value());
  }
  return {};
}

Any DecodeAny(const pugi::xml_node& node) {
  Any out;
  out.xsi_type = XsiType(node);
  const pugi::xml_attribute mo_type = node.attribute("type");
  if (mo_type) out.mo_type = mo_type.value();
  for (const pugi::xml_node& child : node.children()) {
    if (child.type() == pugi::node_element) {
      out.fields.push_back({std::string(LocalName(child)), DecodeAny(child)});
    } else if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      out.text += child.value();
    }
  }
  return out;
}

void AppendEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 cannot carry most control characters, even escaped: drop them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
}

XmlWriter& XmlWriter::Open(std::string_view name, std::string_view xsi_type) {
  out_ += '<';
  out_ += name;
  if (!xsi_type.empty()) AppendTypeAttribute(out_, xsi_type);
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::Close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::Leaf(std::string_view name, std::string_view text) {
  return Leaf(name, text, "");
}

XmlWriter& XmlWriter::Leaf(std::string_view name, std::string_view text,
                           std::string_view xsi_type) {
  Open(name, xsi_type);
  AppendEscaped(out_, text);
  return Close(name);
}

XmlWriter& XmlWriter::Ref(std::string_view name, const MoRef& ref) {
  out_ += '<';
  out_ += name;
  out_ += " type=\"";
  AppendEscaped(out_, ref.type);
  out_ += "\">";
  AppendEscaped(out_, ref.value);
  return Close(name);
}

XmlWriter& XmlWriter::Value(std::string_view name, const Any& value) {
  out_ += '<';
  out_ += name;
  if (!value.xsi_type.empty()) AppendTypeAttribute(out_, value.xsi_type);
  if (!value.mo_type.empty()) {
    out_ += " type=\"";
    AppendEscaped(out_, value.mo_type);
    out_ += '"';
  }
  out_ += '>';
  AppendEscaped(out_, value.text);
  for (const auto& [child_name, child] : value.fields) Value(child_name, child);
  return Close(name);
}

}  // namespace vsray::vsphere
