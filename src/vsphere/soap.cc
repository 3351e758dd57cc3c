#include "vsphere/soap.h"

#include <array>
#include <utility>

namespace vsray::vsphere {
namespace {

// The status code of each vim fault. Whether another attempt may help follows from the code
// alone (IsTransient in common/retry.h: UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
// RESOURCE_EXHAUSTED), so that SOAP and REST errors are retried by one rule.
struct FaultMapping {
  std::string_view type;
  StatusCode code;
};

constexpr std::array<FaultMapping, 36> kFaults = {{
    {"NotAuthenticated", StatusCode::kUnauthenticated},
    {"InvalidLogin", StatusCode::kUnauthenticated},
    {"InvalidCredentials", StatusCode::kUnauthenticated},
    {"NoPermission", StatusCode::kPermissionDenied},
    {"RestrictedVersion", StatusCode::kPermissionDenied},
    {"ManagedObjectNotFound", StatusCode::kNotFound},
    {"NotFound", StatusCode::kNotFound},
    {"FileNotFound", StatusCode::kNotFound},
    {"InvalidPowerState", StatusCode::kFailedPrecondition},
    {"InvalidState", StatusCode::kFailedPrecondition},
    {"InvalidHostState", StatusCode::kFailedPrecondition},
    {"InvalidDatastore", StatusCode::kFailedPrecondition},
    {"VmConfigFault", StatusCode::kFailedPrecondition},
    {"DisallowedOperationOnFailoverHost", StatusCode::kFailedPrecondition},
    {"TaskInProgress", StatusCode::kAborted},
    {"ConcurrentAccess", StatusCode::kAborted},
    {"DuplicateName", StatusCode::kAlreadyExists},
    {"AlreadyExists", StatusCode::kAlreadyExists},
    {"InvalidArgument", StatusCode::kInvalidArgument},
    {"InvalidRequest", StatusCode::kInvalidArgument},
    {"InvalidProperty", StatusCode::kInvalidArgument},
    {"InvalidType", StatusCode::kInvalidArgument},
    {"InvalidName", StatusCode::kInvalidArgument},
    {"MethodNotFound", StatusCode::kUnimplemented},
    {"NotSupported", StatusCode::kUnimplemented},
    {"NotImplemented", StatusCode::kUnimplemented},
    {"HostCommunication", StatusCode::kUnavailable},
    {"HostNotConnected", StatusCode::kUnavailable},
    {"HostNotReachable", StatusCode::kUnavailable},
    {"SystemError", StatusCode::kUnavailable},
    {"RuntimeFault", StatusCode::kInternal},
    {"RequestCanceled", StatusCode::kCancelled},
    {"Timedout", StatusCode::kDeadlineExceeded},
    {"InsufficientResourcesFault", StatusCode::kFailedPrecondition},
    {"OutOfBounds", StatusCode::kOutOfRange},
    {"SecurityError", StatusCode::kPermissionDenied},
}};

const FaultMapping* FindFault(std::string_view type) {
  for (const auto& mapping : kFaults) {
    if (mapping.type == type) return &mapping;
  }
  return nullptr;
}

std::string_view StripFaultSuffix(std::string_view name) {
  constexpr std::string_view kSuffix = "Fault";
  // Detail elements are named "<Type>Fault" (e.g. InvalidPowerStateFault), except types whose
  // own name ends in Fault (InsufficientResourcesFault).
  if (name.ends_with(kSuffix) && FindFault(name) == nullptr) {
    name.remove_suffix(kSuffix.size());
  }
  return name;
}

// vim25 values nest a few dozen levels at most; a deeper reply is refused before the
// recursive decoder sees it.
constexpr int kMaxDepth = 256;

class DepthCheck : public pugi::xml_tree_walker {
 public:
  bool for_each(pugi::xml_node& /*node*/) override {
    too_deep = depth() > kMaxDepth;
    return !too_deep;
  }
  bool too_deep = false;
};

}  // namespace

std::string SoapEnvelope(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 320);
  out +=
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""
      " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
      " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>";
  out += body;
  out += "</soapenv:Body></soapenv:Envelope>";
  return out;
}

void OpenMethod(XmlWriter& w, std::string_view method, const MoRef& this_ref) {
  std::string open(method);
  open += " xmlns=\"urn:vim25\"";
  w.Open(open);
  w.Ref("_this", this_ref);
}

StatusCode FaultCode(std::string_view fault_type) {
  const FaultMapping* mapping = FindFault(fault_type);
  return mapping == nullptr ? StatusCode::kUnknown : mapping->code;
}

Status FaultStatus(std::string_view fault_type, std::string_view message) {
  std::string text(fault_type);
  if (!message.empty() && message != fault_type) {
    text += ": ";
    text += message;
  }
  Status status(FaultCode(fault_type), std::move(text));
  status.set_fault(std::string(fault_type));
  return status;
}

