// `vsray role show|create`: the least-privilege role a cluster config needs
// (cluster/privileges.h), for the VI admin who grants it.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "cluster/grants.h"
#include "cluster/privileges.h"
#include "config/cluster_config.h"
#include "vsphere/authorization.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::cli {
namespace {

using nlohmann::json;

int Fail(const Status& status, int code) {
  return FailRun(status, code, code == kExitUsage ? "config" : "");
}

json EntitiesJson(const cluster::RequiredPrivileges& required) {
  json entities = json::array();
  for (const auto& e : required.entities) {
    json privileges = json::array();
    for (const auto& p : e.privileges) {
      privileges.push_back({{"id", p.id}, {"used_by", p.operations}});
    }
    entities.push_back({{"kind", cluster::EntityKindName(e.kind)},
                        {"name", e.name},
                        {"grant_on", cluster::EntityLabel(e)},
                        {"propagate", e.propagate},
                        {"privileges", privileges}});
  }
  return entities;
}

void PrintShow(const cluster::RequiredPrivileges& required, const std::string& config_path) {
  std::cout << "Role: " << required.RoleIds().size() << " privileges (System.Anonymous, "
            << "System.View and System.Read are in every role)\n";
  for (const auto& id : required.RoleIds()) std::cout << "  " << id << "\n";
  std::cout << "\nGrant it on:\n";
  for (const auto& e : required.entities) {
    std::cout << "  " << cluster::EntityLabel(e) << (e.propagate ? ", propagating" : "") << ": ";
    if (e.privileges.empty()) std::cout << "(read only)";
    for (size_t i = 0; i < e.privileges.size(); ++i) {
      std::cout << (i == 0 ? "" : ", ") << e.privileges[i].id;
    }
    std::cout << "\n";
  }
  std::cout << "\nAs an administrator: vsray role create " << config_path
            << " --name NAME --assign-to USER\n";
}

bool SamePrincipal(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

// Creates or updates the role; returns its id and what was done.
StatusOr<std::pair<int, std::string>> EnsureRole(vsphere::Authorization& auth,
                                                 const std::string& name,
                                                 const std::vector<std::string>& ids) {
  VSRAY_ASSIGN_OR_RETURN(auto roles, auth.Roles());
  const auto it = std::find_if(roles.begin(), roles.end(),
                               [&](const vsphere::Role& r) { return r.name == name; });
  if (it == roles.end()) {
    VSRAY_ASSIGN_OR_RETURN(const int id, auth.AddRole(name, ids));
    return std::pair{id, std::string("created")};
  }
  std::set<std::string> have;
  for (const auto& p : it->privileges) {
    if (!p.starts_with("System.")) have.insert(p);
  }
  if (have == std::set<std::string>(ids.begin(), ids.end())) {
    return std::pair{it->id, std::string("unchanged")};
  }
  VSRAY_RETURN_IF_ERROR(auth.UpdateRole(it->id, name, ids));
  return std::pair{it->id, std::string("updated")};
}

// Sets the permission of `user` with role `role_id` on each grant; what was done per grant.
StatusOr<json> Assign(vsphere::Authorization& auth, const cluster::Grants& grants, int role_id,
                      const std::string& user) {
  json out = json::array();
  for (const auto& g : grants.grants) {
    VSRAY_ASSIGN_OR_RETURN(auto existing, auth.EntityPermissions(g.entity));
    const bool same = std::any_of(existing.begin(), existing.end(), [&](const auto& p) {
      return SamePrincipal(p.principal, user) && !p.group && p.role_id == role_id &&
             p.propagate == g.propagate;
    });
    if (!same) {
      VSRAY_RETURN_IF_ERROR(auth.SetPermission({g.entity, user, false, role_id, g.propagate})
                                .WithContext("granting the role on " + g.label));
    }
    out.push_back({{"entity", g.entity.value},
                   {"type", g.entity.type},
                   {"grant_on", g.label},
                   {"propagate", g.propagate},
                   {"change", same ? "unchanged" : "set"}});
  }
  return out;
}

}  // namespace

int RoleShow(const CommonFlags& flags, bool markdown) {
  // Only the config's names matter here (no connection: no CA file needed).
  config::LoadOptions options;
  options.check_local_files = false;
  auto config = config::LoadClusterConfigFile(flags.config, options);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  const auto required = cluster::PrivilegesFor(*config);
  if (markdown) {
    std::cout << cluster::PrivilegesMarkdown(required);
  } else if (flags.json) {
    json document = JsonDocument(config->cluster_name);
    document["privileges"] = required.RoleIds();
    document["count_per_kind"] = required.CountPerKind();
    document["entities"] = EntitiesJson(required);
    PrintJson(document);
  } else {
    PrintShow(required, flags.config);
  }
  return kExitOk;
}

int RoleCreate(const CommonFlags& flags, const std::string& name, const std::string& assign_to) {
  auto config = config::LoadClusterConfigFile(flags.config);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  auto options = cluster::MakeProviderOptions(*config, /*watch=*/false);
  if (!options.ok()) return Fail(options.status(), kExitUsage);
  ConnectingNotice notice(flags.quiet, options->connect.server);
  auto session = vsphere::Session::Connect(options->connect);
  notice.Done();
  if (!session.ok()) return Fail(session.status(), kExitFailed);
  vsphere::Vim vim(**session, (*session)->content());
  vsphere::Authorization auth(vim);
  const auto required = cluster::PrivilegesFor(*config);
  const auto ids = required.RoleIds();
  auto role = EnsureRole(auth, name, ids);
  if (!role.ok()) return Fail(role.status().WithContext("role '" + name + "'"), kExitFailed);
  json out = JsonDocument(config->cluster_name);
  out["role"] = {
      {"name", name}, {"id", role->first}, {"change", role->second}, {"privileges", ids}};
  if (!assign_to.empty()) {
    auto grants = cluster::ResolveGrants(required, *config, *session, /*create_folder=*/true);
    if (!grants.ok()) return Fail(grants.status(), kExitFailed);
    auto assigned = Assign(auth, *grants, role->first, assign_to);
    if (!assigned.ok()) return Fail(assigned.status(), kExitFailed);
    out["user"] = assign_to;
    out["permissions"] = *assigned;
  }
  (*session)->Close();
  if (flags.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::cout << "role '" << name << "' (id " << role->first << "): " << role->second << ", "
            << ids.size() << " privileges\n";
  for (const auto& p : out.value("permissions", json::array())) {
    std::cout << "  " << p["change"].get<std::string>() << ": " << assign_to << " on "
              << p["grant_on"].get<std::string>()
              << (p["propagate"].get<bool>() ? ", propagating" : "") << "\n";
  }
  return kExitOk;
}

}  // namespace vsray::cli
