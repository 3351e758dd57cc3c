// vAPI REST client: the vCenter Automation API (session, tagging, content library, OVF deploy).
// Speaks `/api/...` (vSphere 7.0U2+) and falls back to the older `/rest/...` when the server
// has no /api. Mirrors the SOAP Session: one login, the token in a header, a re-login once
// when a call answers 401, retries of idempotent calls on transient failures.
#ifndef VSRAY_VSPHERE_REST_H_
#define VSRAY_VSPHERE_REST_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/retry.h"
#include "common/status.h"
#include "vsphere/login_state.h"
#include "vsphere/session.h"
#include "vsphere/transport.h"

namespace vsray::vsphere {

// Which dialect of the vAPI REST protocol the server speaks.
enum class RestFlavor {
  kApi,   // /api/... : plain JSON bodies and replies, "?action=" (vSphere 7.0U2+)
  kRest,  // /rest/...: bodies like {"create_spec":...}, replies {"value":...}, "id:" paths
};

// A vSphere object as vAPI names it: {"type":"VirtualMachine","id":"vm-1"}.
struct DynamicId {
  std::string type;
  std::string id;

  friend bool operator==(const DynamicId&, const DynamicId&) = default;
};

enum class TagCardinality { kSingle, kMultiple };

struct TagCategory {
  std::string id;  // ignored by CreateCategory
  std::string name;
  std::string description;
  TagCardinality cardinality = TagCardinality::kMultiple;
  // Object types the category's tags may be attached to ("VirtualMachine"); empty = any.
  std::vector<std::string> associable_types;
};

struct Tag {
  std::string id;  // ignored by CreateTag
  std::string name;
  std::string description;
  std::string category_id;
};

// One object and the tags attached to it (list-attached-tags-on-objects).
struct AttachedTags {
  DynamicId object;
  std::vector<std::string> tag_ids;
};

// One tag and the objects it is attached to (list-attached-objects-on-tags).
struct AttachedObjects {
  std::string tag_id;
  std::vector<DynamicId> objects;
};

struct LibraryItem {
  std::string id;
  std::string library_id;
  std::string name;
  std::string type;  // "ovf", "vm-template", ...
};

// Where and how DeployOvf creates the VM.
struct OvfDeploySpec {
  std::string name;              // the new VM's name
  std::string resource_pool_id;  // required ("resgroup-8")
  std::string host_id;           // optional ("host-21")
  std::string folder_id;         // optional ("group-v3")
  std::string datastore_id;      // default datastore ("datastore-11"); optional for the server
  std::string annotation;
  bool accept_all_eula = true;
  // A deploy copies disks and may take long; the call's timeout is the larger of this and
  // ConnectOptions::call_timeout.
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
};

// One vAPI request, as the typed methods build it. Exposed for tests and for callers that
// need a call this class doesn't wrap.
struct RestRequest {
  std::string what;    // what the call does, for errors and logs ("create tag 'gpu'")
  std::string method;  // GET, POST, PATCH, DELETE
  std::string path;    // with query: "/api/cis/tagging/tag?action=list-tags-for-category"
  std::optional<nlohmann::json> body;
  bool idempotent = false;
  std::chrono::milliseconds timeout{0};  // zero: ConnectOptions::call_timeout
};

// Maps a vAPI error reply to a Status. Understands both error shapes:
//   /api : {"error_type":"NOT_FOUND","messages":[{"default_message":"..."}]}
//   /rest: {"type":"com.vmware.vapi.std.errors.not_found","value":{"messages":[...]}}
// The code comes from the vAPI error type when there is one (NOT_FOUND -> NOT_FOUND,
// ALREADY_EXISTS -> ALREADY_EXISTS, UNAUTHENTICATED -> UNAUTHENTICATED, UNAUTHORIZED ->
// PERMISSION_DENIED, INVALID_ARGUMENT -> INVALID_ARGUMENT, SERVICE_UNAVAILABLE -> UNAVAILABLE,
// ...), else from the HTTP status (400, 401, 403, 404, 409, 429, 5xx). fault() is the
// vAPI error type in upper case ("NOT_FOUND"), empty if the reply had none. The message is
// "<what>: <server messages> (HTTP <status> [<TYPE>])".
Status RestErrorStatus(long http_status, std::string_view body,  // NOLINT(google-runtime-int)
                       std::string_view what);

// HTTP Basic credentials ("Basic dXNlcjpwYXNz").
std::string BasicAuthorization(const Credentials& credentials);

class RestClient {
 public:
  // Connects and logs in (POST /api/session, or /rest/com/vmware/cis/session when the server
  // answers 404 on /api). `transport` (else options.transport, else a new libcurl one) may be
  // the SOAP Session's, to share its connections. Errors: INVALID_ARGUMENT (bad server/TLS
  // settings, empty user), UNAUTHENTICATED (wrong user/password, fault "InvalidLogin"; or
  // TLS verification failed), UNAVAILABLE/DEADLINE_EXCEEDED (unreachable), UNIMPLEMENTED
  // (no vAPI endpoint at all), DATA_LOSS (a login reply without a token).
  static StatusOr<std::unique_ptr<RestClient>> Connect(
      ConnectOptions options, std::shared_ptr<HttpTransport> transport = nullptr);

