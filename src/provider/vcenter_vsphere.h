// The real VcenterConnection: vCenter's vim25 SOAP API through a (shared) Session, Vim,
// VmOps, one TaskWaiter and FolderWatchers; its vAPI REST API for content libraries (a
// RestClient made on first use) and for the vSphere tags mirror.
#ifndef VSRAY_PROVIDER_VCENTER_VSPHERE_H_
#define VSRAY_PROVIDER_VCENTER_VSPHERE_H_

#include <memory>

#include "common/status.h"
#include "provider/vcenter.h"
#include "vsphere/session.h"

namespace vsray::provider {

// Logs in (or shares the live session of the same server, user and TLS settings) and returns
// a connection over it. Errors: those of vsphere::Session::Connect.
StatusOr<std::shared_ptr<VcenterConnection>> ConnectVcenter(const vsphere::ConnectOptions& options);

// A connection over a session the caller already has (e.g. `vsray check`).
std::shared_ptr<VcenterConnection> VcenterOver(std::shared_ptr<vsphere::Session> session);

// The VM properties VmRecord is read from.
const std::vector<std::string>& VmRecordProperties();
VmRecord VmRecordFromContent(const vsphere::ObjectContent& content);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_VCENTER_VSPHERE_H_
