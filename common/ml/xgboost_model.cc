#include "common/ml/xgboost_model.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace recstack::ml {
namespace {

using nlohmann::json;

static_assert(std::endian::native == std::endian::little, "UBJSON numbers are big-endian");

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("gbdt model: the XGBoost model ", what));
}

template <typename T>
T FromBigEndian(const char* p) {
  using U = std::conditional_t<
      sizeof(T) == 1, uint8_t,
      std::conditional_t<sizeof(T) == 2, uint16_t,
                         std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
  U u;
  std::memcpy(&u, p, sizeof(U));
  if constexpr (sizeof(U) == 2) u = __builtin_bswap16(u);
  if constexpr (sizeof(U) == 4) u = __builtin_bswap32(u);
  if constexpr (sizeof(U) == 8) u = __builtin_bswap64(u);
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}

// UBJSON as XGBoost writes it, every length and count checked against the
// bytes that are left before anything is read or allocated for it.
class UbjReader {
 public:
  explicit UbjReader(std::string_view in) : in_(in) {}

  absl::Status Document(json* out) {
    if (absl::Status st = Value(out, 0); !st.ok()) return st;
    if (pos_ != in_.size()) return Bad(absl::StrCat("has ", in_.size() - pos_, " bytes after it"));
    return absl::OkStatus();
  }

 private:
  size_t left() const { return in_.size() - pos_; }
  absl::Status Truncated() const { return Bad(absl::StrCat("ends early (byte ", pos_, ")")); }

