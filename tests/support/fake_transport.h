// A scripted HTTP transport for unit tests of the SOAP session and the REST client: each
// request is keyed (by its SOAP method, or by "METHOD /path?query") and answered by the
// responders queued for its key, in order; the last one of a key repeats. Records every
// request. Thread-safe.
#ifndef VSRAY_TESTS_SUPPORT_FAKE_TRANSPORT_H_
#define VSRAY_TESTS_SUPPORT_FAKE_TRANSPORT_H_

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "vsphere/transport.h"

namespace vsray::testing {

class FakeTransport : public vsphere::HttpTransport {
 public:
  using Responder = std::function<StatusOr<vsphere::HttpResponse>(const vsphere::HttpRequest&)>;
  using KeyOf = std::function<std::string(const vsphere::HttpRequest&)>;

  explicit FakeTransport(KeyOf key_of) : key_of_(std::move(key_of)) {}

  // Keys: the SOAP method of the envelope's body ("RetrieveServiceContent").
  static std::string SoapMethod(const vsphere::HttpRequest& request);
  // Keys: "METHOD /path?query" of URLs under `base` (a request elsewhere fails the test).
  static KeyOf MethodAndPath(std::string base);

  void On(const std::string& key, Responder responder);
  StatusOr<vsphere::HttpResponse> Send(const vsphere::HttpRequest& request) override;

  int calls(const std::string& key) const;
  std::vector<vsphere::HttpRequest> requests() const;
  // The last request sent with that key (a test failure when there is none).
  vsphere::HttpRequest last(const std::string& key) const;

 private:
  const KeyOf key_of_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Responder>> script_;
  std::map<std::string, int> calls_;
  std::vector<vsphere::HttpRequest> requests_;
};

// A responder answering `status` with `body` (and a Set-Cookie header when `cookie` is set).
FakeTransport::Responder HttpReply(long status, std::string body,  // NOLINT(google-runtime-int)
                                   std::string cookie = "");

// The value of header `name` of a request, if it has one.
std::optional<std::string> HeaderOf(const vsphere::HttpRequest& request, const std::string& name);

}  // namespace vsray::testing

#endif  // VSRAY_TESTS_SUPPORT_FAKE_TRANSPORT_H_
