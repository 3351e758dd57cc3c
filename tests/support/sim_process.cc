#include "support/sim_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace vsray::testing {

std::string SimBinaryPath() {
  if (const char* env = std::getenv("VSRAY_SIM"); env != nullptr && env[0] != '\0')
    return env;  // NOLINT
  return VSRAY_SIM_DEFAULT_PATH;
}

StatusOr<std::unique_ptr<SimProcess>> SimProcess::Start(const std::vector<std::string>& args) {
  const std::string binary = SimBinaryPath();
  if (access(binary.c_str(), X_OK) != 0) {
    return FailedPreconditionError("vsray-sim not found at " + binary);
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return InternalError("pipe failed");
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) return InternalError("fork failed");
  if (pid == 0) {
    // A test program that crashes must not leave its simulator running (it would hold
    // ctest's output pipe open and hang the run).
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(pipe_fds[1], STDOUT_FILENO);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::unique_ptr<SimProcess> sim(new SimProcess());
  sim->pid_ = pid;
  sim->stdout_fd_ = pipe_fds[0];

  // Read the ready line (60 s: a cold start with thousands of VMs takes a while).
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return DeadlineExceededError("vsray-sim did not become ready");
    pollfd pfd{sim->stdout_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(sim->stdout_fd_, buffer, sizeof buffer);
    if (n <= 0) return InternalError("vsray-sim exited before it was ready");
    line.append(buffer, static_cast<std::size_t>(n));
  }
  line.resize(line.find('\n'));
  sim->ready_ = nlohmann::json::parse(line, nullptr, false);
  if (sim->ready_.is_discarded() || !sim->ready_.is_object()) {
    return DataLossError("vsray-sim printed a bad ready line: " + line);
  }
  vsphere::TlsOptions tls;
  tls.ca_file = sim->ca_file();
  if (sim->url().starts_with("http://")) tls.insecure = true;
  VSRAY_ASSIGN_OR_RETURN(sim->control_, vsphere::MakeCurlTransport(tls));
  return sim;
}

SimProcess::~SimProcess() { Stop(); }

std::string SimProcess::server() const { return "127.0.0.1:" + std::to_string(port()); }

vsphere::ConnectOptions SimProcess::Connect(const std::string& user,
                                            const std::string& password) const {
  vsphere::ConnectOptions options;
  options.server = url();
  options.credentials = {user, password};
  options.tls.ca_file = ca_file();
  if (url().starts_with("http://")) options.tls.insecure = true;
  return options;
}

StatusOr<std::string> SimProcess::Control(const std::string& method, const std::string& path,
                                          const std::string& body) {
  vsphere::HttpRequest request;
  request.method = method;
  std::string base = ready_.value("control_url", "");
  request.url = base + path;
  request.body = body;
  request.headers = {{"Content-Type", "application/json"}};
  VSRAY_ASSIGN_OR_RETURN(auto response, control_->Send(request));
  if (response.status / 100 != 2) {
    return InternalError("control " + path + ": HTTP " + std::to_string(response.status) + " " +
                         response.body);
  }
  return response.body;
}

StatusOr<std::map<std::string, int>> SimProcess::SoapStats() {
  VSRAY_ASSIGN_OR_RETURN(auto body, Control("GET", "/stats"));
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded()) return DataLossError("bad stats JSON");
  std::map<std::string, int> out;
  if (json.contains("soap")) {
    for (const auto& [name, count] : json["soap"].items()) out[name] = count.get<int>();
  }
  return out;
}

Status SimProcess::ResetStats() { return Control("POST", "/stats/reset").status(); }

Status SimProcess::InjectFault(const std::string& spec) {
  return Control("POST", "/faults", nlohmann::json{{"spec", spec}}.dump()).status();
}

Status SimProcess::ClearFaults() { return Control("DELETE", "/faults").status(); }

Status SimProcess::ExpireSessions() { return Control("POST", "/sessions/expire").status(); }

int SimProcess::Stop() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
  return status;
}

}  // namespace vsray::testing