  ~RestClient();  // logs out
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  RestFlavor flavor() const { return flavor_; }
  const ServerAddress& address() const { return address_; }
  int login_count() const { return login_count_.load(); }
  // HTTP requests sent, logins and retries included.
  std::int64_t requests_sent() const { return requests_sent_.load(); }

  // Logs out (DELETE of the session, best effort). Later calls fail with CANCELLED.
  void Close();

  // Sends one request: token header, retry when idempotent, re-login once on 401. Returns the
  // reply's JSON (for /rest paths the content of "value"; null for an empty reply).
  // Errors: RestErrorStatus's codes for HTTP errors; DATA_LOSS when a successful reply is not
  // JSON; CANCELLED after Close; the transport's codes (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
  // Every method below can also return these.
  StatusOr<nlohmann::json> Execute(const RestRequest& request);

  // ---- Tagging: categories ----
  // Ids of all categories.
  StatusOr<std::vector<std::string>> ListCategories();
  // NOT_FOUND if there is no category with that id.
  StatusOr<TagCategory> GetCategory(const std::string& category_id);
  // Returns the new category's id. ALREADY_EXISTS if one has that name; INVALID_ARGUMENT for
  // an empty name. Not retried (not idempotent).
  StatusOr<std::string> CreateCategory(const TagCategory& category);
  // The category named `name` (case-sensitive). NOT_FOUND if none. Costs one list plus one
  // get per category (vAPI has no lookup by name).
  StatusOr<TagCategory> FindCategoryByName(const std::string& name);

  // ---- Tagging: tags ----
  // Ids of the tags in a category. NOT_FOUND if the category doesn't exist (vCenter; the
  // simulator answers an empty list).
  StatusOr<std::vector<std::string>> ListTagsForCategory(const std::string& category_id);
  // NOT_FOUND if there is no tag with that id.
  StatusOr<Tag> GetTag(const std::string& tag_id);
  // Returns the new tag's id. ALREADY_EXISTS if the category has a tag of that name;
  // NOT_FOUND if the category doesn't exist; INVALID_ARGUMENT for an empty name/category.
  StatusOr<std::string> CreateTag(const Tag& tag);
  // The tag named `name` in a category. NOT_FOUND if none (or no such category).
  StatusOr<Tag> FindTagByName(const std::string& category_id, const std::string& name);

  // ---- Tagging: associations ----
  // Attaches/detaches one tag. Idempotent (retried). NOT_FOUND if the tag doesn't exist;
  // PERMISSION_DENIED if the user may not tag the object.
  Status AttachTag(const std::string& tag_id, const DynamicId& object);
  Status DetachTag(const std::string& tag_id, const DynamicId& object);
  // Bulk: one call for many tags on one object. Idempotent. When the server reports failures
  // for some tags: NOT_FOUND if every failure is a missing tag/object, else UNKNOWN; the
  // message lists each failure. Tags without failure were attached/detached.
  Status AttachTagsToObject(const DynamicId& object, const std::vector<std::string>& tag_ids);
  Status DetachTagsFromObject(const DynamicId& object, const std::vector<std::string>& tag_ids);
  // Tag ids attached to one object.
  StatusOr<std::vector<std::string>> ListAttachedTags(const DynamicId& object);
  // Bulk reads: one entry per object (or tag) that has attachments; objects without tags may
  // be left out.
  StatusOr<std::vector<AttachedTags>> ListAttachedTagsOnObjects(
      const std::vector<DynamicId>& objects);
  StatusOr<std::vector<AttachedObjects>> ListAttachedObjectsOnTags(
      const std::vector<std::string>& tag_ids);