  template <typename T>
  absl::Status Read(T* v) {
    if (left() < sizeof(T)) return Truncated();
    *v = FromBigEndian<T>(in_.data() + pos_);
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Number(json* out) {
    T v;
    if (absl::Status st = Read(&v); !st.ok()) return st;
    *out = v;
    return absl::OkStatus();
  }

  absl::Status Expect(char c) {
    if (left() < 1) return Truncated();
    if (in_[pos_] != c) {
      return Bad(absl::StrCat("has '", std::string(1, in_[pos_]), "' at byte ", pos_, " where '",
                              std::string(1, c), "' belongs"));
    }
    ++pos_;
    return absl::OkStatus();
  }

  // 'L' int64 n, then n bytes (XGBoost's keys and strings).
  absl::Status String(std::string* out) {
    if (absl::Status st = Expect('L'); !st.ok()) return st;
    int64_t n = 0;
    if (absl::Status st = Read(&n); !st.ok()) return st;
    if (n < 0 || static_cast<uint64_t>(n) > left()) {
      return Bad(absl::StrCat("has a string of ", n, " bytes with ", left(), " left"));
    }
    out->assign(in_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return absl::OkStatus();
  }

  absl::Status Value(json* out, int depth) {
    if (depth > kMaxXgboostDepth) return Bad("nests deeper than the trees do");
    if (left() < 1) return Truncated();
    const char c = in_[pos_++];
    switch (c) {
      case '{':
        return Object(out, depth);
      case '[':
        return Array(out, depth);
      case 'Z':
        *out = nullptr;
        return absl::OkStatus();
      case 'T':
        *out = true;
        return absl::OkStatus();
      case 'F':
        *out = false;
        return absl::OkStatus();
      case 'i':
      case 'C':
        return Number<int8_t>(out);
      case 'U':
        return Number<uint8_t>(out);
      case 'I':
        return Number<int16_t>(out);
      case 'l':
        return Number<int32_t>(out);
      case 'L':
        return Number<int64_t>(out);
      case 'd':
        return Number<float>(out);
      case 'S': {
        std::string s;
        if (absl::Status st = String(&s); !st.ok()) return st;
        *out = std::move(s);
        return absl::OkStatus();
      }
      default:
        return Bad(
            absl::StrCat("has the unknown marker ", static_cast<int>(c), " at byte ", pos_ - 1));
    }
  }

  absl::Status Object(json* out, int depth) {
    *out = json::object();
    while (true) {
      if (left() < 1) return Truncated();
      if (in_[pos_] == '}') {
        ++pos_;
        return absl::OkStatus();
      }
      std::string key;
      if (absl::Status st = String(&key); !st.ok()) return st;
      if (out->contains(key)) return Bad(absl::StrCat("has the key '", key, "' twice"));
      if (absl::Status st = Value(&(*out)[key], depth + 1); !st.ok()) return st;
    }
  }

  template <typename T>
  absl::Status TypedArray(int64_t n, json* out) {
    if (n < 0 || static_cast<uint64_t>(n) > left() / sizeof(T)) {
      return Bad(absl::StrCat("has an array of ", n, " values with ", left(), " bytes left"));
    }
    for (int64_t i = 0; i < n; ++i) {
      T v;
      if (absl::Status st = Read(&v); !st.ok()) return st;
      out->push_back(v);
    }
    return absl::OkStatus();
  }

  absl::Status Array(json* out, int depth) {
    *out = json::array();
    if (left() < 1) return Truncated();
    if (in_[pos_] == '$') {  // typed: $ TYPE # L count, then the values
      ++pos_;
      if (left() < 1) return Truncated();
      const char type = in_[pos_++];
      int64_t n = 0;
      for (absl::Status st : {Expect('#'), Expect('L'), Read(&n)}) {
        if (!st.ok()) return st;
      }
      switch (type) {
        case 'd':
          return TypedArray<float>(n, out);
        case 'U':
          return TypedArray<uint8_t>(n, out);
        case 'l':
          return TypedArray<int32_t>(n, out);
        case 'L':
          return TypedArray<int64_t>(n, out);
        default:
          return Bad(
              absl::StrCat("has a typed array of the unknown type ", static_cast<int>(type)));
      }
    }
    if (in_[pos_] == '#') {  // counted: # L count, then the values (each at least a byte)
      ++pos_;
      int64_t n = 0;
      for (absl::Status st : {Expect('L'), Read(&n)}) {
        if (!st.ok()) return st;
      }
      if (n < 0 || static_cast<uint64_t>(n) > left()) {
        return Bad(absl::StrCat("has an array of ", n, " values with ", left(), " bytes left"));
      }
      for (int64_t i = 0; i < n; ++i) {
        json v;
        if (absl::Status st = Value(&v, depth + 1); !st.ok()) return st;
        out->push_back(std::move(v));
      }
      return absl::OkStatus();
    }
    while (true) {
      if (left() < 1) return Truncated();
      if (in_[pos_] == ']') {
        ++pos_;
        return absl::OkStatus();
      }
      json v;
      if (absl::Status st = Value(&v, depth + 1); !st.ok()) return st;
      out->push_back(std::move(v));
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
};

const json* Member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// XGBoost writes its parameters as text: "num_nodes": "7".
bool IntParam(const json& obj, const char* key, int64_t* v) {
  const json* m = Member(obj, key);
  if (m == nullptr || !m->is_string()) return false;
  const std::string& s = m->get_ref<const std::string&>();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// `key` of `tree`: an array of n integers (or finite numbers when `floats`).
const json* NodeArray(const json& tree, const char* key, int64_t n, bool floats) {
  const json* a = Member(tree, key);
  if (a == nullptr || !a->is_array() || static_cast<int64_t>(a->size()) != n) return nullptr;
  for (const json& v : *a) {
    if (floats ? !(v.is_number() && std::isfinite(v.get<double>())) : !v.is_number_integer()) {
      return nullptr;
    }
  }
  return a;
}

absl::Status CheckTree(const json& tree, size_t index, size_t features) {
  const std::string what = absl::StrCat("tree ", index);
  auto bad = [&](const std::string& why) { return Bad(absl::StrCat("has a ", what, " ", why)); };
  const json* param = Member(tree, "tree_param");
  int64_t n = 0, tree_features = 0, leaf_vector = 0;
  if (param == nullptr || !IntParam(*param, "num_nodes", &n) || n < 1 || n > (1 << 30)) {
    return bad("without a node count");
  }
  if (!IntParam(*param, "num_feature", &tree_features) ||
      tree_features != static_cast<int64_t>(features)) {
    return bad("for another feature count");
  }
  if (Member(*param, "size_leaf_vector") != nullptr &&
      (!IntParam(*param, "size_leaf_vector", &leaf_vector) || leaf_vector != 0)) {
    return bad("with vector leaves");
  }
  const json* id_json = Member(tree, "id");
  if (id_json == nullptr || !id_json->is_number_integer() ||
      id_json->get<int64_t>() != static_cast<int64_t>(index)) {
    return bad(absl::StrCat("whose id is not ", index));
  }
  for (const char* f : {"split_conditions", "base_weights", "loss_changes", "sum_hessian"}) {
    if (NodeArray(tree, f, n, true) == nullptr) {
      return bad(absl::StrCat("whose ", f, " are not ", n, " finite numbers"));
    }
  }
  const json* left = NodeArray(tree, "left_children", n, false);
  const json* right = NodeArray(tree, "right_children", n, false);
  const json* parents = NodeArray(tree, "parents", n, false);
  const json* split = NodeArray(tree, "split_indices", n, false);
  const json* dflt = NodeArray(tree, "default_left", n, false);
  if (left == nullptr || right == nullptr || parents == nullptr || split == nullptr ||
      dflt == nullptr) {
    return bad(absl::StrCat("whose node arrays are not ", n, " integers each"));
  }
  // Categorical splits: never trained here; only the empty arrays XGBoost writes.
  if (Member(tree, "split_type") != nullptr) {
    const json* t = NodeArray(tree, "split_type", n, false);
    if (t == nullptr) return bad("whose split types are garbled");
    for (const json& v : *t) {
      if (v.get<int64_t>() != 0) return bad("with a categorical split");
    }
  }
  for (const char* f :
       {"categories", "categories_nodes", "categories_segments", "categories_sizes"}) {
    const json* c = Member(tree, f);
    if (c != nullptr && !(c->is_array() && c->empty())) return bad("with categories");
  }
  // Each node but the root is the child of exactly one node before it: a
  // tree, with every index prediction follows in range.
  std::vector<uint8_t> claimed(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    const size_t at = static_cast<size_t>(i);
    const int64_t l = (*left)[at].get<int64_t>(), r = (*right)[at].get<int64_t>();
    const int64_t d = (*dflt)[at].get<int64_t>();
    if (d != 0 && d != 1) return bad(absl::StrCat("whose node ", i, " has a default of ", d));
    if (l == -1 && r == -1) continue;  // a leaf
    if (l <= i || l >= n || r <= i || r >= n || l == r) {
      return bad(absl::StrCat("whose node ", i, " has the children ", l, " and ", r));
    }
    const int64_t f = (*split)[at].get<int64_t>();
    if (f < 0 || f >= static_cast<int64_t>(features)) {
      return bad(absl::StrCat("whose node ", i, " splits on feature ", f));
    }
    for (int64_t c : {l, r}) {
      const size_t child = static_cast<size_t>(c);
      if (claimed[child]++ != 0) return bad(absl::StrCat("whose node ", c, " has two parents"));
      if ((*parents)[child].get<int64_t>() != i) {
        return bad(absl::StrCat("whose node ", c, " names another parent"));
      }
    }
  }
  for (int64_t j = 1; j < n; ++j) {
    if (claimed[static_cast<size_t>(j)] == 0)
      return bad(absl::StrCat("whose node ", j, " has no parent"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckXgboostModel(std::string_view ubjson, size_t features,
                               std::string_view objective) {
  json doc;
  if (absl::Status st = UbjReader(ubjson).Document(&doc); !st.ok()) return st;
  const json* learner = Member(doc, "learner");
  const json* param = learner == nullptr ? nullptr : Member(*learner, "learner_model_param");
  int64_t n_features = 0, n_class = 0, n_target = 1;
  if (param == nullptr || !IntParam(*param, "num_feature", &n_features) ||
      n_features != static_cast<int64_t>(features)) {
    return Bad(absl::StrCat("is not a learner of ", features, " features"));
  }
  if (Member(*param, "num_class") != nullptr &&
      (!IntParam(*param, "num_class", &n_class) || n_class > 1)) {
    return Bad("has more than one class");
  }
  if (Member(*param, "num_target") != nullptr &&
      (!IntParam(*param, "num_target", &n_target) || n_target != 1)) {
    return Bad("has more than one target");
  }
  const json* obj = Member(*learner, "objective");
  const json* name = obj == nullptr ? nullptr : Member(*obj, "name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>() != objective) {
    return Bad(absl::StrCat("is not a ", std::string(objective), " model"));
  }
  const json* booster = Member(*learner, "gradient_booster");
  const json* booster_name = booster == nullptr ? nullptr : Member(*booster, "name");
  const json* model = booster == nullptr ? nullptr : Member(*booster, "model");
  if (booster_name == nullptr || *booster_name != "gbtree" || model == nullptr) {
    return Bad("is not a gbtree booster");
  }
  const json* trees = Member(*model, "trees");
  const json* info = Member(*model, "tree_info");
  const json* gb_param = Member(*model, "gbtree_model_param");
  int64_t n_trees = 0, parallel = 0;
  if (trees == nullptr || !trees->is_array() || trees->empty() || info == nullptr ||
      !info->is_array() || info->size() != trees->size() || gb_param == nullptr ||
      !IntParam(*gb_param, "num_trees", &n_trees) ||
      n_trees != static_cast<int64_t>(trees->size()) ||
      !IntParam(*gb_param, "num_parallel_tree", &parallel) || parallel != 1) {
    return Bad("does not list its trees consistently");
  }
  // Vector leaves: XGBoost 1.7 loads them and then refuses to predict.
  int64_t leaf_vector = 0;
  if (Member(*gb_param, "size_leaf_vector") != nullptr &&
      (!IntParam(*gb_param, "size_leaf_vector", &leaf_vector) || leaf_vector != 0)) {
    return Bad("has vector leaves");
  }
  for (const json& group : *info) {
    if (!group.is_number_integer() || group.get<int64_t>() != 0) {
      return Bad("has a tree for another output group");
    }
  }
  for (size_t i = 0; i < trees->size(); ++i) {
    if (absl::Status st = CheckTree((*trees)[i], i, features); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace recstack::ml
