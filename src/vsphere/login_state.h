// The login of a vCenter API session (the SOAP session cookie, or the vAPI session token)
// and the one rule both protocols follow when the server says it no longer knows it: a call
// refused as unauthenticated never ran, so log in again once (unless another thread already
// did since that call was sent) and repeat the call, even if it is not idempotent.
#ifndef VSRAY_VSPHERE_LOGIN_STATE_H_
#define VSRAY_VSPHERE_LOGIN_STATE_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vsray::vsphere {

class LoginState {
 public:
  // The credential to send with a call ("" before the first login), and the login
  // generation it belongs to.
  std::string Get(std::uint64_t* generation) const;
  // The server handed out a value (a login reply, a refreshed cookie); same generation.
  void Set(std::string value);
  // Runs `login` (which Clears, logs in and Commits) under the login lock: one at a time.
  Status Login(const std::function<Status()>& login);
  // Inside `login`, before it sends: the old value must not be sent with a login. Returns the
  // value forgotten.
  std::string Clear();
  // Inside `login`, after a successful reply: the value Set meanwhile starts a new
  // generation. False when the reply set none.
  bool Commit();
  // A call sent with `generation` was refused as unauthenticated: logs in again (`login`, as
  // for Login) unless a login has happened since. The caller then repeats the call once.
  // Returns the login's error, if it ran and failed. `what` names the session in the log.
  Status Renew(std::uint64_t generation, const std::function<Status()>& login,
               std::string_view what);

 private:
  mutable std::mutex mu_;  // guards value_ and generation_
  std::string value_;
  std::uint64_t generation_ = 0;
  std::mutex login_mu_;  // one login at a time
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_LOGIN_STATE_H_
