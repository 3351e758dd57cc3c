#include "cli/check_privileges.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "cluster/grants.h"
#include "cluster/privileges.h"
#include "vsphere/authorization.h"
#include "vsphere/vim.h"

namespace vsray::cli {
namespace {

// "A, B, C" (the first `limit`, then "and N more").
std::string JoinSome(const std::set<std::string>& ids, size_t limit) {
  std::string out;
  size_t n = 0;
  for (const auto& id : ids) {
    if (n == limit) {
      out += " and " + std::to_string(ids.size() - limit) + " more";
      break;
    }
    out += (n++ == 0 ? "" : ", ") + id;
  }
  return out;
}

// Privileges beyond the role (System.* are in every role).
std::set<std::string> Extras(const std::set<std::string>& held, const std::set<std::string>& role) {
  std::set<std::string> out;
  for (const auto& id : held) {
    if (!id.starts_with("System.") && !role.contains(id)) out.insert(id);
  }
  return out;
}

}  // namespace

std::string RoleCreateCommand(const config::ClusterConfig& config, const std::string& config_path) {
  return "as a vCenter administrator: vsray role create " + config_path + " --name vsray-" +
         config.cluster_name + " --assign-to " + config.vsphere.credentials.user;
}

std::vector<CheckLine> CheckPrivileges(const config::ClusterConfig& config,
                                       const std::string& config_path,
                                       const std::shared_ptr<vsphere::Session>& session) {
  const auto required = cluster::PrivilegesFor(config);
  const auto role_ids = required.RoleIds();
  const std::set<std::string> role(role_ids.begin(), role_ids.end());
  const std::string& user = config.vsphere.credentials.user;
  const std::string fix = RoleCreateCommand(config, config_path);
  auto grants = cluster::ResolveGrants(required, config, session, /*create_folder=*/false);
  if (!grants.ok()) {
    return {{"warn", "not checked: " + grants.status().message(), "fix the lines above"}};
  }
  std::vector<vsphere::MoRef> entities;
  for (const auto& g : grants->grants) entities.push_back(g.entity);
  vsphere::Vim vim(*session, session->content());
  vsphere::Authorization auth(vim);
  auto held = auth.UserPrivileges(entities, user);
  if (!held.ok()) {
    return {{"warn", "not checked: " + held.status().message(), ""}};
  }
  std::vector<CheckLine> out;
  std::set<std::string> extras;
  int entities_with_extras = 0;
  for (const auto& g : grants->grants) {
    const auto& have = (*held)[g.entity.value];
    std::set<std::string> missing;
    std::set_difference(g.privileges.begin(), g.privileges.end(), have.begin(), have.end(),
                        std::inserter(missing, missing.end()));
    const std::string where = "user '" + user + "' on " + g.label;
    if (!missing.empty()) {
      out.push_back({"FAIL", where + ": missing " + JoinSome(missing, missing.size()), fix});
    } else if (g.privileges.empty()) {
      out.push_back({"ok", where + ": readable (all vsray needs there)", ""});
    } else {
      out.push_back({"ok",
                     where + ": the " + std::to_string(g.privileges.size()) +
                         " privilege(s) vsray needs there",
                     ""});
    }
    const auto beyond = Extras(have, role);
    if (!beyond.empty()) ++entities_with_extras;
    extras.insert(beyond.begin(), beyond.end());
  }
  if (!extras.empty()) {
    out.push_back({"warn",
                   "user '" + user + "' holds " + std::to_string(extras.size()) +
                       " privilege(s) beyond vsray's role on " +
                       std::to_string(entities_with_extras) + " of " +
                       std::to_string(grants->grants.size()) + " entities: " + JoinSome(extras, 5),
                   "vsray needs only those of `vsray role show " + config_path + "`"});
  }
  for (const auto& pending : grants->pending) out.push_back({"warn", pending, fix});
  return out;
}

}  // namespace vsray::cli
