#include "tests/support/tls/test_certs.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace recstack::testing {

TestCertificates::~TestCertificates() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status TestCertificates::Make(const std::vector<std::string>& names) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "recstack-certs.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  dir_ = tmpl;
  std::string cmd = absl::StrCat("'", RECSTACK_MAKE_CERTS, "' '", dir_, "'");
  for (const std::string& n : names) absl::StrAppend(&cmd, " '", n, "'");
  const int rc = std::system(cmd.c_str());
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return absl::InternalError(absl::StrCat(cmd, " failed (status ", rc, ")"));
  }
  return absl::OkStatus();
}

}  // namespace recstack::testing
