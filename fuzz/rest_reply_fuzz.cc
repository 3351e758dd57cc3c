// libFuzzer target: the vAPI REST client must never crash, hang or leak on any reply a server
// gives (any status, any body), for every kind of reply it decodes: lists of ids, categories,
// tags, bulk attachment lists, library items, deploy results, batch and error replies.
// Input: byte 0 picks the HTTP status, byte 1 the call, the rest is the reply body.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "vsphere/rest.h"
#include "vsphere/transport.h"

namespace {

using vsray::StatusOr;
using vsray::vsphere::HttpRequest;
using vsray::vsphere::HttpResponse;
using vsray::vsphere::RestClient;

// Logins succeed; every other request gets the fuzzed reply.
class FuzzTransport final : public vsray::vsphere::HttpTransport {
 public:
  FuzzTransport(long status, std::string body)  // NOLINT(google-runtime-int)
      : status_(status), body_(std::move(body)) {}
  StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    HttpResponse response;
    if (request.method == "POST" && request.url.ends_with("/api/session")) {
      response.status = 201;
      response.body = "\"fuzz-session-token\"";
      return response;
    }
    response.status = status_;
    response.body = body_;
    return response;
  }

 private:
  long status_;  // NOLINT(google-runtime-int)
  std::string body_;
};

void Call(RestClient& client, std::uint8_t which) {
  const vsray::vsphere::DynamicId vm{"VirtualMachine", "vm-1"};
  switch (which % 12) {
    case 0:
      (void)client.ListCategories();
      break;
    case 1:
      (void)client.GetCategory("urn:c");
      break;
    case 2:
      (void)client.FindCategoryByName("ray");
      break;
    case 3:
      (void)client.GetTag("urn:t");
      break;
    case 4:
      (void)client.ListAttachedTags(vm);
      break;
    case 5:
      (void)client.ListAttachedTagsOnObjects({vm, {"VirtualMachine", "vm-2"}});
      break;
    case 6:
      (void)client.ListAttachedObjectsOnTags({"urn:t1", "urn:t2"});
      break;
    case 7:
      (void)client.AttachTagsToObject(vm, {"urn:t1"});
      break;
    case 8:
      (void)client.FindLibraryItems("frozen");
      break;
    case 9:
      (void)client.GetLibraryItem("item-1");
      break;
    case 10: {
      vsray::vsphere::OvfDeploySpec spec;
      spec.name = "frozen";
      spec.resource_pool_id = "resgroup-1";
      (void)client.DeployOvf("item-1", spec);
      break;
    }
    default:
      (void)client.FindTagByName("urn:c", "ray-node-type:worker");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::array<long, 9> kStatuses = {200, 200, 201, 204, 400,  // NOLINT
                                                    401, 404, 500, 503};
  const long status = kStatuses[data[0] % kStatuses.size()];  // NOLINT(google-runtime-int)
  auto transport = std::make_shared<FuzzTransport>(
      status, std::string(reinterpret_cast<const char*>(data + 2), size - 2));
  vsray::vsphere::ConnectOptions options;
  options.server = "127.0.0.1:1";
  options.credentials = {"user", "secret-password"};
  options.retry.max_attempts = 1;  // no sleeping between attempts
  auto client = RestClient::Connect(options, transport);
  if (!client.ok()) return 0;
  Call(**client, data[1]);
  return 0;
}
