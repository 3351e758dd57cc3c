#include "vsphere/rest.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <utility>

#include "common/log.h"

namespace vsray::vsphere {
namespace {

using nlohmann::json;

constexpr std::string_view kTokenHeader = "vmware-api-session-id";
constexpr std::string_view kRestErrorPrefix = "com.vmware.vapi.std.errors.";
constexpr std::size_t kMaxOldTokens = 8;

// A reply whose JSON doesn't have the shape the call expects.
class ShapeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// The start of a reply body, on one line, for error messages.
std::string Excerpt(std::string_view body, std::size_t limit = 120) {
  std::string out;
  for (char c : body.substr(0, limit)) {
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > limit) out += "...";
  return out;
}

// Encodes one path segment (an id); ':' and '@' may stay (RFC 3986 pchar).
std::string EncodeSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' ||
        c == '@') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

// "com.vmware.vapi.std.errors.not_found" -> "NOT_FOUND"; other names are upper-cased.
std::string ErrorTypeFromClass(std::string_view type) {
  if (type.starts_with(kRestErrorPrefix)) type.remove_prefix(kRestErrorPrefix.size());
  return Upper(type);
}

std::optional<StatusCode> CodeForErrorType(std::string_view type) {
  static constexpr auto kCodes = std::to_array<std::pair<std::string_view, StatusCode>>({
      {"NOT_FOUND", StatusCode::kNotFound},
      {"ALREADY_EXISTS", StatusCode::kAlreadyExists},
      {"ALREADY_IN_DESIRED_STATE", StatusCode::kAlreadyExists},
      {"UNAUTHENTICATED", StatusCode::kUnauthenticated},
      {"UNVERIFIED_PEER", StatusCode::kUnauthenticated},
      {"UNAUTHORIZED", StatusCode::kPermissionDenied},
      {"INVALID_ARGUMENT", StatusCode::kInvalidArgument},
      {"INVALID_ELEMENT_TYPE", StatusCode::kInvalidArgument},
      {"INVALID_ELEMENT_CONFIGURATION", StatusCode::kInvalidArgument},
      {"INVALID_REQUEST", StatusCode::kInvalidArgument},
      {"UNEXPECTED_INPUT", StatusCode::kInvalidArgument},
      {"SERVICE_UNAVAILABLE", StatusCode::kUnavailable},
      {"RESOURCE_BUSY", StatusCode::kUnavailable},
      {"RESOURCE_INACCESSIBLE", StatusCode::kUnavailable},
      {"TIMED_OUT", StatusCode::kDeadlineExceeded},
      {"CONCURRENT_CHANGE", StatusCode::kAborted},
      {"UNABLE_TO_ALLOCATE_RESOURCE", StatusCode::kResourceExhausted},
      {"NOT_ALLOWED_IN_CURRENT_STATE", StatusCode::kFailedPrecondition},
      {"RESOURCE_IN_USE", StatusCode::kFailedPrecondition},
      {"FEATURE_IN_USE", StatusCode::kFailedPrecondition},
      {"UNSUPPORTED", StatusCode::kUnimplemented},
      {"OPERATION_NOT_FOUND", StatusCode::kUnimplemented},
      {"CANCELED", StatusCode::kCancelled},
      {"INTERNAL_SERVER_ERROR", StatusCode::kInternal},
      {"ERROR", StatusCode::kUnknown},
  });
  for (const auto& [name, code] : kCodes) {
    if (name == type) return code;
  }
  return std::nullopt;
}

StatusCode CodeForHttpStatus(long status) {  // NOLINT(google-runtime-int)
  switch (status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAlreadyExists;
    case 429:
      return StatusCode::kResourceExhausted;
    case 501:
      return StatusCode::kUnimplemented;
    case 502:
    case 503:
    case 504:
      return StatusCode::kUnavailable;
    default:
      return status >= 500 ? StatusCode::kInternal : StatusCode::kUnknown;
  }
}

// Text of a vAPI message list: LocalizableMessage objects or plain strings.
std::string MessagesText(const json& messages) {
  std::string out;
  auto add = [&out](const std::string& text) {
    if (text.empty()) return;
    if (!out.empty()) out += "; ";
    out += text;
  };
  if (messages.is_string()) add(messages.get<std::string>());
  if (!messages.is_array()) return out;
  for (const json& m : messages) {
    if (m.is_string()) {
      add(m.get<std::string>());
    } else if (m.is_object()) {
      for (const char* key : {"default_message", "localized", "id"}) {
        auto it = m.find(key);
        if (it != m.end() && it->is_string() && !it->get<std::string>().empty()) {
          add(it->get<std::string>());
          break;
        }
      }
    }
  }
  return out;
}

// ---- JSON shape helpers: they throw ShapeError or json::exception, caught by Decode. ----

const json& Member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) throw ShapeError(std::string("expected an object with '") + key + "'");
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string Str(const json& object, const char* key) {
  const json& value = Member(object, key);
  return value.is_null() ? std::string() : value.get<std::string>();
}

