#include "vsphere/session.h"

#include <charconv>
#include <functional>
#include <map>

#include "common/log.h"
#include "vsphere/soap.h"

namespace vsray::vsphere {
namespace {

std::int64_t NowNanos(Clock& clock) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock.Now().time_since_epoch())
      .count();
}

// Extracts "vmware_soap_session=VALUE" from Set-Cookie lines.
std::string SessionCookie(const std::string& set_cookie) {
  constexpr std::string_view kName = "vmware_soap_session=";
  std::string_view all = set_cookie;
  while (!all.empty()) {
    const auto newline = all.find('\n');
    std::string_view line = all.substr(0, newline);
    all = newline == std::string_view::npos ? std::string_view() : all.substr(newline + 1);
    const auto at = line.find(kName);
    if (at == std::string_view::npos) continue;
    line = line.substr(at);
    return std::string(line.substr(0, line.find(';')));
  }
  return "";
}

}  // namespace

MoRef ServiceInstanceRef() { return {"ServiceInstance", "ServiceInstance"}; }

std::string ServerAddress::HostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ServerAddress::Url(std::string_view path) const {
  return scheme + "://" + HostPort() + std::string(path);
}

namespace {

Status BadServer(std::string_view server, std::string_view why) {
  return InvalidArgumentError("vCenter server '" + std::string(server) + "': " + std::string(why));
}

// Takes the scheme off `rest` into `address` (https when there is none).
Status TakeScheme(std::string_view server, bool allow_plain_http, std::string_view& rest,
                  ServerAddress& address) {
  const auto scheme_end = rest.find("://");
  if (scheme_end == std::string_view::npos) return OkStatus();
  address.scheme = std::string(rest.substr(0, scheme_end));
  rest.remove_prefix(scheme_end + 3);
  if (address.scheme != "https" && address.scheme != "http") {
    return BadServer(server, "scheme must be https");
  }
  if (address.scheme == "http" && !allow_plain_http) {
    return BadServer(server, "plain http would send the password unencrypted; use https");
  }
  return OkStatus();
}

// Splits "host", "host:port", "[v6]" or "[v6]:port" into `address.host` and the port text.
Status SplitHostPort(std::string_view server, std::string_view rest, ServerAddress& address,
                     std::string_view& port_text) {
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return BadServer(server, "unclosed '['");
    address.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return BadServer(server, "bad port");
      port_text = rest.substr(close + 2);
    }
    return OkStatus();
  }
  const auto colon = rest.find(':');
  address.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  return OkStatus();
}

StatusOr<int> ParsePort(std::string_view server, std::string_view port_text) {
  int port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port <= 0 ||
      port > 65535) {
    return BadServer(server, "port must be a number from 1 to 65535");
  }
  return port;
}

}  // namespace

StatusOr<ServerAddress> ParseServerAddress(std::string_view server, bool allow_plain_http) {
  ServerAddress address;
  std::string_view rest = server;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return InvalidArgumentError("vCenter server address is empty");
  VSRAY_RETURN_IF_ERROR(TakeScheme(server, allow_plain_http, rest, address));
  rest = rest.substr(0, rest.find('/'));  // drop "/sdk" or any path
  address.port = address.scheme == "https" ? 443 : 80;
  std::string_view port_text;
  VSRAY_RETURN_IF_ERROR(SplitHostPort(server, rest, address, port_text));
  if (address.host.empty()) return BadServer(server, "no host name");
  if (!port_text.empty() || rest.ends_with(':')) {
    VSRAY_ASSIGN_OR_RETURN(address.port, ParsePort(server, port_text));
  }
  return address;
}

HttpRequest RequestWithLimits(const ConnectOptions& options, std::string method, std::string url,
                              std::string what) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.timeout = options.call_timeout;
  request.connect_timeout = options.connect_timeout;
  request.max_response_bytes = options.max_response_bytes;
  request.on_slow = [server = options.server, what = std::move(what),
                     limit = options.call_timeout](std::chrono::seconds waited) {
    Log()->warn("still waiting for vCenter {} to answer {}: {} s so far (timeouts.call_s: {} s)",
                server, what, waited.count(),
                std::chrono::duration_cast<std::chrono::seconds>(limit).count());
  };
  return request;
}

StatusOr<ServerAddress> PrepareConnection(ConnectOptions& options) {
  VSRAY_ASSIGN_OR_RETURN(auto address, ParseServerAddress(options.server, options.tls.insecure));
  if (options.credentials.user.empty()) {
    return InvalidArgumentError("vCenter user name is empty");
  }
  if (!options.transport) {
    VSRAY_ASSIGN_OR_RETURN(auto transport, MakeCurlTransport(options.tls));
    options.transport = std::move(transport);
  }
  return address;
}

