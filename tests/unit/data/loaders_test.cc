#include "common/data/loaders.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/data/npy.h"

namespace recstack::data {
namespace {

class LoaderTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    std::filesystem::create_directories(dir_);
    auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  const std::string data_ = RECSTACK_DATA_DIR;
  const std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("recstack-loader-" + std::to_string(::getpid()));
};

TEST_F(LoaderTest, MovieLens100k) {
  const std::string path = data_ + "/ml-100k/u.data";
  std::set<std::string> users, items;
  int64_t rows = 0, min_ts = INT64_MAX;
  const auto start = std::chrono::steady_clock::now();
  double sum = 0;
  ASSERT_TRUE(ForEachInteraction(path, Format::kMovieLens, [&](const InteractionView& v) {
                rows++;
                users.emplace(v.user);
                items.emplace(v.item);
                sum += v.value;
                min_ts = std::min(min_ts, v.timestamp_ms);
                return absl::OkStatus();
              }).ok());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("u.data: %lld rows in %.3f s (%.2f M rows/s, incl. the test's id sets)\n",
              static_cast<long long>(rows), secs, rows / secs / 1e6);
  EXPECT_EQ(rows, 100000);
  EXPECT_EQ(users.size(), 943u);
  EXPECT_EQ(items.size(), 1682u);
  EXPECT_EQ(min_ts, 874724710000);  // seconds became milliseconds
  // Mean rating from the README's histogram: 352,986 / 100,000.
  EXPECT_NEAR(sum / rows, 3.52986, 1e-6);
  auto all = LoadInteractions(path, Format::kAuto);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 100000u);
}

TEST_F(LoaderTest, MovieLensItemsLatin1) {
  auto items = LoadItems(data_ + "/ml-100k/u.item");
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 1682u);
  EXPECT_EQ((*items)[0].item, "1");
  EXPECT_EQ((*items)[0].title, "Toy Story (1995)");
  EXPECT_EQ((*items)[0].categories,
            (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
  bool found = false;
  for (const auto& m : *items) {
    // Latin-1 0xE9 decoded as UTF-8 "é".
    if (m.title.find("\xc3\xa9") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(LoaderTest, RatingsDatAndCsvWithCrlf) {
  auto dat = Write("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n");
  auto rows = LoadInteractions(dat, Format::kAuto);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].item, "661");
  EXPECT_EQ((*rows)[1].timestamp_ms, 978302109000);
  auto csv =
      Write("ratings.csv",
            "userId,movieId,rating,timestamp\r\n1,31,2.5,1260759144\r\n1,1029,3.0,1260759179\r\n");
  rows = LoadInteractions(csv, Format::kAuto);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].value, 2.5f);
  EXPECT_EQ((*rows)[1].item, "1029");
}

TEST_F(LoaderTest, PlainCsvWithAndWithoutHeader) {
  auto with =
      Write("a.csv", "user,item,value,timestamp\nu1,i1,3,1764679469226\nu2,i2,1,1700000000\n");
  auto rows = LoadInteractions(with, Format::kCsv);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].timestamp_ms, 1764679469226);  // already ms
  EXPECT_EQ((*rows)[1].timestamp_ms, 1700000000000);  // seconds -> ms
  auto without = Write("b.csv", "u1,i1,2\nu1,i2,1.5\n");
  rows = LoadInteractions(without, Format::kAuto);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].value, 1.5f);
  EXPECT_EQ((*rows)[1].timestamp_ms, 0);
}

TEST_F(LoaderTest, MalformedInputNamesTheLine) {
  auto bad = Write("u.bad", "1\t2\t3\t4\n5\t6\t7\n");
  auto st = ForEachInteraction(bad, Format::kMovieLens,
                               [](const InteractionView&) { return absl::OkStatus(); });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(st.message()), "u.bad:2: expected 4 tab-separated fields, got 3");
  auto bad_value = Write("v.csv", "u1,i1,2\nu1,i2,lots\n");
  st = LoadInteractions(bad_value, Format::kCsv).status();
  EXPECT_EQ(std::string(st.message()), "v.csv:2: value 'lots' is not a number");
  auto bad_ts = Write("t.dat", "1::2::3::yesterday\n");
  st = LoadInteractions(bad_ts, Format::kMovieLensDat).status();
  EXPECT_NE(std::string(st.message()).find("t.dat:1: timestamp"), std::string::npos);
  auto missing = LoadInteractions("/nonexistent/u.data", Format::kMovieLens);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ParseFormat("parquet").ok());
}