std::vector<std::string> StrList(const json& list) {
  std::vector<std::string> out;
  if (list.is_null()) return out;
  if (!list.is_array()) throw ShapeError("expected a list of strings");
  for (const json& item : list) out.push_back(item.get<std::string>());
  return out;
}

DynamicId ToDynamicId(const json& object) { return {Str(object, "type"), Str(object, "id")}; }

json FromDynamicId(const DynamicId& id) { return json{{"type", id.type}, {"id", id.id}}; }

const json& List(const json& list) {
  static const json kEmpty = json::array();
  if (list.is_null()) return kEmpty;
  if (!list.is_array()) throw ShapeError("expected a list");
  return list;
}

// Runs a decoder over a reply; shape mismatches become DATA_LOSS naming the call.
template <typename F>
auto Decode(const RestRequest& request, F&& decoder) -> decltype(decoder()) {
  try {
    return decoder();
  } catch (const std::exception& e) {
    return DataLossError(request.what + ": unexpected reply to " + request.method + " " +
                         request.path + ": " + e.what());
  }
}

std::string CardinalityName(TagCardinality cardinality) {
  return cardinality == TagCardinality::kSingle ? "SINGLE" : "MULTIPLE";
}

TagCategory ToCategory(const json& j) {
  TagCategory category;
  category.id = Str(j, "id");
  category.name = Str(j, "name");
  category.description = Str(j, "description");
  category.cardinality =
      Str(j, "cardinality") == "SINGLE" ? TagCardinality::kSingle : TagCardinality::kMultiple;
  category.associable_types = StrList(Member(j, "associable_types"));
  return category;
}

Tag ToTag(const json& j) {
  return {Str(j, "id"), Str(j, "name"), Str(j, "description"), Str(j, "category_id")};
}

// Status for a failed BatchResult ({"success":false,"error_messages":[...]}), OK otherwise.
Status BatchStatus(const json& reply, const std::string& what) {
  if (reply.is_null()) return OkStatus();
  const json& errors = Member(reply, "error_messages");
  const json& success = Member(reply, "success");
  const bool ok = success.is_boolean() ? success.get<bool>() : List(errors).empty();
  if (ok) return OkStatus();
  bool all_not_found = !List(errors).empty();
  for (const json& e : List(errors)) {
    std::string id = e.is_object() ? Lower(Str(e, "id")) : "";
    id.erase(std::remove(id.begin(), id.end(), '_'), id.end());
    if (id.find("notfound") == std::string::npos) all_not_found = false;
  }
  std::string text = MessagesText(errors);
  if (text.empty()) text = "the server reported a failure without details";
  return {all_not_found ? StatusCode::kNotFound : StatusCode::kUnknown, what + ": " + text};
}

// The messages of one entry of a deploy result's error list, and its error type (if any).
void CollectDeployError(const json& entry, std::vector<std::string>& messages,
                        std::string& first_type) {
  const auto add = [&messages](std::string text) {
    if (!text.empty()) messages.push_back(std::move(text));
  };
  const json& inner = Member(entry, "error");
  if (inner.is_object()) {
    std::string type = Str(inner, "@class");
    if (type.empty()) type = Str(inner, "error_type");
    if (first_type.empty()) first_type = ErrorTypeFromClass(type);
    add(MessagesText(Member(inner, "messages")));
  }
  const json& message = Member(entry, "message");
  if (message.is_object()) add(MessagesText(json::array({message})));
  for (const json& issue : List(Member(entry, "issues"))) {
    if (issue.is_object()) add(MessagesText(json::array({Member(issue, "message")})));
  }
}

