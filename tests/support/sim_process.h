// Starts a vsray-sim process for a test or benchmark, and talks to its control endpoint.
#ifndef VSRAY_TESTS_SUPPORT_SIM_PROCESS_H_
#define VSRAY_TESTS_SUPPORT_SIM_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "vsphere/session.h"
#include "vsphere/transport.h"

namespace vsray::testing {

// Path of the vsray-sim binary: $VSRAY_SIM, else the one built next to the tests.
std::string SimBinaryPath();

class SimProcess {
 public:
  // Starts vsray-sim with `args` (e.g. {"--vms", "4", "--frozen-vm", "frozen"}) and waits for
  // its ready line.
  static StatusOr<std::unique_ptr<SimProcess>> Start(const std::vector<std::string>& args);
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  const nlohmann::json& ready() const { return ready_; }
  std::string url() const { return ready_.value("url", ""); }
  std::string server() const;  // "127.0.0.1:PORT"
  std::string ca_file() const { return ready_.value("ca_file", ""); }
  int port() const { return ready_.value("port", 0); }
  pid_t pid() const { return pid_; }

  // ConnectOptions for user/pass over verified HTTPS.
  vsphere::ConnectOptions Connect(const std::string& user = "user",
                                  const std::string& password = "pass") const;

  // Control endpoint (/vsray/...): returns the response body.
  StatusOr<std::string> Control(const std::string& method, const std::string& path,
                                const std::string& body = "");
  // Per-method SOAP call counts since start or the last ResetStats.
  StatusOr<std::map<std::string, int>> SoapStats();
  Status ResetStats();
  Status InjectFault(const std::string& spec);
  Status ClearFaults();
  Status ExpireSessions();

  // Sends SIGTERM and waits; returns the exit status (as from waitpid).
  int Stop();

 private:
  SimProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  nlohmann::json ready_;
  std::unique_ptr<vsphere::HttpTransport> control_;
};

}  // namespace vsray::testing

#endif  // VSRAY_TESTS_SUPPORT_SIM_PROCESS_H_
