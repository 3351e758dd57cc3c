// A logged-in vim25 session: SOAP calls with the session cookie, transparent re-login on
// NotAuthenticated, retry of idempotent calls, keepalive, logout. One per (server, user).
#ifndef VSRAY_VSPHERE_SESSION_H_
#define VSRAY_VSPHERE_SESSION_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/clock.h"
#include "common/retry.h"
#include "common/status.h"
#include "vsphere/login_state.h"
#include "vsphere/transport.h"
#include "vsphere/xml.h"

namespace vsray::vsphere {

// Where vCenter is: from "host", "host:port", "https://host[:port][/sdk]".
struct ServerAddress {
  std::string scheme = "https";
  std::string host;
  int port = 443;

  // "https://host:port" + path
  std::string Url(std::string_view path) const;
  std::string HostPort() const;
};

// Parses a server string. Plain http:// is refused unless `allow_plain_http` (credentials
// would cross the network in clear text).
StatusOr<ServerAddress> ParseServerAddress(std::string_view server, bool allow_plain_http);

struct Credentials {
  std::string user;
  std::string password;
};

struct ConnectOptions {
  std::string server;
  Credentials credentials;
  TlsOptions tls;
  std::chrono::milliseconds call_timeout{120000};
  // Until the server has answered the TCP and TLS handshake.
  std::chrono::milliseconds connect_timeout{15000};
  // The largest reply accepted (a bound on the memory one reply takes).
  std::size_t max_response_bytes = HttpRequest::kDefaultMaxResponseBytes;
  // A keepalive call is made when the session has been idle this long (vCenter drops idle
  // sessions after 30 minutes). Zero disables keepalive.
  std::chrono::milliseconds keepalive_interval{std::chrono::minutes(10)};
  RetryOptions retry;
  // Transport to use; a libcurl transport is made when null (tests inject fakes).
  std::shared_ptr<HttpTransport> transport;
  Clock* clock = &SystemClock::Instance();
};

// An HTTP request to `url` with the connection's timeouts and reply limit, and a warning
// logged every 15 s while the server does not answer (naming the server and `what`, e.g. the
// SOAP method), so that no wait on vCenter is silent for longer.
HttpRequest RequestWithLimits(const ConnectOptions& options, std::string method, std::string url,
                              std::string what);

// Checks the server address and user of `options`, and gives it a libcurl transport when it
// has none. Shared by the SOAP session and the REST client.
StatusOr<ServerAddress> PrepareConnection(ConnectOptions& options);

// The root object of the vim25 API.
MoRef ServiceInstanceRef();

// The ServiceInstance's content: entry points to the managers.
struct ServiceContent {
  MoRef root_folder;
  MoRef property_collector;
  MoRef view_manager;
  MoRef search_index;
  MoRef session_manager;
  MoRef custom_fields_manager;
  MoRef task_manager;
  MoRef ovf_manager;
  MoRef authorization_manager;
  std::string api_version;
  std::string api_type;  // "VirtualCenter" or "HostAgent"
  std::string full_name;
  std::string instance_uuid;
};

// Issues SOAP calls. The seam between typed operations and the session.
class SoapCaller {
 public:
  virtual ~SoapCaller() = default;
  // Calls `method` on `target` with `params` (serialised parameter elements after _this).
  // Idempotent calls are retried on transient failures. Returns the decoded
  // <methodResponse>, or the fault as a Status (fault() set), UNAVAILABLE/DEADLINE_EXCEEDED for
  // transport failures, DATA_LOSS for a reply that can't be decoded.
  virtual StatusOr<Any> Call(std::string_view method, const MoRef& target, std::string_view params,
                             bool idempotent) = 0;
};

class Session final : public SoapCaller, public std::enable_shared_from_this<Session> {
 public:
  // Connects and logs in. Errors: INVALID_ARGUMENT (bad server/TLS settings),
  // UNAUTHENTICATED (TLS verification failed, or fault InvalidLogin), UNAVAILABLE (unreachable),
  // DATA_LOSS (not a vSphere endpoint).
  static StatusOr<std::shared_ptr<Session>> Connect(ConnectOptions options);

  // One shared session per (server, user, TLS settings, password): later callers get the live
  // one instead of logging in again.
  static StatusOr<std::shared_ptr<Session>> Shared(const ConnectOptions& options);

  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  StatusOr<Any> Call(std::string_view method, const MoRef& target, std::string_view params,
                     bool idempotent) override;

  const ServiceContent& content() const { return content_; }
  const ServerAddress& address() const { return address_; }
  const std::string& user() const { return options_.credentials.user; }
  const ConnectOptions& options() const { return options_; }
  HttpTransport& transport() { return *transport_; }

  // How many times this session logged in (1 after Connect); re-logins add to it.
  int login_count() const { return login_count_.load(); }
  // SOAP calls sent (including retries and logins).
  std::int64_t calls_sent() const { return calls_sent_.load(); }

  // Logs out (best effort) and stops keepalive. Later calls fail with CANCELLED.
  void Close();

 private:
  explicit Session(ConnectOptions options);
  Status Init();
  Status Login();
  // One HTTP exchange, no retry, no re-login. `generation` gets the cookie generation used.
  StatusOr<Any> SendOnce(std::string_view method, const std::string& envelope,
                         std::uint64_t* generation);
  StatusOr<Any> SendRetrying(std::string_view method, const std::string& envelope, bool idempotent,
                             std::uint64_t* generation);
  void KeepaliveLoop();

  ConnectOptions options_;
  ServerAddress address_;
  std::shared_ptr<HttpTransport> transport_;
  ServiceContent content_;
  std::string soap_action_;

  LoginState login_;  // the cookie "vmware_soap_session=..."

  std::atomic<int> login_count_{0};
  std::atomic<std::int64_t> calls_sent_{0};
  std::atomic<bool> closed_{false};
  std::atomic<std::int64_t> last_call_ns_{0};
  ExponentialBackoff backoff_;

  std::mutex keepalive_mu_;
  std::condition_variable keepalive_cv_;
  bool stop_keepalive_ = false;
  std::thread keepalive_;
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_SESSION_H_
