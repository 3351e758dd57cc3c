// HTTP(S) transport: the seam between vSphere protocol code and the network. The real
// implementation uses libcurl; unit tests substitute fakes.
#ifndef VSRAY_VSPHERE_TRANSPORT_H_
#define VSRAY_VSPHERE_TRANSPORT_H_

#include <chrono>
#include <cstddef>
#include <functional>
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
  // The whole exchange, and its connection phase (TCP and TLS handshake) alone.
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds connect_timeout{15000};
  // A reply body larger than this is refused (DATA_LOSS) as soon as it is known to
  // be (by Content-Length, or as it arrives): the memory a reply may take is bounded.
  std::size_t max_response_bytes = kDefaultMaxResponseBytes;
  // Called from the sending thread every `slow_every` that the exchange goes on without
  // ending (a server that accepted and does not answer), with the time waited so far, so
  // that a long wait is never silent. Null: nothing is called.
  std::function<void(std::chrono::seconds waited)> on_slow;
  std::chrono::milliseconds slow_every{15000};

  static constexpr std::size_t kDefaultMaxResponseBytes = std::size_t{64} << 20U;  // 64 MiB
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
  //  - DEADLINE_EXCEEDED when request.timeout (or connect_timeout before the server answered
  //    the handshake) elapses - transient; the message names the server and the limit;
  //  - DATA_LOSS when the reply is larger than request.max_response_bytes (not transient:
  //    another attempt would get the same);
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
