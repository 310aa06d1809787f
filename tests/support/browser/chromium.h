#pragma once

// Headless Chromium for the page tests (Debian's `chromium`, installed by
// scripts/deps.sh): one bounded run of a page served on loopback, its DOM
// after the page's scripts ran, or a screenshot, and its console lines.

#include <string>
#include <vector>

namespace recstack::testing {

// RECSTACK_CHROMIUM, else `chromium` or `chromium-browser` on PATH or in
// /usr/bin; "" when there is none.
std::string FindChromium();

struct BrowserRun {
  bool ran = false;                  // chromium was found and exited 0
  std::string error;                 // why not, when !ran
  std::string output;                // stdout: the DOM for --dump-dom
  std::vector<std::string> console;  // the page's console lines
};

// Runs `url` once, bounded at 60 s, with a fresh profile and every host but
// 127.0.0.1 unresolvable. `mode` is "--dump-dom" or "--screenshot=FILE";
// `flags` more switches (e.g. "--window-size=1280,1800
// --virtual-time-budget=10000").
BrowserRun RunChromium(const std::string& url, const std::string& mode, const std::string& flags);

// The DOM without its <script> elements (what was rendered, not the code).
std::string StripScripts(std::string dom);

// A test failure, with the page, unless `text` is in `dom`.
void ExpectHas(const std::string& dom, const std::string& text);
// How often `text` occurs in `dom`.
int Count(const std::string& dom, const std::string& text);

}  // namespace recstack::testing