TEST_F(LoaderTest, LongFileAcrossReadBlocks) {
  std::string content;
  for (int i = 0; i < 200000; ++i)
    content += "user" + std::to_string(i) + ",item" + std::to_string(i % 97) + ",1\n";
  auto path = Write("long.csv", content);
  int64_t n = 0;
  std::string last;
  ASSERT_TRUE(ForEachInteraction(path, Format::kCsv, [&](const InteractionView& v) {
                n++;
                last = std::string(v.user);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(n, 200000);
  EXPECT_EQ(last, "user199999");
}

// The in-memory parsers are the file loaders' own (ForEachInteractionInBuffer,
// ParseItems): the same rows, the same errors, for every format; and a line
// longer than a read block still arrives whole.
TEST_F(LoaderTest, BuffersParseLikeFiles) {
  const std::string long_id(200000, 'x');
  const std::vector<std::pair<std::string, std::string>> files = {
      {"u.data", "1\t2\t3\t900000000\n" + long_id + "\t9\t1\t5\r\n\n4\t5\t2.5\t0"},
      {"ratings.dat", "1::2::3::900000000\n1::2::x::1\n"},
      {"ratings.csv", "userId,movieId,rating,timestamp\r\n1,2,4.5,1100000000\r\n"},
      {"events.csv", "user,item,value\nu1,i1,1\nu2,i2,0.5,1700000000000\n"}};
  for (const auto& [name, content] : files) {
    for (Format f : {Format::kAuto, Format::kCsv}) {
      std::vector<std::string> from_file, from_buffer;
      auto collect = [](std::vector<std::string>* rows) {
        return [rows](const InteractionView& v) {
          rows->push_back(std::string(v.user).substr(0, 8) + "|" + std::string(v.item) + "|" +
                          std::to_string(v.value) + "|" + std::to_string(v.timestamp_ms));
          return absl::OkStatus();
        };
      };
      const absl::Status a = ForEachInteraction(Write(name, content), f, collect(&from_file));
      const absl::Status b = ForEachInteractionInBuffer(content, name, f, collect(&from_buffer));
      EXPECT_EQ(a, b) << name;
      EXPECT_EQ(from_file, from_buffer) << name;
      if (name == "u.data" && f == Format::kAuto) {
        EXPECT_TRUE(b.ok()) << b;
        EXPECT_EQ(from_buffer.size(), 3u);
      }
    }
  }
  const std::string items = "item,title,categories,created_at_ms\ni1,\"A, b\",x|y,7\n";
  auto file = LoadItems(Write("items.csv", items));
  auto buffer = ParseItems(items, "items.csv");
  ASSERT_TRUE(file.ok() && buffer.ok()) << buffer.status();
  ASSERT_EQ(buffer->size(), 1u);
  EXPECT_EQ((*buffer)[0].title, "A, b");
  EXPECT_EQ((*buffer)[0].categories, (*file)[0].categories);
  EXPECT_EQ(ParseItems("1|short\n", "u.item").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LoaderTest, NpyRoundTrip) {
  std::vector<float> m = {1, 2, 3, 4, 5, 6};
  auto path = Write("m.npy", "");
  ASSERT_TRUE(WriteNpy(path, m.data(), 2, 3).ok());
  auto back = ReadNpyFloat(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back->data, m);
  // The header is padded so the data starts on a 64-byte boundary.
  EXPECT_EQ((std::filesystem::file_size(path) - m.size() * 4) % 64, 0u);
}

TEST_F(LoaderTest, NpyOneDimensionalAndBadFiles) {
  std::vector<float> v = {0.5f, -1.25f, 3.0f};
  auto path = Write("v.npy", "");
  ASSERT_TRUE(WriteNpy(path, v.data(), 3, 0).ok());
  auto back = ReadNpyFloat(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(back->data, v);
  auto ints = Write("i.npy", "");
  ASSERT_TRUE(WriteNpy(ints, std::vector<int64_t>{1, 2}).ok());
  // Only '<f4' reads back as float; an '<i8' file is refused, not misread.
  EXPECT_EQ(ReadNpyFloat(ints).status().code(), absl::StatusCode::kInvalidArgument);
  std::string header(128, '\0');
  std::ifstream(ints, std::ios::binary).read(header.data(), 128);
  EXPECT_NE(header.find("'descr': '<i8'"), std::string::npos);
  EXPECT_NE(header.find("'shape': (2,)"), std::string::npos);
  EXPECT_EQ(ReadNpyFloat(Write("junk.npy", "not numpy")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadNpyFloat("/nonexistent/x.npy").status().code(), absl::StatusCode::kNotFound);
}

TEST(SplitCsvLine, Quotes) {
  EXPECT_EQ(SplitCsvLine("a,\"b,c\",\"d\"\"e\"\r"), (std::vector<std::string>{"a", "b,c", "d\"e"}));
}

}  // namespace
}  // namespace recstack::data
