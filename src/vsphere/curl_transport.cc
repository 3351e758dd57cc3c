// libcurl implementation of HttpTransport.
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <mutex>
#include <vector>

#include "vsphere/transport.h"

namespace vsray::vsphere {
namespace {

// The leaf certificate's thumbprint seen during the last handshake, for error messages.
struct PinState {
  std::string expected;  // FormatThumbprint form
  std::mutex mu;
  std::string last_seen;
};

int VerifyPinnedCertificate(X509_STORE_CTX* store, void* arg) {
  auto* pin = static_cast<PinState*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (leaf == nullptr || X509_digest(leaf, EVP_sha256(), digest.data(), &length) != 1) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  const std::string seen =
      FormatThumbprint(std::string(reinterpret_cast<const char*>(digest.data()), length));
  {
    std::lock_guard lock(pin->mu);
    pin->last_seen = seen;
  }
  if (seen == pin->expected) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

CURLcode InstallPinCallback(CURL* /*curl*/, void* ssl_ctx, void* arg) {
  SSL_CTX_set_cert_verify_callback(static_cast<SSL_CTX*>(ssl_ctx), VerifyPinnedCertificate, arg);
  return CURLE_OK;
}

// What the body and progress callbacks of one exchange share.
struct Exchange {
  const HttpRequest* request = nullptr;
  std::string* body = nullptr;
  bool too_large = false;
  std::chrono::steady_clock::time_point start;  // the real network: no injected clock here
  std::chrono::seconds reported{0};             // the last wait reported to on_slow
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  if (exchange->body->size() + size * count > exchange->request->max_response_bytes) {
    exchange->too_large = true;
    return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  }
  // Grows by doubling, but never past the limit: the memory a reply takes is bounded by it.
  std::string& body = *exchange->body;
  if (body.size() + size * count > body.capacity()) {
    body.reserve(std::min(std::max(body.capacity() * 2, body.size() + size * count),
                          exchange->request->max_response_bytes));
  }
  body.append(data, size * count);
  return size * count;
}

// libcurl calls this about once a second while an exchange goes on, also while nothing
// arrives: the place to say that a server is slow to answer.
int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
               curl_off_t /*ulnow*/) {
  auto* exchange = static_cast<Exchange*>(user);
  const HttpRequest& request = *exchange->request;
  if (!request.on_slow || request.slow_every.count() <= 0) return 0;
  const auto waited = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - exchange->start);
  const auto every = std::chrono::duration_cast<std::chrono::seconds>(request.slow_every);
  if (waited - exchange->reported >= every) {
    exchange->reported = waited;
    request.on_slow(waited);
  }
  return 0;
}

size_t ParseHeaderLine(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * count);
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    // A status line starts a new header block (e.g. after "100 Continue"): forget the old one.
    if (line.starts_with("HTTP/")) headers->clear();
    return size * count;
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  auto& slot = (*headers)[name];
  if (!slot.empty()) slot += '\n';
  slot += value;
  return size * count;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(TlsOptions tls) : tls_(std::move(tls)) {
    pin_.expected = NormalizeThumbprint(tls_.thumbprint);
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlTransport::Lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlTransport::Unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~CurlTransport() override {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
    curl_share_cleanup(share_);
  }

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  static void Lock(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/, void* user) {
    static_cast<CurlTransport*>(user)->LockFor(data).lock();
  }
  static void Unlock(CURL* /*handle*/, curl_lock_data data, void* user) {
    static_cast<CurlTransport*>(user)->LockFor(data).unlock();
  }
  std::mutex& LockFor(curl_lock_data data) {
    const auto index = static_cast<std::size_t>(data);
    return share_locks_.at(index < share_locks_.size() ? index : 0);
  }

  CURL* Acquire();
  void Release(CURL* handle);
  void ApplyTls(CURL* handle);
  Status MapError(CURLcode code, const HttpRequest& request, const char* detail);
  Status MapTimeout(CURL* handle, const HttpRequest& request, const std::string& why);

  TlsOptions tls_;
  PinState pin_;
  CURLSH* share_ = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST + 1> share_locks_;
  std::mutex idle_mu_;
  std::vector<CURL*> idle_;
};

CURL* CurlTransport::Acquire() {
  {
    std::lock_guard lock(idle_mu_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      curl_easy_reset(handle);
      return handle;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Release(CURL* handle) {
  std::lock_guard lock(idle_mu_);
  idle_.push_back(handle);
}

void CurlTransport::ApplyTls(CURL* handle) {
  if (tls_.insecure) {
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!pin_.expected.empty()) {
    // The pin replaces chain and host name checks: it names the exact certificate.
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, &InstallPinCallback);
    curl_easy_setopt(handle, CURLOPT_SSL_CTX_DATA, &pin_);
  } else if (!tls_.ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(handle, CURLOPT_CAINFO, tls_.ca_file.c_str());
    // Trust that file only, not also the system directory.
    curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
  } else {
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  }
}

Status CurlTransport::MapError(CURLcode code, const HttpRequest& request, const char* detail) {
  const std::string& url = request.url;
  std::string why = (detail != nullptr && detail[0] != '\0') ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return UnavailableError("cannot reach " + url + ": " + why);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgumentError("bad URL '" + url + "': " + why);
    case CURLE_PEER_FAILED_VERIFICATION: {
      std::string message;
      if (!pin_.expected.empty()) {
        std::string seen;
        {
          std::lock_guard lock(pin_.mu);
          seen = pin_.last_seen;
        }
        message = "TLS: the server certificate's SHA-256 thumbprint " + seen +
                  " does not match tls.thumbprint " + pin_.expected;
      } else if (!tls_.ca_file.empty()) {
        message = "TLS: the server certificate of " + url + " is not trusted by tls.ca_file '" +
                  tls_.ca_file + "' (" + why + ")";
      } else {
        message = "TLS: the server certificate of " + url + " is not trusted by the system CAs (" +
                  why +
                  "); set tls.ca_file to the vCenter's CA certificate or tls.thumbprint to its "
                  "SHA-256 thumbprint";
      }
      Status status = UnauthenticatedError(message);
      status.set_fault("TlsVerification");
      return status;
    }
    case CURLE_WRITE_ERROR:
      return DataLossError("the reply from " + url + " is larger than the limit of " +
                           std::to_string(request.max_response_bytes >> 20U) + " MiB: refused");
    case CURLE_SSL_CONNECT_ERROR:
      return FailedPreconditionError("TLS handshake with " + url + " failed (" + why +
                                     "); is it an HTTPS endpoint?");
    case CURLE_SSL_CACERT_BADFILE:
      return InvalidArgumentError("TLS: cannot load tls.ca_file '" + tls_.ca_file + "' (" + why +
                                  ")");
    default:
      return UnknownError("request to " + url + " failed: " + why);
  }
}

Status CurlTransport::MapTimeout(CURL* handle, const HttpRequest& request, const std::string& why) {
  // Whether the handshake finished tells a server that never answered the connection from
  // one that accepted the call and did not answer it in time.
  curl_off_t handshake_us = 0;
  curl_easy_getinfo(handle, CURLINFO_APPCONNECT_TIME_T, &handshake_us);
  const bool plain = request.url.starts_with("http://");
  curl_off_t connect_us = 0;
  curl_easy_getinfo(handle, CURLINFO_CONNECT_TIME_T, &connect_us);
  const bool connected = plain ? connect_us > 0 : handshake_us > 0;
  const auto seconds = [](std::chrono::milliseconds ms) {
    return std::to_string((ms.count() + 999) / 1000) + " s";
  };
  std::string server = request.url;
  if (const auto scheme = server.find("://"); scheme != std::string::npos) {
    server = server.substr(scheme + 3);
    server = server.substr(0, server.find('/'));
  }
  if (!connected) {
    return DeadlineExceededError("cannot connect to vCenter " + server + ": no answer within " +
                                 seconds(request.connect_timeout) +
                                 " (timeouts.connect_s): " + why);
  }
  return DeadlineExceededError("vCenter " + server + " did not answer within " +
                               seconds(request.timeout) + " (timeouts.call_s): " + why);
}

StatusOr<HttpResponse> CurlTransport::Send(const HttpRequest& request) {
  CURL* handle = Acquire();
  if (handle == nullptr) return InternalError("curl_easy_init failed");
  HttpResponse response;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name;
    line += ": ";
    line += value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // libcurl sends "Expect: 100-continue" for large bodies; vCenter doesn't need the round trip.
  headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(handle, CURLOPT_SHARE, share_);
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer.data());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  Exchange exchange{&request, &response.body, false, std::chrono::steady_clock::now()};
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(request.max_response_bytes));
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &ParseHeaderLine);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(request.timeout.count()));  // NOLINT
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(request.timeout, request.connect_timeout)  // NOLINT
                                         .count()));
  if (request.method == "GET") {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method != "DELETE" || !request.body.empty()) {
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  }
  ApplyTls(handle);

  const CURLcode code = curl_easy_perform(handle);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    const char* detail = error_buffer.data();
    Status status;
    if (code == CURLE_OPERATION_TIMEDOUT) {
      status = MapTimeout(handle, request, detail[0] != '\0' ? detail : "timed out");
    } else if (code == CURLE_FILESIZE_EXCEEDED || exchange.too_large) {
      status = MapError(CURLE_WRITE_ERROR, request, detail);
    } else {
      status = MapError(code, request, detail);
    }
    // A handle that failed mid-transfer may hold a broken connection: don't reuse it.
    curl_easy_cleanup(handle);
    return status;
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);
  Release(handle);
  return response;
}

}  // namespace

