// Test plumbing: puts an OVF descriptor into a vCenter content library (a local library on a
// datastore, an item, an update session, a PUT of the file), as an admin would with the UI.
#ifndef VSRAY_TESTS_SUPPORT_CONTENT_LIBRARY_H_
#define VSRAY_TESTS_SUPPORT_CONTENT_LIBRARY_H_

#include <string>

#include "common/status.h"
#include "vsphere/rest.h"
#include "vsphere/transport.h"

namespace vsray::testing {

// A minimal OVF (1 vCPU, 64 MB, no disk). With `frozen_image`, it carries the extraConfig
// marker `vsray.frozen_image = TRUE` that makes vsray-sim freeze the VM after power-on (as
// a real frozen-VM image does by running `vmware-rpctool "instantclone.freeze"` at boot).
std::string MinimalOvf(bool frozen_image);

// Uploads `descriptor` as `<item>.ovf` into a new item `item` of library `library_id`;
// returns the item id.
StatusOr<std::string> UploadOvfItem(vsphere::RestClient& rest, vsphere::HttpTransport& transport,
                                    const std::string& library_id, const std::string& item,
                                    const std::string& descriptor);

}  // namespace vsray::testing

#endif  // VSRAY_TESTS_SUPPORT_CONTENT_LIBRARY_H_