Session::Session(ConnectOptions options)
    : options_(std::move(options)), backoff_(options_.retry.backoff) {}

Session::~Session() { Close(); }

StatusOr<std::shared_ptr<Session>> Session::Connect(ConnectOptions options) {
  std::shared_ptr<Session> session(new Session(std::move(options)));
  VSRAY_RETURN_IF_ERROR(session->Init());
  return session;
}

StatusOr<std::shared_ptr<Session>> Session::Shared(const ConnectOptions& options) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Session>> sessions;
  const std::string key = options.server + '\n' + options.credentials.user + '\n' +
                          std::to_string(std::hash<std::string>{}(options.credentials.password)) +
                          '\n' + options.tls.ca_file + '\n' + options.tls.thumbprint + '\n' +
                          (options.tls.insecure ? "insecure" : "verify");
  std::lock_guard lock(mu);
  if (auto it = sessions.find(key); it != sessions.end()) {
    if (auto live = it->second.lock(); live && !live->closed_) return live;
  }
  VSRAY_ASSIGN_OR_RETURN(auto session, Connect(options));
  sessions[key] = session;
  return session;
}

Status Session::Init() {
  VSRAY_ASSIGN_OR_RETURN(address_, PrepareConnection(options_));
  transport_ = options_.transport;
  soap_action_ = "urn:vim25";

  XmlWriter w;
  OpenMethod(w, "RetrieveServiceContent", ServiceInstanceRef());
  w.Close("RetrieveServiceContent");
  std::uint64_t generation = 0;
  auto reply = SendRetrying("RetrieveServiceContent", SoapEnvelope(w.str()), true, &generation);
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kDataLoss) {
      return DataLossError(address_.Url("/sdk") + " is not a vSphere SDK endpoint (" +
                           reply.status().message() + ")");
    }
    return reply.status();
  }
  const Any* content = reply->Get("returnval");
  if (content == nullptr || content->TextAt("rootFolder").empty()) {
    return DataLossError(address_.Url("/sdk") + " is not a vSphere SDK endpoint");
  }
  auto ref = [&](std::string_view name) {
    const Any* field = content->Get(name);
    return field == nullptr ? MoRef{} : field->AsMoRef();
  };
  content_.root_folder = ref("rootFolder");
  content_.property_collector = ref("propertyCollector");
  content_.view_manager = ref("viewManager");
  content_.search_index = ref("searchIndex");
  content_.session_manager = ref("sessionManager");
  content_.custom_fields_manager = ref("customFieldsManager");
  content_.task_manager = ref("taskManager");
  content_.ovf_manager = ref("ovfManager");
  content_.authorization_manager = ref("authorizationManager");
  content_.api_version = content->TextAt("about.apiVersion");
  content_.api_type = content->TextAt("about.apiType");
  content_.full_name = content->TextAt("about.fullName");
  content_.instance_uuid = content->TextAt("about.instanceUuid");
  if (!content_.api_version.empty()) soap_action_ = "urn:vim25/" + content_.api_version;

  VSRAY_RETURN_IF_ERROR(login_.Login([this] { return Login(); }));
  if (options_.keepalive_interval.count() > 0) {
    keepalive_ = std::thread([this] { KeepaliveLoop(); });
  }
  return OkStatus();
}

// Runs under login_ (LoginState::Login or Renew).
Status Session::Login() {
  XmlWriter w;
  OpenMethod(w, "Login", content_.session_manager);
  w.Leaf("userName", options_.credentials.user);
  w.Leaf("password", options_.credentials.password);
  w.Close("Login");
  login_.Clear();  // a stale cookie must not be sent with a login
  std::uint64_t generation = 0;
  auto reply = SendRetrying("Login", SoapEnvelope(w.str()), true, &generation);
  if (!reply.ok()) {
    if (reply.status().fault() == "InvalidLogin") {
      Status status =
          UnauthenticatedError("vCenter " + address_.HostPort() + " refused the login of user '" +
                               options_.credentials.user + "': wrong user name or password");
      status.set_fault("InvalidLogin");
      return status;
    }
    return reply.status().WithContext("login to " + address_.HostPort());
  }
  if (!login_.Commit()) {
    return DataLossError("login to " + address_.HostPort() + ": no session cookie in reply");
  }
  ++login_count_;
  Log()->debug("logged in to {} as {}", address_.HostPort(), options_.credentials.user);
  return OkStatus();
}