  // ---- Content library ----
  // Ids of the libraries named `name` (the server matches case-insensitively).
  StatusOr<std::vector<std::string>> FindLibraries(const std::string& name);
  // The id of the library named `name`: NOT_FOUND if none, FAILED_PRECONDITION if several.
  StatusOr<std::string> FindLibraryByName(const std::string& name);
  // Creates a local library backed by a datastore ("datastore-11"); returns its id.
  // ALREADY_EXISTS if the name is taken. Not retried.
  StatusOr<std::string> CreateLocalLibrary(const std::string& name,
                                           const std::string& datastore_id);
  // Creates an empty item (`type` "ovf", ...) in a library; returns its id. NOT_FOUND if the
  // library doesn't exist; ALREADY_EXISTS if it has an item of that name. Not retried.
  StatusOr<std::string> CreateLibraryItem(const std::string& library_id, const std::string& name,
                                          const std::string& type);
  // Ids of the items named `name` in library `library_id`, or in every library when it is "".
  StatusOr<std::vector<std::string>> FindLibraryItems(const std::string& name,
                                                      const std::string& library_id = "");
  // The id of the item named `name` in a library: NOT_FOUND if none, FAILED_PRECONDITION if
  // several.
  StatusOr<std::string> FindLibraryItemByName(const std::string& library_id,
                                              const std::string& name);
  // NOT_FOUND if there is no item with that id.
  StatusOr<LibraryItem> GetLibraryItem(const std::string& item_id);
  // Deploys an OVF library item as a new VM; returns the VM ({"VirtualMachine","vm-42"}).
  // Not retried. NOT_FOUND if the item doesn't exist; INVALID_ARGUMENT for a spec without
  // name or resource pool; when the server reports the deploy failed: the code of its first
  // error's class if it is a standard vAPI error, else UNKNOWN, with fault "OvfDeployFailed"
  // and every error message of the deploy in the message.
  StatusOr<DynamicId> DeployOvf(const std::string& library_item_id, const OvfDeploySpec& spec);

 private:
  explicit RestClient(ConnectOptions options);
  // The bulk attach/detach of several tags to one object; `what` prefixes the object's name
  // in messages.
  Status ChangeTagsOnObject(const std::string& what, std::string_view action,
                            const DynamicId& object, const std::vector<std::string>& tag_ids);
  Status Init();
  // Logs in with the current flavor (choosing it on the first login). Runs under login_.
  Status Login();
  // Outcome of one HTTP exchange: the decoded reply or error, and the HTTP status (0 if the
  // request never got an answer).
  struct Outcome {
    StatusOr<nlohmann::json> result;
    long http_status = 0;  // NOLINT(google-runtime-int)
  };
  // `login`: send the Basic credentials instead of the session token.
  Outcome SendOnce(const RestRequest& request, bool login, std::uint64_t* generation);
  Outcome SendRetrying(const RestRequest& request, bool login, std::uint64_t* generation);
  // Replaces the password and session tokens in text that reaches a Status or a log.
  std::string Redact(std::string text) const;
  Status Redacted(const Status& status) const;

  bool api() const { return flavor_ == RestFlavor::kApi; }
  // "/api/cis/tagging/category/ID" or "/rest/com/vmware/cis/tagging/category/id:ID".
  std::string ResourcePath(std::string_view api_base, std::string_view rest_base,
                           const std::string& id) const;

  ConnectOptions options_;
  ServerAddress address_;
  std::shared_ptr<HttpTransport> transport_;
  // Chosen by the first login (inside Connect, before the client is shared), fixed afterwards.
  RestFlavor flavor_ = RestFlavor::kApi;
  bool flavor_chosen_ = false;
  ExponentialBackoff backoff_;

  LoginState login_;  // the session token
  mutable std::mutex old_tokens_mu_;
  std::vector<std::string> old_tokens_;  // for redaction; bounded

  std::atomic<int> login_count_{0};
  std::atomic<std::int64_t> requests_sent_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_REST_H_
