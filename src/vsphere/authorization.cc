#include "vsphere/authorization.h"

#include <charconv>

namespace vsray::vsphere {
namespace {

int ParseId(std::string_view text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

void WritePrivileges(XmlWriter& w, const std::vector<std::string>& privileges) {
  for (const auto& id : privileges) w.Leaf("privIds", id);
}

}  // namespace

StatusOr<std::vector<Role>> Authorization::Roles() {
  VSRAY_ASSIGN_OR_RETURN(auto content,
                         vim_.RetrieveOne(vim_.content().authorization_manager, {"roleList"}));
  std::vector<Role> out;
  const Any* list = content.Get("roleList");
  if (list == nullptr) return out;
  for (const auto& [element, role] : list->fields) {
    Role r{ParseId(role.TextAt("roleId")), std::string(role.TextAt("name")), {}};
    for (const Any* privilege : role.All("privilege")) r.privileges.insert(privilege->text);
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<int> Authorization::AddRole(const std::string& name,
                                     const std::vector<std::string>& privileges) {
  XmlWriter w;
  w.Leaf("name", name);
  WritePrivileges(w, privileges);
  VSRAY_ASSIGN_OR_RETURN(
      auto reply, vim_.caller().Call("AddAuthorizationRole", vim_.content().authorization_manager,
                                     w.str(), false));
  return ParseId(reply.TextAt("returnval"));
}

Status Authorization::UpdateRole(int id, const std::string& name,
                                 const std::vector<std::string>& privileges) {
  XmlWriter w;
  w.Leaf("roleId", std::to_string(id));
  w.Leaf("newName", name);
  WritePrivileges(w, privileges);
  return vim_.caller()
      .Call("UpdateAuthorizationRole", vim_.content().authorization_manager, w.str(), true)
      .status();
}

StatusOr<std::vector<Permission>> Authorization::EntityPermissions(const MoRef& entity) {
  XmlWriter w;
  w.Ref("entity", entity);
  w.Bool("inherited", false);
  VSRAY_ASSIGN_OR_RETURN(auto reply,
                         vim_.caller().Call("RetrieveEntityPermissions",
                                            vim_.content().authorization_manager, w.str(), true));
  std::vector<Permission> out;
  for (const Any* p : reply.All("returnval")) {
    const Any* e = p->Get("entity");
    out.push_back({e == nullptr ? MoRef{} : e->AsMoRef(), std::string(p->TextAt("principal")),
                   p->TextAt("group") == "true", ParseId(p->TextAt("roleId")),
                   p->TextAt("propagate") == "true"});
  }
  return out;
}

Status Authorization::SetPermission(const Permission& permission) {
  XmlWriter w;
  w.Ref("entity", permission.entity);
  w.Open("permission");
  w.Ref("entity", permission.entity);
  w.Leaf("principal", permission.principal);
  w.Bool("group", permission.group);
  w.Leaf("roleId", std::to_string(permission.role_id));
  w.Bool("propagate", permission.propagate);
  w.Close("permission");
  return vim_.caller()
      .Call("SetEntityPermissions", vim_.content().authorization_manager, w.str(), true)
      .status();
}

StatusOr<MoRef> Authorization::PermissionHolder(const MoRef& entity) {
  if (entity.type != "ResourcePool" && entity.type != "Folder") return entity;
  VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(entity, {"parent"}));
  const MoRef parent = RefOf(content, "parent");
  const bool owned = entity.type == "ResourcePool" ? parent.type == "ClusterComputeResource" ||
                                                         parent.type == "ComputeResource"
                                                   : parent.type == "Datacenter";
  return owned ? parent : entity;
}

StatusOr<std::map<std::string, std::set<std::string>>> Authorization::UserPrivileges(
    const std::vector<MoRef>& entities, const std::string& user) {
  XmlWriter w;
  for (const auto& entity : entities) w.Ref("entities", entity);
  w.Leaf("userName", user);
  VSRAY_ASSIGN_OR_RETURN(auto reply,
                         vim_.caller().Call("FetchUserPrivilegeOnEntities",
                                            vim_.content().authorization_manager, w.str(), true));
  std::map<std::string, std::set<std::string>> out;
  for (const MoRef& entity : entities) out[entity.value];
  for (const Any* result : reply.All("returnval")) {
    const Any* e = result->Get("entity");
    if (e == nullptr) continue;
    auto& privileges = out[e->text];
    for (const Any* p : result->All("privileges")) privileges.insert(p->text);
  }
  return out;
}

}  // namespace vsray::vsphere