StatusOr<Any> Session::SendOnce(std::string_view method, const std::string& envelope,
                                std::uint64_t* generation) {
  HttpRequest request =
      RequestWithLimits(options_, "POST", address_.Url("/sdk"), std::string(method));
  // A long poll waits on purpose (its callers bound it); everything else is reported.
  if (method == "WaitForUpdatesEx" || method == "WaitForUpdates") request.on_slow = nullptr;
  request.headers = {{"Content-Type", "text/xml; charset=utf-8"}, {"SOAPAction", soap_action_}};
  if (std::string cookie = login_.Get(generation); !cookie.empty()) {
    request.headers.emplace_back("Cookie", std::move(cookie));
  }
  request.body = envelope;
  ++calls_sent_;
  last_call_ns_ = NowNanos(*options_.clock);
  auto response = transport_->Send(request);
  if (!response.ok()) return response.status().WithContext(std::string(method));
  if (const std::string* set_cookie = response->Header("set-cookie")) {
    if (std::string cookie = SessionCookie(*set_cookie); !cookie.empty()) {
      login_.Set(std::move(cookie));
    }
  }
  const long status = response->status;  // NOLINT(google-runtime-int)
  if (status == 200 || status == 500) return DecodeSoapResponse(response->body, method);
  if (status == 502 || status == 503 || status == 504) {
    return UnavailableError(std::string(method) + ": vCenter answered HTTP " +
                            std::to_string(status) + " (temporarily unavailable)");
  }
  // Some servers put a SOAP fault in other statuses; otherwise it's not a vim25 reply.
  auto decoded = DecodeSoapResponse(response->body, method);
  if (!decoded.ok() && decoded.status().code() != StatusCode::kDataLoss) return decoded;
  return DataLossError(std::string(method) + ": unexpected HTTP " + std::to_string(status) +
                       " from " + request.url);
}

StatusOr<Any> Session::SendRetrying(std::string_view method, const std::string& envelope,
                                    bool idempotent, std::uint64_t* generation) {
  if (!idempotent) return SendOnce(method, envelope, generation);
  std::optional<StatusOr<Any>> last;
  Status status = RetryCall(options_.retry, *options_.clock, backoff_, [&]() {
    last.emplace(SendOnce(method, envelope, generation));
    if (!last->ok() && IsTransient(last->status())) {
      Log()->debug("{}: transient failure, may retry: {}", method, last->status().message());
    }
    return last->status();
  });
  (void)status;
  return std::move(*last);
}

StatusOr<Any> Session::Call(std::string_view method, const MoRef& target, std::string_view params,
                            bool idempotent) {
  if (closed_) return CancelledError(std::string(method) + ": the vCenter session is closed");
  XmlWriter w;
  OpenMethod(w, method, target);
  std::string body = w.Take();
  body += params;
  body += "</";
  body += method;
  body += '>';
  const std::string envelope = SoapEnvelope(body);
  const auto start = options_.clock->Now();
  std::uint64_t generation = 0;
  auto reply = SendRetrying(method, envelope, idempotent, &generation);
  if (!reply.ok() && reply.status().fault() == "NotAuthenticated") {
    // The session expired (idle timeout, server restart): see LoginState.
    VSRAY_RETURN_IF_ERROR(login_.Renew(
        generation, [this] { return Login(); }, "vCenter session"));
    reply = SendRetrying(method, envelope, idempotent, &generation);
  }
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.clock->Now() - start);
  Log()->debug("SOAP {} {}:{} {:.1f} ms {}", method, target.type, target.value,
               static_cast<double>(elapsed.count()) / 1000.0,
               reply.ok() ? std::string("ok") : reply.status().ToString());
  return reply;
}

void Session::KeepaliveLoop() {
  std::unique_lock lock(keepalive_mu_);
  const auto interval = options_.keepalive_interval;
  while (!stop_keepalive_) {
    keepalive_cv_.wait_for(lock, interval / 4, [this] { return stop_keepalive_; });
    if (stop_keepalive_) break;
    const auto idle = std::chrono::nanoseconds(NowNanos(*options_.clock) - last_call_ns_.load());
    if (idle < interval) continue;
    lock.unlock();
    auto reply = Call("CurrentTime", ServiceInstanceRef(), "", true);
    if (!reply.ok()) Log()->warn("vCenter keepalive failed: {}", reply.status().message());
    lock.lock();
  }
}

void Session::Close() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard lock(keepalive_mu_);
    stop_keepalive_ = true;
  }
  keepalive_cv_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
  if (login_count_ == 0 || !transport_) return;
  XmlWriter w;
  OpenMethod(w, "Logout", content_.session_manager);
  w.Close("Logout");
  std::uint64_t generation = 0;
  auto saved = options_.call_timeout;
  options_.call_timeout = std::chrono::milliseconds(5000);
  auto reply = SendOnce("Logout", SoapEnvelope(w.str()), &generation);
  options_.call_timeout = saved;
  if (!reply.ok()) Log()->debug("logout: {}", reply.status().message());
}

}  // namespace vsray::vsphere
