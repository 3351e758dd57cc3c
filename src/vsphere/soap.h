// vim25 SOAP codec: request envelopes and response/fault decoding. No I/O here.
#ifndef VSRAY_VSPHERE_SOAP_H_
#define VSRAY_VSPHERE_SOAP_H_

#include <string>
#include <string_view>

#include "common/status.h"
#include "vsphere/xml.h"

namespace vsray::vsphere {

// Wraps a method element (already serialised, e.g. "<RetrieveServiceContent ...>") in a SOAP
// envelope declaring the vim25, xsd and xsi namespaces.
std::string SoapEnvelope(std::string_view body);

// Starts "<method xmlns="urn:vim25"><_this type="T">id</_this>" in `w`; close with w.Close(method).
void OpenMethod(XmlWriter& w, std::string_view method, const MoRef& this_ref);

// Maps a vim fault type name ("InvalidPowerState") to a status code. The code also decides
// whether an idempotent call is retried (IsTransient, common/retry.h).
StatusCode FaultCode(std::string_view fault_type);

// Builds the Status for a vim fault (code from FaultCode, fault() set to the type).
Status FaultStatus(std::string_view fault_type, std::string_view message);

// PERMISSION_DENIED (fault NoPermission) naming the missing privilege and the entity
// ("VirtualMachine vm-42"); `message` is used when the privilege is unknown.
Status NoPermissionStatus(std::string_view privilege, std::string_view entity,
                          std::string_view message);

// Decodes a SOAP response body for `method`. On success returns the <methodResponse>
// element (its `returnval` children hold the result). A SOAP fault becomes its Status; a body
// that is not a SOAP envelope becomes DATA_LOSS naming the method.
StatusOr<Any> DecodeSoapResponse(std::string_view xml, std::string_view method);

// Decodes a LocalizedMethodFault / MethodFault value (e.g. a task's info.error) into a Status.
Status StatusFromMethodFault(const Any& fault);

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_SOAP_H_
