// The required privileges (privileges.h) resolved to vCenter entities: where `vsray role
// create --assign-to` sets permissions and where `vsray check` reads the user's privileges.
#ifndef VSRAY_CLUSTER_GRANTS_H_
#define VSRAY_CLUSTER_GRANTS_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/privileges.h"
#include "common/status.h"
#include "config/cluster_config.h"
#include "vsphere/session.h"

namespace vsray::cluster {

// One permission to set: the role on `entity`.
struct Grant {
  vsphere::MoRef entity;
  std::string label;  // "cluster folder 'ray-x' (group-v12)", several joined by "; "
  bool propagate = false;
  std::set<std::string> privileges;  // needed on this entity (for `check`)
};

struct Grants {
  std::vector<Grant> grants;
  // What could not be resolved yet and why (e.g. "cluster folder 'ray-x': created by `up`").
  std::vector<std::string> pending;
};

// Resolves `required` in the vCenter of `session` (as the config names things). With
// `create_folder` (an admin's `role create`), a missing cluster folder is created next to
// the frozen VM so that it can be granted. Errors: lookups' (NOT_FOUND naming the object).
StatusOr<Grants> ResolveGrants(const RequiredPrivileges& required,
                               const config::ClusterConfig& config,
                               const std::shared_ptr<vsphere::Session>& session,
                               bool create_folder);

}  // namespace vsray::cluster

#endif  // VSRAY_CLUSTER_GRANTS_H_
