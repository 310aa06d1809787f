// The learned rankers' records (common/rank/learned.h, common/ml/envelope.h,
// logistic.h, gbdt.h) as ranking reads them from rs:model:{v}:blob, on any
// bytes. The first byte says what the rest is:
//   'L' / 'G'  a whole record for the logistic / gbdt kind (envelope
//              included: magic, version, length, CRC-32)
//   'l' / 'g'  a payload, sealed here with the kind's magic and version so
//              the checksum passes and the payload parser (and XGBoost's
//              model loader) sees the bytes
// A model that is accepted must be servable as the schema says: dims() the
// feature schema (with or without position), one score per row, and an
// explanation of dims() contributions plus the bias for every row.
#include <cmath>
#include <string>

#include "common/ml/envelope.h"
#include "common/ml/gbdt.h"
#include "common/ml/logistic.h"
#include "common/rank/learned.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace rk = recstack::ranking;
namespace ml = recstack::ml;

void CheckServable(const rk::RankerModel& m, rk::LearnedKind kind) {
  FUZZ_CHECK(m.kind() == kind && m.version() == "v1");
  FUZZ_CHECK(m.dims() == static_cast<size_t>(rk::kNumFeatures) + (m.with_position() ? 1 : 0));
  std::vector<rk::FeatureRow> rows(3);
  for (int f = 0; f < rk::kNumFeatures; ++f) {
    rows[0].f[f] = f;
    rows[1].f[f] = -1e6 * f;
    rows[2].f[f] = std::nan("");  // missing everywhere
  }
  const std::vector<double> scores = m.ScoreRows(rows);
  FUZZ_CHECK(scores.size() == rows.size());
  const std::vector<std::vector<rk::Contribution>> explained = m.Explain({&rows[0], &rows[2]});
  FUZZ_CHECK(explained.size() == 2);
  for (const auto& e : explained) {
    FUZZ_CHECK(e.size() == m.dims() + 1);
    FUZZ_CHECK(e.front().feature == rk::kBiasFeature);
  }
  // A row of the wrong width is refused, not read past its end.
  const std::vector<float> short_row(m.dims() - 1, 0.f);
  FUZZ_CHECK(!m.Predict(short_row).ok() || m.dims() == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recstack::fuzz::Input in(data, size);
  const uint8_t mode = in.Byte();
  const bool gbdt = mode == 'G' || mode == 'g';
  const rk::LearnedKind kind = gbdt ? rk::LearnedKind::kGbdt : rk::LearnedKind::kLogistic;
  std::string bytes(in.Take());
  if (mode == 'g') bytes = ml::Seal(ml::GbdtModel::kMagic, ml::GbdtModel::kFormatVersion, bytes);
  if (mode == 'l') {
    bytes = ml::Seal(ml::LogisticModel::kMagic, ml::LogisticModel::kFormatVersion, bytes);
  }
  auto model = rk::RankerModel::FromBytes(kind, "v1", bytes);
  if (!model.ok()) {
    FUZZ_CHECK(model.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CheckServable(**model, kind);
  return 0;
}
