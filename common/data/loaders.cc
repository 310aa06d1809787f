#include "common/data/loaders.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"

namespace recstack::data {
namespace {

std::string S(std::string_view v) { return std::string(v); }

std::string Base(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

struct FileCloser {
  void operator()(FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};

using LineFn = std::function<absl::Status(std::string_view, int64_t)>;

// Calls fn(line, ++*line_no) for every line of `text` that ends in "\n"
// (without "\n" or "\r\n") and, with `last`, for a final line without one.
// *consumed is the offset after the last line handed to fn.
absl::Status SplitLines(std::string_view text, bool last, int64_t* line_no, const LineFn& fn,
                        size_t* consumed) {
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    if (absl::Status st = fn(line, ++*line_no); !st.ok()) return st;
  }
  if (last && start < text.size()) {
    std::string_view line = text.substr(start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = text.size();
    if (absl::Status st = fn(line, ++*line_no); !st.ok()) return st;
  }
  *consumed = start;
  return absl::OkStatus();
}

// Calls fn(line, line_number) for every line of the file.
absl::Status ForEachLine(const std::string& path, const LineFn& fn) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (f == nullptr) {
    return std::filesystem::exists(path)
               ? absl::PermissionDeniedError(absl::StrCat(path, ": cannot open"))
               : absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  // Reads of 64 KiB: a small file costs no more, a big one as little.
  constexpr size_t kBlock = 64 << 10;
  // A longer line is not a row of any supported format (it is usually a
  // binary or newline-less file); refuse it instead of buffering the file.
  constexpr size_t kMaxLine = 64 << 20;
  std::string buf;
  buf.resize(kBlock);
  size_t have = 0;
  int64_t line_no = 0;
  bool eof = false;
  while (!eof) {
    if (have == buf.size()) {  // a line longer than the block
      if (buf.size() >= kMaxLine) {
        return absl::InvalidArgumentError(
            absl::StrCat(Base(path), ":", line_no + 1, ": line longer than 64 MiB"));
      }
      buf.resize(buf.size() * 2);
    }
    size_t got = std::fread(buf.data() + have, 1, buf.size() - have, f.get());
    if (got == 0) eof = true;
    have += got;
    size_t start = 0;
    if (absl::Status st = SplitLines(std::string_view(buf.data(), have), eof, &line_no, fn, &start);
        !st.ok()) {
      return st;
    }
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
  }
  if (std::ferror(f.get())) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return absl::OkStatus();
}

// The same over bytes in memory (one line may be as long as the buffer).
absl::Status ForEachLineOfBuffer(std::string_view data, const LineFn& fn) {
  int64_t line_no = 0;
  size_t consumed = 0;
  return SplitLines(data, true, &line_no, fn, &consumed);
}

template <typename T>
bool ParseNum(std::string_view s, T* out) {
  while (!s.empty() && (s.front() == ' ')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ')) s.remove_suffix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits on a separator into at most `max` fields (the last keeps the rest).
size_t Split(std::string_view line, std::string_view sep, std::string_view* fields, size_t max) {
  size_t n = 0;
  while (n + 1 < max) {
    size_t p = line.find(sep);
    if (p == std::string_view::npos) break;
    fields[n++] = line.substr(0, p);
    line.remove_prefix(p + sep.size());
  }
  fields[n++] = line;
  return n;
}

// kAuto by name (its extension) and, for .csv, the first line.
Format DetectFormat(std::string_view name, std::string_view first_line) {
  std::string ext = std::filesystem::path(name).extension().string();
  if (ext == ".dat") return Format::kMovieLensDat;
  if (ext == ".csv") return first_line.starts_with("userId") ? Format::kMovieLensCsv : Format::kCsv;
  return Format::kMovieLens;
}

absl::StatusOr<Format> Detect(const std::string& path) {
  std::string first;
  if (std::filesystem::path(path).extension() == ".csv") {
    absl::Status st = ForEachLine(path, [&](std::string_view line, int64_t) {
      first = S(line);
      return absl::CancelledError("first line read");
    });
    if (!st.ok() && !absl::IsCancelled(st)) return st;
  }
  return DetectFormat(path, first);
}

std::string_view FirstLine(std::string_view data) {
  std::string_view line = data.substr(0, data.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

int64_t ToMs(int64_t ts) { return ts < 100'000'000'000LL ? ts * 1000 : ts; }

}  // namespace

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  if (name == "auto") return Format::kAuto;
  if (name == "movielens" || name == "u.data") return Format::kMovieLens;
  if (name == "ml-dat") return Format::kMovieLensDat;
  if (name == "ml-csv") return Format::kMovieLensCsv;
  if (name == "csv") return Format::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", S(name), "' (known: auto, movielens, ml-dat, ml-csv, csv)"));
}

std::string FormatName(Format format) {
  switch (format) {
    case Format::kAuto:
      return "auto";
    case Format::kMovieLens:
      return "movielens";
    case Format::kMovieLensDat:
      return "ml-dat";
    case Format::kMovieLensCsv:
      return "ml-csv";
    case Format::kCsv:
      return "csv";
  }
  return "auto";
}

std::vector<std::string> SplitCsvLine(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else if (c != '\r') {
      cur.push_back(c);
    }
  }
  out.push_back(std::move(cur));
  return out;
}

namespace {

// One row of `format` (kAuto already resolved); `name` is the file's for messages.
absl::Status ParseInteractionLine(std::string_view line, int64_t no, Format format,
                                  std::string_view name, const InteractionFn& fn) {
  auto err = [&](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(S(name), ":", no, ": ", S(what)));
  };
  if (line.empty()) return absl::OkStatus();
  std::string_view f[5];
  size_t n = 0;
  size_t want_min = 4, want_max = 4;
  const char* what = "tab-separated";
  switch (format) {
    case Format::kMovieLens:
      n = Split(line, "\t", f, 5);
      break;
    case Format::kMovieLensDat:
      n = Split(line, "::", f, 5);
      what = "'::'-separated";
      break;
    case Format::kMovieLensCsv:
      if (no == 1) {
        if (!line.starts_with("userId"))
          return err("expected the header userId,movieId,rating,timestamp");
        return absl::OkStatus();
      }
      n = Split(line, ",", f, 5);
      what = "comma-separated";
      break;
    case Format::kCsv:
      n = Split(line, ",", f, 5);
      what = "comma-separated";
      want_min = 3;
      break;
    case Format::kAuto:
      break;
  }
  if (n < want_min || n > want_max) {
    return err(absl::StrCat("expected ", want_min == want_max ? "" : "3 or ", want_max, " ", what,
                            " fields, got ", n));
  }
  InteractionView v;
  v.user = f[0];
  v.item = f[1];
  v.line = no;
  v.timestamp_ms = 0;
  if (!ParseNum(f[2], &v.value)) {
    if (format == Format::kCsv && no == 1) return absl::OkStatus();  // a header line
    return err(absl::StrCat("value '", S(f[2]), "' is not a number"));
  }
  if (!std::isfinite(v.value)) return err("value is not finite");
  if (n == 4) {
    int64_t ts = 0;
    if (!ParseNum(f[3], &ts) || ts < 0)
      return err(absl::StrCat("timestamp '", S(f[3]), "' is not a non-negative integer"));
    v.timestamp_ms = ToMs(ts);
  }
  if (v.user.empty() || v.item.empty()) return err("empty user or item id");
  return fn(v);
}

}  // namespace

absl::Status ForEachInteraction(const std::string& path, Format format, const InteractionFn& fn) {
  if (format == Format::kAuto) {
    auto f = Detect(path);
    if (!f.ok()) return f.status();
    format = *f;
  }
  const std::string name = Base(path);
  return ForEachLine(path, [&](std::string_view line, int64_t no) {
    return ParseInteractionLine(line, no, format, name, fn);
  });
}

absl::Status ForEachInteractionInBuffer(std::string_view data, std::string_view name, Format format,
                                        const InteractionFn& fn) {
  if (format == Format::kAuto) format = DetectFormat(name, FirstLine(data));
  return ForEachLineOfBuffer(data, [&](std::string_view line, int64_t no) {
    return ParseInteractionLine(line, no, format, name, fn);
  });
}

absl::StatusOr<std::vector<Interaction>> LoadInteractions(const std::string& path, Format format) {
  std::vector<Interaction> out;
  absl::Status st = ForEachInteraction(path, format, [&](const InteractionView& v) {
    out.push_back({S(v.user), S(v.item), v.value, v.timestamp_ms});
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

constexpr const char* kMovieLensGenres[19] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};

// The rows of an items file, line by line: the first line says which format.
class ItemsParser {
 public:
  explicit ItemsParser(std::string_view name) : name_(name) {}

  absl::Status Line(std::string_view line, int64_t no) {
    if (line.empty()) return absl::OkStatus();
    if (no == 1 && line.starts_with("item,")) {
      ours_ = true;
      return absl::OkStatus();
    }
    ItemMeta m;
    if (ours_) {
      auto f = SplitCsvLine(line);
      if (f.size() != 4) return Error(no, absl::StrCat("expected 4 fields, got ", f.size()));
      m.item = f[0];
      m.title = f[1];
      std::string_view cats = f[2];
      while (!cats.empty()) {
        size_t p = cats.find('|');
        m.categories.push_back(S(cats.substr(0, p)));
        if (p == std::string_view::npos) break;
        cats.remove_prefix(p + 1);
      }
      if (!f[3].empty() && !ParseNum(std::string_view(f[3]), &m.created_at_ms)) {
        return Error(no, "created_at_ms is not an integer");
      }
    } else {
      std::string_view f[24];
      size_t n = Split(line, "|", f, 24);
      if (n != 24) return Error(no, absl::StrCat("expected 24 '|'-separated fields, got ", n));
      m.item = S(f[0]);
      m.title = Latin1ToUtf8(f[1]);
      for (int g = 0; g < 19; ++g) {
        if (f[5 + g] == "1") m.categories.push_back(kMovieLensGenres[g]);
      }
    }
    if (m.item.empty()) return Error(no, "empty item id");
    items_.push_back(std::move(m));
    return absl::OkStatus();
  }

  std::vector<ItemMeta> Take() && { return std::move(items_); }

 private:
  absl::Status Error(int64_t no, std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(name_, ":", no, ": ", S(what)));
  }

  std::string name_;
  bool ours_ = false;
  std::vector<ItemMeta> items_;
};

}  // namespace

absl::StatusOr<std::vector<ItemMeta>> LoadItems(const std::string& path) {
  ItemsParser parser(Base(path));
  absl::Status st =
      ForEachLine(path, [&](std::string_view line, int64_t no) { return parser.Line(line, no); });
  if (!st.ok()) return st;
  return std::move(parser).Take();
}

absl::StatusOr<std::vector<ItemMeta>> ParseItems(std::string_view data, std::string_view name) {
  ItemsParser parser(name);
  absl::Status st = ForEachLineOfBuffer(
      data, [&](std::string_view line, int64_t no) { return parser.Line(line, no); });
  if (!st.ok()) return st;
  return std::move(parser).Take();
}

}  // namespace recstack::data