// Status for a failed OVF deployment result ({"succeeded":false,"error":{"errors":[...]}}).
Status DeployFailure(const json& result, const std::string& what) {
  std::vector<std::string> messages;
  std::string first_type;
  const json& error = Member(result, "error");
  if (error.is_object()) {
    for (const json& entry : List(Member(error, "errors"))) {
      if (entry.is_object()) CollectDeployError(entry, messages, first_type);
    }
  }
  std::string text;
  for (const auto& m : messages) text += (text.empty() ? "" : "; ") + m;
  if (text.empty()) text = "the server reported the deploy failed, without details";
  Status status(CodeForErrorType(first_type).value_or(StatusCode::kUnknown), what + ": " + text);
  status.set_fault("OvfDeployFailed");
  return status;
}

// The vAPI error type and messages of an error reply, in either dialect:
//   /api : {"error_type": "...", "messages": [...]}
//   /rest: {"type": "com.vmware.vapi.std.errors.x", "value": {"messages": [...]}}
void ReadErrorReply(const json& reply, std::string& type, std::string& text) {
  const auto string_at = [](const json& object, const char* key) -> const json* {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? &*it : nullptr;
  };
  if (const json* t = string_at(reply, "error_type")) type = Upper(t->get<std::string>());
  if (auto it = reply.find("messages"); it != reply.end()) text = MessagesText(*it);
  if (const json* t = string_at(reply, "type"); type.empty() && t != nullptr) {
    type = ErrorTypeFromClass(t->get<std::string>());
  }
  auto value = reply.find("value");
  if (value == reply.end() || !value->is_object()) return;
  if (auto m = value->find("messages"); text.empty() && m != value->end()) text = MessagesText(*m);
  if (const json* t = string_at(*value, "error_type"); type.empty() && t != nullptr) {
    type = Upper(t->get<std::string>());
  }
}

}  // namespace

Status RestErrorStatus(long http_status, std::string_view body,  // NOLINT(google-runtime-int)
                       std::string_view what) {
  std::string type;
  std::string text;
  const json reply = json::parse(body, nullptr, false);
  if (!reply.is_discarded() && reply.is_object()) {
    ReadErrorReply(reply, type, text);
  } else if (!IsBlank(body)) {
    text = Excerpt(body);
  }
  const StatusCode code = CodeForErrorType(type).value_or(CodeForHttpStatus(http_status));
  if (text.empty()) {
    text = type.empty() ? "the server gave no details" : "the server reported " + type;
  }
  std::string message = std::string(what) + ": " + text + " (HTTP " + std::to_string(http_status);
  if (!type.empty()) message += " " + type;
  message += ")";
  Status status(code, std::move(message));
  if (!type.empty()) status.set_fault(type);
  return status;
}

std::string BasicAuthorization(const Credentials& credentials) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = credentials.user + ":" + credentials.password;
  std::string out = "Basic ";
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Session

RestClient::RestClient(ConnectOptions options)
    : options_(std::move(options)), backoff_(options_.retry.backoff) {}

RestClient::~RestClient() { Close(); }

StatusOr<std::unique_ptr<RestClient>> RestClient::Connect(
    ConnectOptions options, std::shared_ptr<HttpTransport> transport) {
  if (transport) options.transport = std::move(transport);
  std::unique_ptr<RestClient> client(new RestClient(std::move(options)));
  VSRAY_RETURN_IF_ERROR(client->Init());
  return client;
}

Status RestClient::Init() {
  VSRAY_ASSIGN_OR_RETURN(address_, PrepareConnection(options_));
  transport_ = options_.transport;
  return login_.Login([this] { return Login(); });
}

