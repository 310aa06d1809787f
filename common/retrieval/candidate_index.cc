#include "common/retrieval/candidate_index.h"

#include <hnswlib/hnswlib.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <set>
#include <thread>

#include "common/math/kernels.h"
#include "common/math/simd.h"

// hnswlib links a new element to at most M_ neighbours on every level, level
// 0 included, although level-0 lists hold maxM0_ = 2 * M_ (the HNSW paper's
// Mmax0); FAISS's HNSW::add_links_starting_from keeps up to 2 * M at level 0
// (nb_neighbors(0)). With M = 32 on 100k x 64 random vectors, that alone made
// our recall@10 at ef 128 about 0.02 lower than FAISS IndexHNSWFlat at the same
// M, efConstruction and ef. This specialisation of hnswlib 0.6.2's
// mutuallyConnectNewElement is the library's own code with that one change:
// the heuristic selects up to Mcurmax (maxM0_ at level 0, maxM_ above). It is
// defined before HierarchicalNSW<float> is instantiated, and this is the only
// file that instantiates hnswlib (the header only forward-declares it).
namespace hnswlib {
template <>
tableint HierarchicalNSW<float>::mutuallyConnectNewElement(
    const void* data_point, tableint cur_c,
    std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>,
                        CompareByFirst>& top_candidates,
    int level, bool isUpdate) {
  (void)data_point;
  const size_t Mcurmax = level ? maxM_ : maxM0_;
  getNeighborsByHeuristic2(top_candidates, Mcurmax);  // stock hnswlib: M_
  if (top_candidates.size() > Mcurmax)
    throw std::runtime_error("heuristic returned more than Mcurmax");
  std::vector<tableint> selected;
  selected.reserve(Mcurmax);
  while (!top_candidates.empty()) {
    selected.push_back(top_candidates.top().second);
    top_candidates.pop();
  }
  const tableint next_closest_entry_point = selected.back();
  {
    linklistsizeint* ll_cur = level == 0 ? get_linklist0(cur_c) : get_linklist(cur_c, level);
    if (*ll_cur && !isUpdate)
      throw std::runtime_error("The newly inserted element should have blank link list");
    setListCount(ll_cur, static_cast<unsigned short>(selected.size()));
    tableint* data = reinterpret_cast<tableint*>(ll_cur + 1);
    for (size_t idx = 0; idx < selected.size(); ++idx) {
      if (data[idx] && !isUpdate) throw std::runtime_error("Possible memory corruption");
      if (level > element_levels_[selected[idx]])
        throw std::runtime_error("Link on a non-existent level");
      data[idx] = selected[idx];
    }
  }
  for (const tableint other : selected) {
    std::unique_lock<std::mutex> lock(link_list_locks_[other]);
    linklistsizeint* ll_other = level == 0 ? get_linklist0(other) : get_linklist(other, level);
    const size_t sz = getListCount(ll_other);
    if (sz > Mcurmax) throw std::runtime_error("Bad value of sz_link_list_other");
    if (other == cur_c) throw std::runtime_error("Trying to connect an element to itself");
    if (level > element_levels_[other]) throw std::runtime_error("Link on a non-existent level");
    tableint* data = reinterpret_cast<tableint*>(ll_other + 1);
    if (isUpdate && std::find(data, data + sz, cur_c) != data + sz) continue;
    if (sz < Mcurmax) {
      data[sz] = cur_c;
      setListCount(ll_other, static_cast<unsigned short>(sz + 1));
      continue;
    }
    // Full: keep the heuristic's choice among the old links and cur_c.
    std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>,
                        CompareByFirst>
        cand;
    cand.emplace(
        fstdistfunc_(getDataByInternalId(cur_c), getDataByInternalId(other), dist_func_param_),
        cur_c);
    for (size_t j = 0; j < sz; ++j)
      cand.emplace(
          fstdistfunc_(getDataByInternalId(data[j]), getDataByInternalId(other), dist_func_param_),
          data[j]);
    getNeighborsByHeuristic2(cand, Mcurmax);
    size_t indx = 0;
    while (!cand.empty()) {
      data[indx++] = cand.top().second;
      cand.pop();
    }
    setListCount(ll_other, static_cast<unsigned short>(indx));
  }
  return next_closest_entry_point;
}
}  // namespace hnswlib

