// Helpers for the config tests: a fake environment, temporary directories, test data.
#ifndef VSRAY_TESTS_CONFIG_TEST_UTIL_H_
#define VSRAY_TESTS_CONFIG_TEST_UTIL_H_

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/cluster_config.h"

namespace vsray::config::testing {

inline EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The usual environment of these tests: credentials, no HOME (tests pass home_dir).
inline std::map<std::string, std::string> CredentialEnv() {
  return {{"VSPHERE_SERVER", "vc.env.example.com"},
          {"VSPHERE_USER", "env-user@vsphere.local"},
          {"VSPHERE_PASSWORD", "env-Pa55word-xyz"}};
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vsray-config-test-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    const char* made = mkdtemp(buffer.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string TestData(const std::string& name) {
  return std::string(VSRAY_CONFIG_TESTDATA) + "/" + name;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline unsigned FileMode(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return 0;
  return static_cast<unsigned>(info.st_mode) & 0777U;
}

inline LoadOptions TestLoadOptions(std::map<std::string, std::string> env = CredentialEnv(),
                                   std::string home = "/nonexistent-home") {
  LoadOptions options;
  options.env = FakeEnv(std::move(env));
  options.home_dir = std::move(home);
  return options;
}

}  // namespace vsray::config::testing

#endif  // VSRAY_TESTS_CONFIG_TEST_UTIL_H_
