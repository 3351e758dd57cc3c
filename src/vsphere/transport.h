// HTTP(S) transport: the seam between vSphere protocol code and the network. The real
// implementation uses libcurl; unit tests substitute fakes.
#ifndef VSRAY_VSPHERE_TRANSPORT_H_
#define VSRAY_VSPHERE_TRANSPORT_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vsray::vsphere {

// How the server's certificate is checked. Exactly one mode applies, in this order:
// insecure (no check, with a warning), thumbprint (SHA-256 pin of the leaf certificate),
// ca_file (that CA only), else the system's trusted CAs.
struct TlsOptions {
  std::string ca_file;
  // SHA-256 of the server certificate (DER), hex, with or without ':' separators.
  std::string thumbprint;
  bool insecure = false;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{60000};
};

struct HttpResponse {
  long status = 0;  // NOLINT(google-runtime-int): libcurl reports a long.
  std::string body;
  // Header names lower-cased; Set-Cookie lines joined by '\n'.
  std::map<std::string, std::string> headers;

  const std::string* Header(const std::string& lower_name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. Thread-safe. Returns:
  //  - UNAVAILABLE for connection failures (refused, reset, dropped, DNS) - transient;
  //  - DEADLINE_EXCEEDED when request.timeout elapses - transient;
  //  - UNAUTHENTICATED (fault "TlsVerification") when the server's certificate is refused;
  //  - FAILED_PRECONDITION for other TLS failures (e.g. the server speaks plain HTTP);
  //  - INVALID_ARGUMENT for a malformed URL.
  // An HTTP error status is not an error here: the caller interprets the response.
  virtual StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

// Hex SHA-256 of a DER certificate, upper case, ':'-separated ("AB:CD:...").
std::string FormatThumbprint(const std::string& raw_digest);
// Normalises a user-given thumbprint to FormatThumbprint's form; empty if not 64 hex digits.
std::string NormalizeThumbprint(const std::string& text);

// libcurl transport: keeps connections alive and shares them (and TLS sessions) between
// threads. Construct once per server.
StatusOr<std::unique_ptr<HttpTransport>> MakeCurlTransport(const TlsOptions& tls);

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_TRANSPORT_H_