namespace recstack::retrieval {
namespace {

// Scores are computed in blocks so the scratch stays in L2 and the heap
// sees each block while it is hot.
constexpr int64_t kBlock = 4096;
constexpr int64_t kMaxInt8Dim = 1024;  // the AVX2 path's query scratch

// out[r] = <codes row r, q> in exact integer arithmetic (|out| <= 127^2 d).
void Int8RowDotsPlain(const int8_t* codes, int64_t rows, int64_t d, const int8_t* q, int32_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row = codes + r * d;
    int32_t acc = 0;
    for (int64_t j = 0; j < d; ++j)
      acc += static_cast<int32_t>(row[j]) * static_cast<int32_t>(q[j]);
    out[r] = acc;
  }
}

// Eight partial sums of <row, q16> (d % 16 == 0).
RECSTACK_TARGET_AVX2 inline __m256i Int8RowSumsAvx2(const int8_t* row, const int16_t* q16,
                                                    int64_t d) {
  __m256i acc = _mm256_setzero_si256();
  for (int64_t j = 0; j < d; j += 16) {
    const __m256i c =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j)));
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q16 + j));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(c, w));
  }
  return acc;
}

// AVX2, d % 16 == 0: codes widened to int16, vpmaddwd against the widened
// query, eight rows reduced together (horizontal adds amortised).
RECSTACK_TARGET_AVX2 void Int8RowDotsAvx2(const int8_t* codes, int64_t rows, int64_t d,
                                          const int8_t* q, int32_t* out) {
  alignas(32) int16_t q16[kMaxInt8Dim];
  for (int64_t j = 0; j < d; ++j) q16[j] = q[j];
  int64_t r = 0;
  for (; r + 8 <= rows; r += 8) {
    const int8_t* base = codes + r * d;
    const __m256i h01 =
        _mm256_hadd_epi32(Int8RowSumsAvx2(base, q16, d), Int8RowSumsAvx2(base + d, q16, d));
    const __m256i h23 = _mm256_hadd_epi32(Int8RowSumsAvx2(base + 2 * d, q16, d),
                                          Int8RowSumsAvx2(base + 3 * d, q16, d));
    const __m256i h45 = _mm256_hadd_epi32(Int8RowSumsAvx2(base + 4 * d, q16, d),
                                          Int8RowSumsAvx2(base + 5 * d, q16, d));
    const __m256i h67 = _mm256_hadd_epi32(Int8RowSumsAvx2(base + 6 * d, q16, d),
                                          Int8RowSumsAvx2(base + 7 * d, q16, d));
    const __m256i h0123 = _mm256_hadd_epi32(h01, h23);  // lanes: r0 r1 r2 r3 | r0 r1 r2 r3 (halves)
    const __m256i h4567 = _mm256_hadd_epi32(h45, h67);
    const __m256i lo = _mm256_permute2x128_si256(h0123, h4567, 0x20);
    const __m256i hi = _mm256_permute2x128_si256(h0123, h4567, 0x31);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r), _mm256_add_epi32(lo, hi));
  }
  Int8RowDotsPlain(codes + r * d, rows - r, d, q, out + r);
}

void Int8RowDots(const int8_t* codes, int64_t rows, int64_t d, const int8_t* q, int32_t* out) {
  static const bool avx2 = math::ActiveSimdLevel() >= math::SimdLevel::kAvx2;
  if (avx2 && d % 16 == 0 && d <= kMaxInt8Dim) {
    Int8RowDotsAvx2(codes, rows, d, q, out);
  } else {
    Int8RowDotsPlain(codes, rows, d, q, out);
  }
}

