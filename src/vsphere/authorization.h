// AuthorizationManager: roles, permissions and a user's privileges (what `vsray role` and
// `vsray check` read and write). Errors: those of SoapCaller::Call, and PERMISSION_DENIED
// (NoPermission) when the session's user may not do it.
#ifndef VSRAY_VSPHERE_AUTHORIZATION_H_
#define VSRAY_VSPHERE_AUTHORIZATION_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {

struct Role {
  int id = 0;
  std::string name;
  std::set<std::string> privileges;  // System.* included, as vCenter lists them
};

struct Permission {
  MoRef entity;
  std::string principal;
  bool group = false;
  int role_id = 0;
  bool propagate = false;
};

class Authorization {
 public:
  explicit Authorization(Vim& vim) : vim_(vim) {}

  // Every role (AuthorizationManager.roleList).
  StatusOr<std::vector<Role>> Roles();
  // AddAuthorizationRole; returns the new role's id. ALREADY_EXISTS if the name is taken.
  StatusOr<int> AddRole(const std::string& name, const std::vector<std::string>& privileges);
  // UpdateAuthorizationRole: the role keeps its name and holds exactly `privileges`.
  Status UpdateRole(int id, const std::string& name, const std::vector<std::string>& privileges);
  // The permissions defined on `entity` itself (not inherited).
  StatusOr<std::vector<Permission>> EntityPermissions(const MoRef& entity);
  // SetEntityPermissions with one permission (replaces that principal's on `entity`).
  Status SetPermission(const Permission& permission);
  // Where a permission for `entity` is set: the entity itself, or the owner of a root pool
  // (its cluster or host's compute resource) or of a datacenter's root folder (the
  // datacenter), which cannot hold permissions of their own.
  StatusOr<MoRef> PermissionHolder(const MoRef& entity);
  // FetchUserPrivilegeOnEntities: the privileges `user` holds on each entity, by entity id.
  StatusOr<std::map<std::string, std::set<std::string>>> UserPrivileges(
      const std::vector<MoRef>& entities, const std::string& user);

 private:
  Vim& vim_;
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_AUTHORIZATION_H_