Status RestClient::Login() {
  // A stale token must not be sent, and stays known for redaction.
  if (std::string old = login_.Clear(); !old.empty()) {
    std::lock_guard lock(old_tokens_mu_);
    old_tokens_.push_back(std::move(old));
    if (old_tokens_.size() > kMaxOldTokens) old_tokens_.erase(old_tokens_.begin());
  }
  const std::string what = "vAPI login to " + address_.HostPort();
  auto attempt = [&](RestFlavor flavor) {
    RestRequest request;
    request.what = what;
    request.method = "POST";
    request.path = flavor == RestFlavor::kApi ? "/api/session" : "/rest/com/vmware/cis/session";
    request.idempotent = true;  // an extra session is harmless; a lost one is retried
    std::uint64_t generation = 0;
    return SendRetrying(request, /*login=*/true, &generation);
  };

  Outcome outcome{UnknownError("no login attempted"), 0};
  if (flavor_chosen_) {
    // Re-login: the flavor is fixed (other threads read it without a lock).
    outcome = attempt(flavor_);
  } else {
    outcome = attempt(RestFlavor::kApi);
    if (outcome.http_status == 404) {
      Log()->debug("{} has no /api/session; using /rest", address_.HostPort());
      outcome = attempt(RestFlavor::kRest);
      if (outcome.http_status == 404) {
        return UnimplementedError("vCenter " + address_.HostPort() +
                                  " has no vAPI REST endpoint (HTTP 404 on /api/session and "
                                  "/rest/com/vmware/cis/session)");
      }
      flavor_ = RestFlavor::kRest;
    }
  }
  if (outcome.http_status == 401) {
    Status status = UnauthenticatedError(
        "vCenter " + address_.HostPort() + " refused the vAPI login of user '" +
        options_.credentials.user + "': wrong user name or password");
    status.set_fault("InvalidLogin");
    return status;
  }
  if (!outcome.result.ok()) return outcome.result.status();
  const json& reply = *outcome.result;
  if (!reply.is_string() || reply.get<std::string>().empty()) {
    return DataLossError(what + ": the reply has no session token");
  }
  login_.Set(reply.get<std::string>());
  login_.Commit();
  flavor_chosen_ = true;  // only ever read during a login (one at a time)
  ++login_count_;
  Log()->debug("vAPI session opened on {} ({}) as {}", address_.HostPort(),
               api() ? "/api" : "/rest", options_.credentials.user);
  return OkStatus();
}

std::string RestClient::Redact(std::string text) const {
  auto scrub = [&text](const std::string& secret) {
    if (secret.empty()) return;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  };
  scrub(options_.credentials.password);
  std::uint64_t generation = 0;
  scrub(login_.Get(&generation));
  std::lock_guard lock(old_tokens_mu_);
  for (const auto& old : old_tokens_) scrub(old);
  return text;
}

Status RestClient::Redacted(const Status& status) const {
  if (status.ok()) return status;
  Status out(status.code(), Redact(status.message()));
  out.set_fault(status.fault());
  return out;
}

RestClient::Outcome RestClient::SendOnce(const RestRequest& request, bool login,
                                         std::uint64_t* generation) {
  HttpRequest http =
      RequestWithLimits(options_, request.method, address_.Url(request.path), request.what);
  http.timeout = request.timeout.count() > 0 ? std::max(request.timeout, options_.call_timeout)
                                             : options_.call_timeout;
  http.headers.emplace_back("Accept", "application/json");
  if (request.body) {
    http.headers.emplace_back("Content-Type", "application/json");
    http.body = request.body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (login) {
    http.headers.emplace_back("Authorization", BasicAuthorization(options_.credentials));
    // /rest: answer with the token in the body instead of a cookie.
    http.headers.emplace_back("vmware-use-header-authn", "true");
  } else {
    if (std::string token = login_.Get(generation); !token.empty()) {
      http.headers.emplace_back(std::string(kTokenHeader), std::move(token));
    }
  }
  ++requests_sent_;
  auto response = transport_->Send(http);
  if (!response.ok()) return {Redacted(response.status().WithContext(request.what)), 0};
  const long status = response->status;  // NOLINT(google-runtime-int)
  if (status < 200 || status >= 300) {
    return {Redacted(RestErrorStatus(status, response->body, request.what)), status};
  }
  if (IsBlank(response->body)) return {json(nullptr), status};
  json reply = json::parse(response->body, nullptr, false);
  if (reply.is_discarded()) {
    return {Redacted(DataLossError(request.what + ": the reply to " + request.method + " " +
                                   request.path + " is not JSON (HTTP " + std::to_string(status) +
                                   "): " + Excerpt(response->body, 60))),
            status};
  }
  if (request.path.starts_with("/rest/") && reply.is_object()) {
    // /rest wraps results in {"value": ...}; a reply without it carries no result.
    auto it = reply.find("value");
    return {it == reply.end() ? json(nullptr) : std::move(*it), status};
  }
  return {std::move(reply), status};
}

RestClient::Outcome RestClient::SendRetrying(const RestRequest& request, bool login,
                                             std::uint64_t* generation) {
  if (!request.idempotent) return SendOnce(request, login, generation);
  std::optional<Outcome> last;
  (void)RetryCall(options_.retry, *options_.clock, backoff_, [&]() {
    last.emplace(SendOnce(request, login, generation));
    Status status = last->result.status();
    if (!status.ok() && IsTransient(status)) {
      Log()->debug("{}: transient failure, may retry: {}", request.what, status.message());
    }
    return status;
  });
  return std::move(*last);
}

StatusOr<json> RestClient::Execute(const RestRequest& request) {
  if (closed_) return CancelledError(request.what + ": the vAPI session is closed");
  const auto start = options_.clock->Now();
  std::uint64_t generation = 0;
  Outcome outcome = SendRetrying(request, /*login=*/false, &generation);
  if (outcome.http_status == 401) {
    // The session expired or was dropped: see LoginState.
    VSRAY_RETURN_IF_ERROR(login_.Renew(
        generation, [this] { return Login(); }, "vAPI session on " + address_.HostPort()));
    outcome = SendRetrying(request, /*login=*/false, &generation);
  }
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.clock->Now() - start);
  Log()->debug("REST {} {} ({}) {:.1f} ms {}", request.method, request.path, request.what,
               static_cast<double>(elapsed.count()) / 1000.0,
               outcome.result.ok() ? std::string("ok") : outcome.result.status().ToString());
  return std::move(outcome.result);
}