// upper[r] = an upper bound of the fp32 score of row r (see the header);
// lower[r] = the matching lower bound.
inline __attribute__((always_inline)) void Int8BoundsBody(const int32_t* dots, const float* scale,
                                                          const float* l1, int64_t rows,
                                                          float qscale, float half_qscale,
                                                          float half_q1, float fp_slack,
                                                          float* lower, float* upper) {
  for (int64_t r = 0; r < rows; ++r) {
    const float approx = qscale * scale[r] * static_cast<float>(dots[r]);
    // Quantisation error of both sides; fp_slack * scale is the fp32
    // kernel's own error (gamma_d |q|_1 max_j |y_ij|). The relative 1e-4
    // covers rounding: y / s before lrint (|y - s c| <= s/2 (1 + 254 u)),
    // and the few ulps of the float arithmetic here.
    const float err =
        scale[r] * (half_qscale * l1[r] + half_q1 + fp_slack) * 1.0001f + 1e-5f * std::fabs(approx);
    lower[r] = approx - err;
    upper[r] = approx + err;
  }
}

// The variants, chosen once by CPU features (common/math/simd.h).
void Int8BoundsDefault(const int32_t* dots, const float* scale, const float* l1, int64_t rows,
                       float qscale, float half_qscale, float half_q1, float fp_slack, float* lower,
                       float* upper) {
  Int8BoundsBody(dots, scale, l1, rows, qscale, half_qscale, half_q1, fp_slack, lower, upper);
}
RECSTACK_TARGET_AVX2 void Int8BoundsAvx2(const int32_t* dots, const float* scale, const float* l1,
                                         int64_t rows, float qscale, float half_qscale,
                                         float half_q1, float fp_slack, float* lower,
                                         float* upper) {
  Int8BoundsBody(dots, scale, l1, rows, qscale, half_qscale, half_q1, fp_slack, lower, upper);
}
RECSTACK_TARGET_AVX512 void Int8BoundsAvx512(const int32_t* dots, const float* scale,
                                             const float* l1, int64_t rows, float qscale,
                                             float half_qscale, float half_q1, float fp_slack,
                                             float* lower, float* upper) {
  Int8BoundsBody(dots, scale, l1, rows, qscale, half_qscale, half_q1, fp_slack, lower, upper);
}
using Int8BoundsFn = void(const int32_t*, const float*, const float*, int64_t, float, float, float,
                          float, float*, float*);
constexpr math::SimdVariants<Int8BoundsFn> kInt8Bounds{Int8BoundsDefault, Int8BoundsAvx2,
                                                       Int8BoundsAvx512};
void Int8Bounds(const int32_t* dots, const float* scale, const float* l1, int64_t rows,
                float qscale, float half_qscale, float half_q1, float fp_slack, float* lower,
                float* upper) {
  static Int8BoundsFn* const fn = kInt8Bounds.For(math::ActiveSimdLevel());
  fn(dots, scale, l1, rows, qscale, half_qscale, half_q1, fp_slack, lower, upper);
}

thread_local int64_t tl_rescored = 0;

}  // namespace

std::vector<math::ScoredId> ExactIndex::Search(const float* query, int k, const Skip& skip) const {
  if (k <= 0) return {};
  const int64_t n = factors_.rows(), d = factors_.cols();
  math::TopKHeap heap(k);
  float scores[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    math::RowDots(factors_.row(b), len, d, query, scores);
    for (int64_t j = 0; j < len; ++j) {
      if (heap.Full() && scores[j] < heap.Worst().score) continue;
      const int32_t id = static_cast<int32_t>(b + j);
      if (skip && skip(id)) continue;
      heap.Push(id, scores[j]);
    }
  }
  return heap.Take();
}

