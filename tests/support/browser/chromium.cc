#include "tests/support/browser/chromium.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace recstack::testing {

std::string FindChromium() {
  if (const char* env = std::getenv("RECSTACK_CHROMIUM"); env != nullptr && *env != '\0')
    return env;
  const char* path = std::getenv("PATH");
  const std::string dirs = std::string(path != nullptr ? path : "") + ":/usr/bin";
  for (size_t a = 0; a <= dirs.size();) {
    const size_t b = std::min(dirs.find(':', a), dirs.size());
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string p = dirs.substr(a, b - a) + "/" + name;
      if (b > a && access(p.c_str(), X_OK) == 0) return p;
    }
    a = b + 1;
  }
  return "";
}

BrowserRun RunChromium(const std::string& url, const std::string& mode, const std::string& flags) {
  static std::atomic<int> runs{0};
  BrowserRun out;
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    out.error =
        "chromium is not installed: the page tests need a real browser. Install it with "
        "scripts/deps.sh (Debian package `chromium`), or point RECSTACK_CHROMIUM at one.";
    return out;
  }
  const std::filesystem::path profile =
      std::filesystem::temp_directory_path() /
      ("recstack-chromium-" + std::to_string(getpid()) + "-" + std::to_string(++runs));
  std::filesystem::create_directories(profile);
  const std::filesystem::path log = profile / "stderr.txt";
  // Bounded by `timeout`; a fresh profile, no background traffic; the
  // console on stderr.
  const std::string cmd =
      "timeout -k 5 60 '" + chromium + "' --headless=new --no-sandbox --disable-gpu " + flags +
      " --user-data-dir='" + profile.string() +
      "' --no-first-run --no-default-browser-check --disable-extensions --disable-sync"
      " --disable-background-networking --disable-component-update"
      " --host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'"
      " --enable-logging=stderr --v=0 " +
      mode + " '" + url + "' 2>'" + log.string() + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    out.error = "cannot run " + cmd;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.output.append(buf, n);
  const int st = pclose(p);
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos) out.console.push_back(line);
  }
  std::error_code ec;
  std::filesystem::remove_all(profile, ec);
  out.ran = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (!out.ran) out.error = "chromium exited with " + std::to_string(st) + ": " + cmd;
  return out;
}

std::string StripScripts(std::string dom) {
  for (size_t a; (a = dom.find("<script>")) != std::string::npos;) {
    const size_t b = dom.find("</script>", a);
    dom.erase(a, b == std::string::npos ? std::string::npos : b + 9 - a);
  }
  return dom;
}

void ExpectHas(const std::string& dom, const std::string& text) {
  EXPECT_NE(dom.find(text), std::string::npos) << "no `" << text << "` in the rendered page:\n"
                                               << dom;
}

int Count(const std::string& dom, const std::string& text) {
  int n = 0;
  for (size_t a = dom.find(text); a != std::string::npos; a = dom.find(text, a + 1)) ++n;
  return n;
}

}  // namespace recstack::testing
