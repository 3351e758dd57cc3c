#include "vsphere/login_state.h"

#include <utility>

#include "common/log.h"

namespace vsray::vsphere {

std::string LoginState::Get(std::uint64_t* generation) const {
  std::lock_guard lock(mu_);
  *generation = generation_;
  return value_;
}

void LoginState::Set(std::string value) {
  std::lock_guard lock(mu_);
  value_ = std::move(value);
}

Status LoginState::Login(const std::function<Status()>& login) {
  std::lock_guard lock(login_mu_);
  return login();
}

std::string LoginState::Clear() {
  std::lock_guard lock(mu_);
  return std::exchange(value_, {});
}

bool LoginState::Commit() {
  std::lock_guard lock(mu_);
  if (value_.empty()) return false;
  ++generation_;
  return true;
}

Status LoginState::Renew(std::uint64_t generation, const std::function<Status()>& login,
                         std::string_view what) {
  std::lock_guard lock(login_mu_);
  {
    std::lock_guard value_lock(mu_);
    if (generation_ != generation) return OkStatus();  // another thread logged in meanwhile
  }
  Log()->info("{} expired; logging in again", what);
  return login();
}

}  // namespace vsray::vsphere
