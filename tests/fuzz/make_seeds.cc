// Writes the binary seeds of the model and ranker fuzz targets with the
// real encoders (the text seeds of the other targets are written by hand):
//   corpus/model/   meta + item chunks of small factors and EASE versions,
//                   and a user row (the layout model_fuzz.cc reads)
//   corpus/ranker/  logistic and gbdt models trained on a few synthetic rows
//                   of the feature schema, whole ('L', 'G') and as payloads
//                   ('l', 'g')
// Nothing comes from a data set. Built on demand:
//   cmake --build build --target fuzz_make_seeds && build/bin/fuzz_make_seeds tests/fuzz/corpus
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/ml/gbdt.h"
#include "common/ml/logistic.h"
#include "common/model/model_store.h"
#include "common/rank/features.h"

namespace {

namespace md = recstack::model;
namespace ml = recstack::ml;

std::filesystem::path g_root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const auto dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
  std::printf("%s/%s: %zu bytes\n", target.c_str(), name.c_str(), bytes.size());
}

constexpr const char* kSep = "\n%%\n";

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

void ModelSeeds() {
  // Implicit ALS: 3 items of 2 factors in chunks of 2, then a user row.
  const std::vector<std::string> ids = {"i1", "i2", "item-3"};
  const std::vector<float> f = {0.5f, -1, 2, 0.25f, 1e-3f, 3};
  std::string meta =
      "version v7\nalgorithm als-implicit\nfactors 2\nn_users 1\nn_items 3\nn_chunks 2\n"
      "chunk_size 2\nhas_biases 0\nglobal_mean 0\nregularization 0.1\nalpha 40\n"
      "created_at_ms 1700000000000\nparam.iterations 10\nmetric.recall@10 0.25";
  Write("model", "als_implicit",
        meta + kSep + md::EncodeItemChunk({ids[0], ids[1]}, f.data(), nullptr, 2) + kSep +
            md::EncodeItemChunk({ids[2]}, f.data() + 4, nullptr, 2) + kSep +
            FloatBytes({0.1f, 0.2f}));
  // Explicit ALS with biases, one chunk.
  const std::vector<float> b = {0.1f, -0.2f, 0.3f};
  Write("model", "als_explicit_biases",
        "version v8\nalgorithm als-explicit\nfactors 2\nn_users 1\nn_items 3\nn_chunks 1\n"
        "chunk_size 4096\nhas_biases 1\nglobal_mean 3.5\nregularization 0.05\n" +
            std::string(kSep) + md::EncodeItemChunk(ids, f.data(), b.data(), 2) + kSep +
            FloatBytes({0.1f, 0.2f, 0.7f}));
  // EASE: 3 items, up to 2 weights each.
  const std::vector<int64_t> indptr = {0, 2, 3, 3};
  const std::vector<int32_t> nbr = {1, 2, 0};
  const std::vector<float> w = {0.9f, 0.1f, 0.5f};
  Write("model", "ease",
        "version v9\nalgorithm ease\nfactors 0\nneighbours 2\nn_users 0\nn_items 3\nn_chunks 1\n"
        "chunk_size 4096\n" +
            std::string(kSep) + md::EncodeNeighbourChunk(ids, indptr.data(), nbr.data(), w.data()));
  // A ranker's meta: no chunks.
  Write("model", "ranker_meta",
        "version v10\nalgorithm ranker-gbdt\nfactors 0\nn_users 0\nn_items 0\nn_chunks 0\n"
        "chunk_size 4096\n");
}

ml::Dataset SchemaRows(bool with_position) {
  ml::Dataset d;
  d.feature_names = recstack::ranking::LearnedFeatureNames(with_position);
  std::vector<float> x(d.feature_names.size());
  for (int i = 0; i < 40; ++i) {
    for (size_t j = 0; j < x.size(); ++j) x[j] = static_cast<float>((i * 7 + j * 3) % 11) / 10.0f;
    if (i % 9 == 0) x[1] = std::nanf("");  // a missing value
    d.AddRow(x, (i % 3 == 0) ? 1.0f : 0.0f, i / 4, 1.0f);
  }
  return d;
}

// The payload of a sealed record: without the 16-byte header and the CRC.
std::string Payload(const std::string& sealed) { return sealed.substr(16, sealed.size() - 20); }

void RankerSeeds() {
  for (bool pos : {false, true}) {
    const ml::Dataset data = SchemaRows(pos);
    ml::LogisticParams lp;
    lp.epochs = 2;
    auto l = ml::TrainLogistic(lp, data);
    if (!l.ok()) std::abort();
    const std::string lbytes = l->model.Serialize();
    const std::string suffix = pos ? "_position" : "";
    Write("ranker", "logistic" + suffix, "L" + lbytes);
    Write("ranker", "logistic_payload" + suffix, "l" + Payload(lbytes));
    ml::GbdtParams gp;
    gp.rounds = 2;
    gp.max_depth = 2;
    auto g = ml::TrainGbdt(gp, data);
    if (!g.ok()) std::abort();
    auto gbytes = g->model.Serialize();
    if (!gbytes.ok()) std::abort();
    Write("ranker", "gbdt" + suffix, "G" + *gbytes);
    Write("ranker", "gbdt_payload" + suffix, "g" + Payload(*gbytes));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s tests/fuzz/corpus\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  ModelSeeds();
  RankerSeeds();
  return 0;
}
