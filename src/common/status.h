// Status and StatusOr<T>: the error model of vsray. Every fallible function returns one of
// these; exceptions from third-party libraries are caught at the edge and converted.
#ifndef VSRAY_COMMON_STATUS_H_
#define VSRAY_COMMON_STATUS_H_

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vsray {

// Codes follow the canonical set used by gRPC / absl, so that their meaning is familiar.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The vSphere fault type behind this status ("InvalidPowerState"), empty if none. Kept so that
  // callers can act on the exact fault (e.g. treat InvalidPowerState on power-on as done).
  const std::string& fault() const { return fault_; }
  Status& set_fault(std::string fault) {
    fault_ = std::move(fault);
    return *this;
  }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

  // "NOT_FOUND: message [fault=ManagedObjectNotFound]".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.fault_ == b.fault_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string fault_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

inline Status OkStatus() { return {}; }
inline Status CancelledError(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status UnknownError(std::string m) { return {StatusCode::kUnknown, std::move(m)}; }
inline Status InvalidArgumentError(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status DeadlineExceededError(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status PermissionDeniedError(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status UnimplementedError(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit like absl::StatusOr.
  StatusOr(Status status) : rep_(std::move(status)) {
    assert(!std::get<Status>(rep_).ok() && "StatusOr built from an OK status");
    if (std::get<Status>(rep_).ok()) rep_ = Status(StatusCode::kInternal, "OK status in StatusOr");
  }
  // NOLINTNEXTLINE(google-explicit-constructor)
  StatusOr(T value) : rep_(std::move(value)) {}

  bool ok() const { return std::holds_alternative<T>(rep_); }
  Status status() const { return ok() ? Status() : std::get<Status>(rep_); }

  const T& value() const& { return std::get<T>(rep_); }
  T& value() & { return std::get<T>(rep_); }
  T&& value() && { return std::get<T>(std::move(rep_)); }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<Status, T> rep_;
};

}  // namespace vsray

// NOLINTBEGIN(bugprone-macro-parentheses): `decl` is a declaration, not an expression.
#define VSRAY_STATUS_CONCAT_INNER_(a, b) a##b
#define VSRAY_STATUS_CONCAT_(a, b) VSRAY_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define VSRAY_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::vsray::Status vsray_status_ = (expr);        \
    if (!vsray_status_.ok()) return vsray_status_; \
  } while (false)

// `VSRAY_ASSIGN_OR_RETURN(auto x, F())`: evaluates F() (a StatusOr), returns its status on
// error, else moves its value into the declaration.
#define VSRAY_ASSIGN_OR_RETURN(decl, expr) \
  VSRAY_ASSIGN_OR_RETURN_IMPL_(VSRAY_STATUS_CONCAT_(vsray_statusor_, __LINE__), decl, expr)
#define VSRAY_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  decl = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // VSRAY_COMMON_STATUS_H_
