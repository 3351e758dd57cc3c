// `vsray check`'s privilege checks: the configured user's privileges on each entity vsray's
// role is granted on (cluster/grants.h), the missing ones and the command that fixes them;
// privileges beyond the role as warnings.
#ifndef VSRAY_CLI_CHECK_PRIVILEGES_H_
#define VSRAY_CLI_CHECK_PRIVILEGES_H_

#include <memory>
#include <string>
#include <vector>

#include "config/cluster_config.h"
#include "vsphere/session.h"

namespace vsray::cli {

struct CheckLine {
  std::string result;  // ok | warn | FAIL
  std::string detail;
  std::string fix;
};

// One line per entity (check name "privileges").
std::vector<CheckLine> CheckPrivileges(const config::ClusterConfig& config,
                                       const std::string& config_path,
                                       const std::shared_ptr<vsphere::Session>& session);

// The command that grants the role (for fixes).
std::string RoleCreateCommand(const config::ClusterConfig& config, const std::string& config_path);

}  // namespace vsray::cli

#endif  // VSRAY_CLI_CHECK_PRIVILEGES_H_