Int8ExactIndex::Int8ExactIndex(const math::Matrix& factors) : factors_(factors) {
  const int64_t n = factors.rows(), d = factors.cols();
  codes_.resize(static_cast<size_t>(n * d));
  scale_.resize(n);
  l1_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* y = factors.row(i);
    float maxabs = 0;
    for (int64_t j = 0; j < d; ++j) maxabs = std::max(maxabs, std::fabs(y[j]));
    const float s = maxabs > 0 ? maxabs / 127.0f : 1.0f;
    int32_t l1 = 0;
    for (int64_t j = 0; j < d; ++j) {
      const int32_t c = std::clamp(static_cast<int32_t>(std::lrint(y[j] / s)), -127, 127);
      codes_[i * d + j] = static_cast<int8_t>(c);
      l1 += std::abs(c);
    }
    // |y_ij - s c_ij| <= s / 2 up to the rounding of y / s; the bound's
    // relative slack (Int8Bounds) covers that.
    scale_[i] = s;
    l1_[i] = static_cast<float>(l1);
  }
}

size_t Int8ExactIndex::memory_bytes() const {
  return codes_.size() * sizeof(int8_t) + (scale_.size() + l1_.size()) * sizeof(float);
}

int64_t Int8ExactIndex::last_rescored() { return tl_rescored; }

std::vector<math::ScoredId> Int8ExactIndex::Search(const float* query, int k,
                                                   const Skip& skip) const {
  if (k <= 0) return {};
  const int64_t n = factors_.rows(), d = factors_.cols();
  double qmax_sum = 0, q1_sum = 0;
  for (int64_t j = 0; j < d; ++j) {
    qmax_sum = std::max(qmax_sum, static_cast<double>(std::fabs(query[j])));
    q1_sum += std::fabs(query[j]);
  }
  const float qmax = static_cast<float>(qmax_sum), q1 = static_cast<float>(q1_sum);
  if (!(qmax > 0) || !std::isfinite(q1)) return ExactIndex(factors_).Search(query, k, skip);
  const float qscale = qmax / 127.0f;
  std::vector<int8_t> qcodes(d);
  for (int64_t j = 0; j < d; ++j)
    qcodes[j] = static_cast<int8_t>(
        std::clamp(static_cast<int32_t>(std::lrint(query[j] / qscale)), -127, 127));
  // The fp32 kernel's error: gamma_d sum_j |q_j y_ij| <= gamma_d |q|_1 127 s_i,
  // with gamma_d = d u / (1 - d u) < 2 d 2^-24; doubled for safety.
  const float fp_slack = 4.0f * static_cast<float>(d) * 0x1p-24f * q1 * 127.0f;
  // The k largest lower bounds (a min-heap): rows whose upper bound is below
  // its top can never be in the top k.
  std::priority_queue<float, std::vector<float>, std::greater<float>> lows;
  float threshold = -std::numeric_limits<float>::infinity();
  std::vector<std::pair<int32_t, float>> survivors;  // (row, upper bound)
  int32_t dots[kBlock];
  float lower[kBlock], upper[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    Int8RowDots(codes_.data() + b * d, len, d, qcodes.data(), dots);
    Int8Bounds(dots, scale_.data() + b, l1_.data() + b, len, qscale, 0.5f * qscale, 0.5f * q1,
               fp_slack, lower, upper);
    for (int64_t j = 0; j < len; ++j) {
      if (!(upper[j] >= threshold)) continue;  // NaN rows never survive
      const int32_t id = static_cast<int32_t>(b + j);
      if (skip && skip(id)) continue;
      survivors.push_back({id, upper[j]});
      if (static_cast<int>(lows.size()) < k) {
        lows.push(lower[j]);
      } else if (lower[j] > lows.top()) {
        lows.pop();
        lows.push(lower[j]);
      }
      if (static_cast<int>(lows.size()) == k) threshold = lows.top();
    }
  }
  // Exact fp32 scores, with ExactIndex's kernel (bit-identical scores, so the
  // same order and the same ties by id).
  math::TopKHeap heap(k);
  int64_t rescored = 0;
  for (const auto& [id, up] : survivors) {
    if (up < threshold) continue;
    float score;
    math::RowDots(factors_.row(id), 1, d, query, &score);
    ++rescored;
    if (heap.Full() && score < heap.Worst().score) continue;
    heap.Push(id, score);
  }
  tl_rescored = rescored;
  return heap.Take();
}

