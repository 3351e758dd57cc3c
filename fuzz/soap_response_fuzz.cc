// libFuzzer target: the SOAP response decoder must never crash or hang on any server reply,
// and whatever it accepts must re-encode and decode again.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vsphere/soap.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto reply = vsray::vsphere::DecodeSoapResponse(text, "RetrievePropertiesEx");
  if (reply.ok()) {
    vsray::vsphere::XmlWriter w;
    w.Value("RetrievePropertiesExResponse", *reply);
    auto again = vsray::vsphere::DecodeSoapResponse(vsray::vsphere::SoapEnvelope(w.str()),
                                                    "RetrievePropertiesEx");
    if (!again.ok()) __builtin_trap();
  } else {
    (void)reply.status().ToString();
  }
  if (reply.ok()) {
    for (const auto& [name, value] : reply->fields) {
      (void)vsray::vsphere::StatusFromMethodFault(value);
    }
  }
  return 0;
}