const std::string* HttpResponse::Header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? nullptr : &it->second;
}

std::string FormatThumbprint(const std::string& raw_digest) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw_digest.size() * 3);
  for (const char c : raw_digest) {
    const auto byte = static_cast<unsigned char>(c);
    if (!out.empty()) out += ':';
    out += kHex[byte >> 4U];
    out += kHex[byte & 0x0FU];
  }
  return out;
}

std::string NormalizeThumbprint(const std::string& text) {
  std::string hex;
  for (const char c : text) {
    if (c == ':' || c == ' ') continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return "";
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) return "";
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (!out.empty()) out += ':';
    out.append(hex, i, 2);
  }
  return out;
}

StatusOr<std::unique_ptr<HttpTransport>> MakeCurlTransport(const TlsOptions& tls) {
  GlobalInit();
  if (!tls.thumbprint.empty() && NormalizeThumbprint(tls.thumbprint).empty()) {
    return InvalidArgumentError(
        "tls.thumbprint: expected a SHA-256 fingerprint (64 hex digits, ':' separators allowed)");
  }
  if (!tls.ca_file.empty() && !tls.insecure && tls.thumbprint.empty() &&
      access(tls.ca_file.c_str(), R_OK) != 0) {
    return InvalidArgumentError("tls.ca_file: cannot read '" + tls.ca_file +
                                "': " + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  }
  // No warning for tls.insecure here: whoever chose it warns once (the config parser, with
  // the file and line; `vsray inventory --insecure`), not every transport made.
  return std::unique_ptr<HttpTransport>(std::make_unique<CurlTransport>(tls));
}

}  // namespace vsray::vsphere