Status NoPermissionStatus(std::string_view privilege, std::string_view entity,
                          std::string_view message) {
  std::string text = "NoPermission: ";
  if (privilege.empty()) {
    text += message.empty() ? std::string_view("permission denied") : message;
  } else {
    text += "privilege ";
    text += privilege;
    text += " missing";
  }
  if (!entity.empty()) {
    text += " on ";
    text += entity;
  }
  if (!privilege.empty()) text += " (grant the role of `vsray role show` there)";
  Status status(StatusCode::kPermissionDenied, std::move(text));
  status.set_fault("NoPermission");
  return status;
}

Status StatusFromMethodFault(const Any& fault) {
  // LocalizedMethodFault { fault: MethodFault (xsi:type = concrete type), localizedMessage }.
  const Any* inner = fault.Get("fault");
  std::string type;
  if (inner != nullptr && !inner->xsi_type.empty()) {
    type = inner->xsi_type;
  } else if (!fault.xsi_type.empty() && fault.xsi_type != "LocalizedMethodFault") {
    type = fault.xsi_type;
  } else {
    type = "SystemError";
  }
  if (type == "NoPermission" && inner != nullptr) {
    const Any* object = inner->Get("object");
    const std::string entity = object == nullptr ? "" : object->mo_type + " " + object->text;
    return NoPermissionStatus(inner->TextAt("privilegeId"), entity, "");
  }
  std::string message(fault.TextAt("localizedMessage"));
  if (message.empty() && inner != nullptr) {
    for (const Any* m : inner->All("faultMessage")) {
      message = m->TextAt("message");
      if (!message.empty()) break;
    }
  }
  return FaultStatus(type, message);
}

namespace {

Status Malformed(std::string_view method, std::string_view why) {
  return DataLossError("malformed reply to " + std::string(method) + ": " + std::string(why));
}

// The first element in the Body of a SOAP envelope; empty if `doc` is not one.
pugi::xml_node Payload(const pugi::xml_document& doc) {
  const pugi::xml_node envelope = doc.document_element();
  if (LocalName(envelope) != "Envelope") return {};
  pugi::xml_node body;
  for (const pugi::xml_node& child : envelope.children()) {
    if (LocalName(child) == "Body") body = child;
  }
  for (const pugi::xml_node& child : body.children()) {
    if (child.type() == pugi::node_element) return child;
  }
  return {};
}

// A child element's text; "" if there is none.
std::string ChildText(const pugi::xml_node& parent, std::string_view name) {
  for (const pugi::xml_node& child : parent.children()) {
    if (LocalName(child) == name) return child.text().get();
  }
  return "";
}

// The status of a <Fault>: its type from the detail element (typed, or named "<Type>Fault"),
// SystemError when there is none. A NoPermission names the privilege and the entity.
Status FaultOf(const pugi::xml_node& fault) {
  std::string message;
  std::string type;
  std::string privilege;
  std::string entity;
  for (const pugi::xml_node& child : fault.children()) {
    const std::string_view name = LocalName(child);
    if (name == "faultstring") message = child.text().get();
    if (name != "detail") continue;
    for (const pugi::xml_node& detail : child.children()) {
      if (detail.type() != pugi::node_element) continue;
      const std::string_view xsi = XsiType(detail);
      type = xsi.empty() ? std::string(StripFaultSuffix(LocalName(detail))) : std::string(xsi);
      privilege = ChildText(detail, "privilegeId");
      for (const pugi::xml_node& object : detail.children()) {
        if (LocalName(object) != "object") continue;
        entity = std::string(object.attribute("type").value()) + " " + object.text().get();
      }
      break;
    }
  }
  if (type.empty()) type = "SystemError";
  if (type == "NoPermission") return NoPermissionStatus(privilege, entity, message);
  return FaultStatus(type, message);
}

}  // namespace

StatusOr<Any> DecodeSoapResponse(std::string_view xml, std::string_view method) {
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return Malformed(method, "not XML (" + std::string(parsed.description()) + " at offset " +
                                 std::to_string(parsed.offset) + ")");
  }
  DepthCheck depth;
  doc.traverse(depth);
  if (depth.too_deep) return Malformed(method, "nested too deeply");
  const pugi::xml_node payload = Payload(doc);
  if (!payload) return Malformed(method, "not a SOAP envelope with a body");
  if (LocalName(payload) == "Fault") return FaultOf(payload);
  const std::string expected = std::string(method) + "Response";
  if (LocalName(payload) != expected) {
    return Malformed(method,
                     "got <" + std::string(LocalName(payload)) + "> instead of <" + expected + ">");
  }
  return DecodeAny(payload);
}

}  // namespace vsray::vsphere