void RestClient::Close() {
  if (closed_.exchange(true)) return;
  std::uint64_t generation = 0;
  const std::string token = login_.Get(&generation);
  if (token.empty() || !transport_) return;
  HttpRequest http;
  http.method = "DELETE";
  http.url = address_.Url(api() ? "/api/session" : "/rest/com/vmware/cis/session");
  http.timeout = std::chrono::milliseconds(5000);
  http.headers = {{"Accept", "application/json"}, {std::string(kTokenHeader), token}};
  ++requests_sent_;
  auto response = transport_->Send(http);
  if (!response.ok()) {
    Log()->debug("vAPI logout: {}", Redact(response.status().message()));
  } else if (response->status / 100 != 2 && response->status != 401) {
    Log()->debug("vAPI logout: HTTP {}", response->status);
  }
}

std::string RestClient::ResourcePath(std::string_view api_base, std::string_view rest_base,
                                     const std::string& id) const {
  return api() ? std::string(api_base) + "/" + EncodeSegment(id)
               : std::string(rest_base) + "/id:" + EncodeSegment(id);
}

namespace {

constexpr std::string_view kApiCategory = "/api/cis/tagging/category";
constexpr std::string_view kRestCategory = "/rest/com/vmware/cis/tagging/category";
constexpr std::string_view kApiTag = "/api/cis/tagging/tag";
constexpr std::string_view kRestTag = "/rest/com/vmware/cis/tagging/tag";
constexpr std::string_view kApiAssociation = "/api/cis/tagging/tag-association";
constexpr std::string_view kRestAssociation = "/rest/com/vmware/cis/tagging/tag-association";
constexpr std::string_view kApiLibrary = "/api/content/library";
constexpr std::string_view kRestLibrary = "/rest/com/vmware/content/library";
constexpr std::string_view kApiLocalLibrary = "/api/content/local-library";
constexpr std::string_view kRestLocalLibrary = "/rest/com/vmware/content/local-library";
constexpr std::string_view kApiLibraryItem = "/api/content/library/item";
constexpr std::string_view kRestLibraryItem = "/rest/com/vmware/content/library/item";
constexpr std::string_view kApiOvfItem = "/api/vcenter/ovf/library-item";
constexpr std::string_view kRestOvfItem = "/rest/com/vmware/vcenter/ovf/library-item";

std::string Quoted(const std::string& name) { return "'" + name + "'"; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Tagging

StatusOr<std::vector<std::string>> RestClient::ListCategories() {
  RestRequest r{"list tag categories", "GET", std::string(api() ? kApiCategory : kRestCategory),
                std::nullopt,          true,  {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<std::string>> { return StrList(reply); });
}

StatusOr<TagCategory> RestClient::GetCategory(const std::string& category_id) {
  RestRequest r{"get tag category " + category_id,
                "GET",
                ResourcePath(kApiCategory, kRestCategory, category_id),
                std::nullopt,
                true,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<TagCategory> { return ToCategory(reply); });
}

StatusOr<std::string> RestClient::CreateCategory(const TagCategory& category) {
  if (category.name.empty()) return InvalidArgumentError("create tag category: empty name");
  json spec = {{"name", category.name},
               {"description", category.description},
               {"cardinality", CardinalityName(category.cardinality)},
               {"associable_types", category.associable_types}};
  RestRequest r{"create tag category " + Quoted(category.name),
                "POST",
                std::string(api() ? kApiCategory : kRestCategory),
                api() ? spec : json{{"create_spec", spec}},
                false,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::string> { return reply.get<std::string>(); });
}

StatusOr<TagCategory> RestClient::FindCategoryByName(const std::string& name) {
  VSRAY_ASSIGN_OR_RETURN(auto ids, ListCategories());
  for (const auto& id : ids) {
    auto category = GetCategory(id);
    if (!category.ok() && category.status().code() == StatusCode::kNotFound) continue;
    if (!category.ok()) return category.status();
    if (category->name == name) return category;
  }
  return NotFoundError("no tag category named " + Quoted(name) + " on " + address_.HostPort());
}

StatusOr<std::vector<std::string>> RestClient::ListTagsForCategory(const std::string& category_id) {
  RestRequest r{"list tags of category " + category_id, "POST", "", std::nullopt, true, {}};
  if (api()) {
    r.path = std::string(kApiTag) + "?action=list-tags-for-category";
    r.body = json{{"category_id", category_id}};
  } else {
    r.path = ResourcePath(kApiTag, kRestTag, category_id) + "?~action=list-tags-for-category";
  }
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<std::string>> { return StrList(reply); });
}

StatusOr<Tag> RestClient::GetTag(const std::string& tag_id) {
  RestRequest r{"get tag " + tag_id, "GET", ResourcePath(kApiTag, kRestTag, tag_id),
                std::nullopt,        true,  {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<Tag> { return ToTag(reply); });
}

StatusOr<std::string> RestClient::CreateTag(const Tag& tag) {
  if (tag.name.empty() || tag.category_id.empty()) {
    return InvalidArgumentError("create tag: name and category id are required");
  }
  json spec = {
      {"name", tag.name}, {"description", tag.description}, {"category_id", tag.category_id}};
  RestRequest r{"create tag " + Quoted(tag.name) + " in category " + tag.category_id,
                "POST",
                std::string(api() ? kApiTag : kRestTag),
                api() ? spec : json{{"create_spec", spec}},
                false,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::string> { return reply.get<std::string>(); });
}

StatusOr<Tag> RestClient::FindTagByName(const std::string& category_id, const std::string& name) {
  VSRAY_ASSIGN_OR_RETURN(auto ids, ListTagsForCategory(category_id));
  for (const auto& id : ids) {
    auto tag = GetTag(id);
    if (!tag.ok() && tag.status().code() == StatusCode::kNotFound) continue;
    if (!tag.ok()) return tag.status();
    if (tag->name == name) return tag;
  }
  return NotFoundError("no tag named " + Quoted(name) + " in category " + category_id + " on " +
                       address_.HostPort());
}

Status RestClient::AttachTag(const std::string& tag_id, const DynamicId& object) {
  RestRequest r{"attach tag " + tag_id + " to " + object.type + ":" + object.id,
                "POST",
                ResourcePath(kApiAssociation, kRestAssociation, tag_id) +
                    (api() ? "?action=attach" : "?~action=attach"),
                json{{"object_id", FromDynamicId(object)}},
                true,
                {}};
  return Execute(r).status();
}

Status RestClient::DetachTag(const std::string& tag_id, const DynamicId& object) {
  RestRequest r{"detach tag " + tag_id + " from " + object.type + ":" + object.id,
                "POST",
                ResourcePath(kApiAssociation, kRestAssociation, tag_id) +
                    (api() ? "?action=detach" : "?~action=detach"),
                json{{"object_id", FromDynamicId(object)}},
                true,
                {}};
  return Execute(r).status();
}

Status RestClient::AttachTagsToObject(const DynamicId& object,
                                      const std::vector<std::string>& tag_ids) {
  return ChangeTagsOnObject("attach " + std::to_string(tag_ids.size()) + " tags to ",
                            "attach-multiple-tags-to-object", object, tag_ids);
}

Status RestClient::DetachTagsFromObject(const DynamicId& object,
                                        const std::vector<std::string>& tag_ids) {
  return ChangeTagsOnObject("detach " + std::to_string(tag_ids.size()) + " tags from ",
                            "detach-multiple-tags-from-object", object, tag_ids);
}

Status RestClient::ChangeTagsOnObject(const std::string& what, std::string_view action,
                                      const DynamicId& object,
                                      const std::vector<std::string>& tag_ids) {
  RestRequest r{what + object.type + ":" + object.id,
                "POST",
                std::string(api() ? kApiAssociation : kRestAssociation) +
                    (api() ? "?action=" : "?~action=") + std::string(action),
                json{{"object_id", FromDynamicId(object)}, {"tag_ids", tag_ids}},
                true,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r,
                [&]() -> StatusOr<bool> {
                  VSRAY_RETURN_IF_ERROR(Redacted(BatchStatus(reply, r.what)));
                  return true;
                })
      .status();
}

StatusOr<std::vector<std::string>> RestClient::ListAttachedTags(const DynamicId& object) {
  RestRequest r{"list tags attached to " + object.type + ":" + object.id,
                "POST",
                std::string(api() ? kApiAssociation : kRestAssociation) +
                    (api() ? "?action=" : "?~action=") + "list-attached-tags",
                json{{"object_id", FromDynamicId(object)}},
                true,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<std::string>> { return StrList(reply); });
}

StatusOr<std::vector<AttachedTags>> RestClient::ListAttachedTagsOnObjects(
    const std::vector<DynamicId>& objects) {
  json ids = json::array();
  for (const auto& object : objects) ids.push_back(FromDynamicId(object));
  RestRequest r{"list tags attached to " + std::to_string(objects.size()) + " objects",
                "POST",
                std::string(api() ? kApiAssociation : kRestAssociation) +
                    (api() ? "?action=" : "?~action=") + "list-attached-tags-on-objects",
                json{{"object_ids", std::move(ids)}},
                true,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<AttachedTags>> {
    std::vector<AttachedTags> out;
    for (const json& entry : List(reply)) {
      out.push_back({ToDynamicId(Member(entry, "object_id")), StrList(Member(entry, "tag_ids"))});
    }
    return out;
  });
}

StatusOr<std::vector<AttachedObjects>> RestClient::ListAttachedObjectsOnTags(
    const std::vector<std::string>& tag_ids) {
  RestRequest r{"list objects attached to " + std::to_string(tag_ids.size()) + " tags",
                "POST",
                std::string(api() ? kApiAssociation : kRestAssociation) +
                    (api() ? "?action=" : "?~action=") + "list-attached-objects-on-tags",
                json{{"tag_ids", tag_ids}},
                true,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<AttachedObjects>> {
    std::vector<AttachedObjects> out;
    for (const json& entry : List(reply)) {
      AttachedObjects attached;
      attached.tag_id = Str(entry, "tag_id");
      for (const json& object : List(Member(entry, "object_ids"))) {
        attached.objects.push_back(ToDynamicId(object));
      }
      out.push_back(std::move(attached));
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Content library

StatusOr<std::vector<std::string>> RestClient::FindLibraries(const std::string& name) {
  json spec = {{"name", name}};
  RestRequest r{
      "find content library " + Quoted(name),
      "POST",
      std::string(api() ? kApiLibrary : kRestLibrary) + (api() ? "?action=find" : "?~action=find"),
      api() ? spec : json{{"spec", spec}},
      true,
      {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<std::string>> { return StrList(reply); });
}

StatusOr<std::string> RestClient::FindLibraryByName(const std::string& name) {
  VSRAY_ASSIGN_OR_RETURN(auto ids, FindLibraries(name));
  if (ids.empty()) {
    return NotFoundError("no content library named " + Quoted(name) + " on " + address_.HostPort());
  }
  if (ids.size() > 1) {
    return FailedPreconditionError(std::to_string(ids.size()) + " content libraries are named " +
                                   Quoted(name) + " on " + address_.HostPort());
  }
  return ids.front();
}

StatusOr<std::string> RestClient::CreateLocalLibrary(const std::string& name,
                                                     const std::string& datastore_id) {
  if (name.empty() || datastore_id.empty()) {
    return InvalidArgumentError("create content library: name and datastore are required");
  }
  json spec = {
      {"name", name},
      {"type", "LOCAL"},
      {"storage_backings", json::array({{{"type", "DATASTORE"}, {"datastore_id", datastore_id}}})}};
  RestRequest r{"create content library " + Quoted(name),
                "POST",
                std::string(api() ? kApiLocalLibrary : kRestLocalLibrary),
                api() ? spec : json{{"create_spec", spec}},
                false,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::string> { return reply.get<std::string>(); });
}

StatusOr<std::string> RestClient::CreateLibraryItem(const std::string& library_id,
                                                    const std::string& name,
                                                    const std::string& type) {
  if (library_id.empty() || name.empty()) {
    return InvalidArgumentError("create content library item: library and name are required");
  }
  json spec = {{"library_id", library_id}, {"name", name}, {"type", type}};
  RestRequest r{"create item " + Quoted(name) + " in content library " + library_id,
                "POST",
                std::string(api() ? kApiLibraryItem : kRestLibraryItem),
                api() ? spec : json{{"create_spec", spec}},
                false,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::string> { return reply.get<std::string>(); });
}

StatusOr<std::vector<std::string>> RestClient::FindLibraryItems(const std::string& name,
                                                                const std::string& library_id) {
  json spec = {{"name", name}};
  if (!library_id.empty()) spec["library_id"] = library_id;
  RestRequest r{
      "find item " + Quoted(name) +
          (library_id.empty() ? " in any content library" : " in content library " + library_id),
      "POST",
      std::string(api() ? kApiLibraryItem : kRestLibraryItem) +
          (api() ? "?action=find" : "?~action=find"),
      api() ? spec : json{{"spec", spec}},
      true,
      {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<std::vector<std::string>> { return StrList(reply); });
}

StatusOr<std::string> RestClient::FindLibraryItemByName(const std::string& library_id,
                                                        const std::string& name) {
  VSRAY_ASSIGN_OR_RETURN(auto ids, FindLibraryItems(name, library_id));
  if (ids.empty()) {
    return NotFoundError("no item named " + Quoted(name) + " in content library " + library_id);
  }
  if (ids.size() > 1) {
    return FailedPreconditionError(std::to_string(ids.size()) + " items are named " + Quoted(name) +
                                   " in content library " + library_id);
  }
  return ids.front();
}

StatusOr<LibraryItem> RestClient::GetLibraryItem(const std::string& item_id) {
  RestRequest r{"get content library item " + item_id,
                "GET",
                ResourcePath(kApiLibraryItem, kRestLibraryItem, item_id),
                std::nullopt,
                true,
                {}};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<LibraryItem> {
    return LibraryItem{Str(reply, "id"), Str(reply, "library_id"), Str(reply, "name"),
                       Str(reply, "type")};
  });
}

StatusOr<DynamicId> RestClient::DeployOvf(const std::string& library_item_id,
                                          const OvfDeploySpec& spec) {
  if (spec.name.empty() || spec.resource_pool_id.empty()) {
    return InvalidArgumentError("deploy OVF library item " + library_item_id +
                                ": the VM name and resource pool are required");
  }
  json target = {{"resource_pool_id", spec.resource_pool_id}};
  if (!spec.host_id.empty()) target["host_id"] = spec.host_id;
  if (!spec.folder_id.empty()) target["folder_id"] = spec.folder_id;
  json deployment = {{"name", spec.name}, {"accept_all_EULA", spec.accept_all_eula}};
  if (!spec.datastore_id.empty()) deployment["default_datastore_id"] = spec.datastore_id;
  if (!spec.annotation.empty()) deployment["annotation"] = spec.annotation;
  RestRequest r{"deploy OVF library item " + library_item_id + " as " + Quoted(spec.name),
                "POST",
                ResourcePath(kApiOvfItem, kRestOvfItem, library_item_id) +
                    (api() ? "?action=deploy" : "?~action=deploy"),
                json{{"target", std::move(target)}, {"deployment_spec", std::move(deployment)}},
                false,
                spec.timeout};
  VSRAY_ASSIGN_OR_RETURN(json reply, Execute(r));
  return Decode(r, [&]() -> StatusOr<DynamicId> {
    const json& succeeded = Member(reply, "succeeded");
    if (!succeeded.is_boolean() || !succeeded.get<bool>()) {
      return Redacted(DeployFailure(reply, r.what));
    }
    DynamicId vm = ToDynamicId(Member(reply, "resource_id"));
    if (vm.id.empty()) throw ShapeError("a successful deploy without resource_id");
    return vm;
  });
}

}  // namespace vsray::vsphere
