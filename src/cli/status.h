// `vsray status` and the summary that ends `vsray up` (facts from cluster/status.h).
#ifndef VSRAY_CLI_STATUS_H_
#define VSRAY_CLI_STATUS_H_

#include "cli/commands.h"
#include "config/cluster_config.h"
#include "provider/node_provider.h"

namespace vsray::cli {

// `vsray status CONFIG [--json] [--watch [SECONDS]]`. `watch_seconds` 0: once. Exit 0 when
// vCenter was reached and the cluster read, 1 when not (a fact, printed like the rest), 2 for
// the config, 130 when a --watch is interrupted.
int ClusterStatusCommand(const CommonFlags& flags, int watch_seconds);

// The end of a human-readable `vsray up`: the status summary and the next step (ssh to the
// head, `vsray status`), on stdout.
void PrintUpSummary(const CommonFlags& flags, const config::ClusterConfig& config,
                    provider::NodeProvider& provider);

}  // namespace vsray::cli

#endif  // VSRAY_CLI_STATUS_H_