namespace {

// hnswlib's InnerProductSpace picks its kernel when it is compiled: SSE in
// this generic x86-64 build, whatever the CPU. This space is the same
// distance, 1 - <a, b>, with our kernel chosen by CPU features at run time
// (common/math/simd.h): AVX-512 or AVX2+FMA where the machine has them.
float InnerProductDistance(const void* a, const void* b, const void* dim) {
  return 1.0f - math::Dot(static_cast<const float*>(a), static_cast<const float*>(b),
                          static_cast<int64_t>(*static_cast<const size_t*>(dim)));
}

class InnerProductSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit InnerProductSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return InnerProductDistance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
};

}  // namespace

HnswIndex::HnswIndex(const math::Matrix& factors, HnswParams p)
    : n_(factors.rows()), ef_(p.ef_search) {
  space_ = std::make_unique<InnerProductSpace>(static_cast<size_t>(factors.cols()));
  index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      space_.get(), static_cast<size_t>(n_), static_cast<size_t>(p.m),
      static_cast<size_t>(p.ef_construction), p.seed);
  // hnswlib's addPoint is thread-safe; the first point goes in alone.
  if (n_ > 0) index_->addPoint(factors.row(0), 0);
  std::atomic<int64_t> next{1};
  auto work = [&] {
    for (int64_t i = next++; i < n_; i = next++)
      index_->addPoint(factors.row(i), static_cast<size_t>(i));
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, p.threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  index_->setEf(static_cast<size_t>(ef_));
}

HnswIndex::~HnswIndex() = default;

void HnswIndex::set_ef(int ef) {
  ef_ = ef;
  index_->setEf(static_cast<size_t>(ef));
}

double HnswIndex::level0_mean_degree() const {
  if (n_ == 0) return 0;
  double links = 0;
  for (int64_t i = 0; i < n_; ++i)
    links += index_->getListCount(index_->get_linklist0(static_cast<hnswlib::tableint>(i)));
  return links / static_cast<double>(n_);
}

size_t HnswIndex::memory_bytes() const {
  // Level-0 records (links + a copy of the vector + label) dominate.
  return index_->max_elements_ * index_->size_data_per_element_ +
         index_->cur_element_count * sizeof(void*);
}

