// vim25 values: a small tree (`Any`) decoded from SOAP XML, and an escaping XML writer.
// Names are local names: prefixes are dropped, since servers differ in the prefixes they use.
#ifndef VSRAY_VSPHERE_XML_H_
#define VSRAY_VSPHERE_XML_H_

#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vsray::vsphere {

// A managed object reference: type ("VirtualMachine") and opaque id ("vm-42").
struct MoRef {
  std::string type;
  std::string value;

  bool empty() const { return value.empty(); }
  friend bool operator==(const MoRef&, const MoRef&) = default;
  friend auto operator<=>(const MoRef&, const MoRef&) = default;
};

struct AnyField;

// One decoded element: its xsi:type (if any), its text (leaves), and its child elements in
// document order (a repeated name is an array).
struct Any {
  std::string xsi_type;
  std::string mo_type;  // the plain `type` attribute of a ManagedObjectReference
  std::string text;
  std::vector<AnyField> fields;

  // The first child called `name`, or nullptr.
  const Any* Get(std::string_view name) const;
  Any* GetMutable(std::string_view name);
  // Follows a dotted path of child names ("runtime.powerState"); nullptr if any step is missing.
  const Any* Path(std::string_view dotted) const;
  // Every child called `name`.
  std::vector<const Any*> All(std::string_view name) const;
  // Text at a dotted path, or "" when missing.
  std::string_view TextAt(std::string_view dotted) const;
  // This element as a managed object reference.
  MoRef AsMoRef() const { return {mo_type, text}; }
  // Adds a child and returns it.
  Any& Add(std::string name, std::string text_value = "");
};

// A named child element of an Any.
struct AnyField {
  std::string name;
  Any value;
};

// Element name without its namespace prefix.
std::string_view LocalName(const pugi::xml_node& node);
// The xsi:type of an element, with the namespace resolved (any prefix bound to
// http://www.w3.org/2001/XMLSchema-instance), without the type's own prefix.
std::string_view XsiType(const pugi::xml_node& node);
// Decodes `node` (recursively) into an Any.
Any DecodeAny(const pugi::xml_node& node);

// Appends XML to a string; every text and attribute value is escaped.
class XmlWriter {
 public:
  // <name> or <name xsi:type="type">
  XmlWriter& Open(std::string_view name, std::string_view xsi_type = "");
  XmlWriter& Close(std::string_view name);
  // <name>escaped text</name>
  XmlWriter& Leaf(std::string_view name, std::string_view text);
  XmlWriter& Leaf(std::string_view name, std::string_view text, std::string_view xsi_type);
  XmlWriter& Bool(std::string_view name, bool value) {
    return Leaf(name, value ? "true" : "false");
  }
  // <name type="VirtualMachine">vm-1</name>
  XmlWriter& Ref(std::string_view name, const MoRef& ref);
  // Writes `value` as element `name`, with its xsi:type, recursively.
  XmlWriter& Value(std::string_view name, const Any& value);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

void AppendEscaped(std::string& out, std::string_view text);

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_XML_H_