namespace {

// hnswlib 0.6 cannot filter inside a search (0.7's BaseFilterFunctor can),
// and asking it for more and searching again, twice as wide, cost two or
// three searches per Recommend: a user's own items are the nearest to
// their vector. This is its searchKnn (greedy descent, then the level-0
// beam of searchBaseLayerST with deletions) with `skip` where it checks
// deletion marks: a skipped element is walked through but never enters the
// results, so one beam of width max(ef, k) returns the best k allowed ids.
std::vector<math::ScoredId> SearchFiltered(const hnswlib::HierarchicalNSW<float>& h,
                                           const float* query, size_t k, size_t ef,
                                           const Skip& skip) {
  using hnswlib::tableint;
  using Pair = std::pair<float, tableint>;
  using Heap =
      std::priority_queue<Pair, std::vector<Pair>, hnswlib::HierarchicalNSW<float>::CompareByFirst>;
  if (h.cur_element_count == 0 || k == 0) return {};
  auto dist = [&](tableint id) {
    return h.fstdistfunc_(query, h.getDataByInternalId(id), h.dist_func_param_);
  };
  auto allowed = [&](tableint id) {
    return !skip || !skip(static_cast<int32_t>(h.getExternalLabel(id)));
  };
  tableint cur = h.enterpoint_node_;
  float cur_dist = dist(cur);
  for (int level = h.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      hnswlib::linklistsizeint* ll = h.get_linklist(cur, level);
      const int size = h.getListCount(ll);
      const tableint* links = reinterpret_cast<const tableint*>(ll + 1);
      for (int i = 0; i < size; ++i) {
        const float d = dist(links[i]);
        if (d < cur_dist) {
          cur_dist = d;
          cur = links[i];
          changed = true;
        }
      }
    }
  }
  hnswlib::VisitedList* vl = h.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = vl->mass;
  const hnswlib::vl_type tag = vl->curV;
  Heap top;         // the best allowed so far, worst on top (at most ef)
  Heap candidates;  // to expand, nearest on top (distances negated)
  float lower_bound = std::numeric_limits<float>::max();
  if (allowed(cur)) {
    lower_bound = cur_dist;
    top.emplace(cur_dist, cur);
  }
  candidates.emplace(-cur_dist, cur);
  visited[cur] = tag;
  // Each level-0 record holds the vector (256 bytes at 64 factors: four
  // cache lines) and then the label. hnswlib prefetches the first line of
  // the next neighbour only, so the distances waited on one miss after
  // another (the dot kernel was a quarter of retrieval's CPU, stalled on
  // memory). Here a node's unvisited neighbours are gathered first and
  // every line of their records prefetched, so the misses overlap; the
  // distances then run in the same order as before (same results).
  const size_t record_bytes = h.data_size_ + sizeof(hnswlib::labeltype);
  thread_local std::vector<tableint> fresh;
  while (!candidates.empty()) {
    const Pair next = candidates.top();
    if (-next.first > lower_bound && top.size() == ef) break;
    candidates.pop();
    hnswlib::linklistsizeint* ll = h.get_linklist0(next.second);
    const size_t size = h.getListCount(ll);
    const tableint* links = reinterpret_cast<const tableint*>(ll + 1);
    fresh.clear();
    for (size_t j = 0; j < size; ++j) {
      const tableint id = links[j];
      if (visited[id] == tag) continue;
      visited[id] = tag;
      fresh.push_back(id);
      const char* record = h.getDataByInternalId(id);
      for (size_t off = 0; off < record_bytes; off += 64) _mm_prefetch(record + off, _MM_HINT_T0);
    }
    for (const tableint id : fresh) {
      const float d = dist(id);
      if (top.size() < ef || d < lower_bound) {
        candidates.emplace(-d, id);
        if (allowed(id)) {
          top.emplace(d, id);
          if (top.size() > ef) top.pop();
          lower_bound = top.top().first;
        }
      }
    }
  }
  h.visited_list_pool_->releaseVisitedList(vl);
  while (top.size() > k) top.pop();
  std::vector<math::ScoredId> out;
  out.reserve(top.size());
  for (; !top.empty(); top.pop()) {
    // InnerProductSpace distance is 1 - <q, v>.
    out.push_back(
        {static_cast<int32_t>(h.getExternalLabel(top.top().second)), 1.0f - top.top().first});
  }
  std::sort(out.begin(), out.end(), math::Better);
  return out;
}

}  // namespace

std::vector<math::ScoredId> HnswIndex::Search(const float* query, int k, const Skip& skip) const {
  if (k <= 0 || n_ == 0) return {};
  const size_t want = static_cast<size_t>(std::min<int64_t>(k, n_));
  return SearchFiltered(*index_, query, want, std::max(want, static_cast<size_t>(ef_)), skip);
}

double RecallAtK(const CandidateIndex& approx, const CandidateIndex& exact,
                 const math::Matrix& queries, int k) {
  if (queries.rows() == 0) return 1.0;
  double hits = 0, total = 0;
  for (int64_t q = 0; q < queries.rows(); ++q) {
    auto truth = exact.Search(queries.row(q), k, nullptr);
    auto got = approx.Search(queries.row(q), k, nullptr);
    std::set<int32_t> want;
    for (const auto& t : truth) want.insert(t.id);
    for (const auto& g : got) hits += want.count(g.id);
    total += static_cast<double>(truth.size());
  }
  return total > 0 ? hits / total : 1.0;
}

double HnswIndex::TuneEf(const CandidateIndex& exact, const math::Matrix& queries, double target,
                         int max_ef) {
  double recall = RecallAtK(*this, exact, queries, 10);
  while (recall < target && ef_ < max_ef) {
    set_ef(std::min(max_ef, ef_ * 2));
    recall = RecallAtK(*this, exact, queries, 10);
  }
  return recall;
}

}  // namespace recstack::retrieval
