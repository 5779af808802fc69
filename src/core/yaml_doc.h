// A parsed YAML document as a small read-only tree, built from libyaml's event
// API. yaml-cpp took 90% of `lb apply` on a 10k-service file (0.85 s); libyaml's
// parser plus this flat tree take about a seventh of that.
//
// The tree keeps what the config readers need: the kind of each node, its
// 1-based line (for "file:line: what is wrong"), scalar text, and map entries in
// file order. Tags are not kept, except that they make a scalar "not null".
// Nodes live in one vector and refer to their children by index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string_view>
#include <type_traits>

#include "core/result.h"

namespace cgscope {

enum class YamlKind : uint8_t { null, scalar, seq, map };

class YamlNode;
struct YamlEntry {
  const YamlNode& key;
  const YamlNode& value;
};

namespace detail {
struct YamlData;
// A run of child indices, read as nodes (sequence items) or as key/value pairs
// (map entries).
template <class T>
class YamlRange {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using reference = std::conditional_t<std::is_same_v<T, YamlEntry>, YamlEntry, const YamlNode&>;
    using pointer = void;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const uint32_t* pos, const YamlNode* nodes) : pos_(pos), nodes_(nodes) {}
    reference operator*() const;
    iterator& operator++() {
      pos_ += kStep;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const iterator& o) const { return pos_ == o.pos_; }

   private:
    const uint32_t* pos_ = nullptr;
    const YamlNode* nodes_ = nullptr;
  };
  static constexpr int kStep = std::is_same_v<T, YamlEntry> ? 2 : 1;

  YamlRange() = default;
  YamlRange(const uint32_t* begin, const uint32_t* end, const YamlNode* nodes)
      : begin_(begin), end_(end), nodes_(nodes) {}
  iterator begin() const { return {begin_, nodes_}; }
  iterator end() const { return {end_, nodes_}; }
  size_t size() const { return static_cast<size_t>(end_ - begin_) / kStep; }
  bool empty() const { return begin_ == end_; }

 private:
  const uint32_t* begin_ = nullptr;
  const uint32_t* end_ = nullptr;
  const YamlNode* nodes_ = nullptr;
};
class YamlBuilder;
}  // namespace detail

class YamlNode {
 public:
  YamlKind kind() const { return kind_; }
  int line() const { return line_; }  // 1-based
  bool is_null() const { return kind_ == YamlKind::null; }
  bool is_scalar() const { return kind_ == YamlKind::scalar; }
  bool is_seq() const { return kind_ == YamlKind::seq; }
  bool is_map() const { return kind_ == YamlKind::map; }

  // The text of a scalar; "" for every other kind (null included).
  std::string_view scalar() const;
  // The value of the first entry whose key is the scalar `key`; nullptr if there
  // is none or this is not a map.
  const YamlNode* find(std::string_view key) const;
  // A sequence's items; empty for every other kind.
  detail::YamlRange<YamlNode> items() const;
  // A map's entries in file order; empty for other kinds. No two scalar (or
  // null) keys of one map are the same: parse_yaml refuses such a document.
  detail::YamlRange<YamlEntry> entries() const;

 private:
  friend class detail::YamlBuilder;
  const detail::YamlData* data_ = nullptr;
  // scalar: byte range in the text pool; seq/map: range in the child index pool.
  uint32_t begin_ = 0;
  uint32_t end_ = 0;
  int line_ = 0;
  YamlKind kind_ = YamlKind::null;
};

template <class T>
typename detail::YamlRange<T>::iterator::reference detail::YamlRange<T>::iterator::operator*() const {
  if constexpr (std::is_same_v<T, YamlEntry>) return YamlEntry{nodes_[pos_[0]], nodes_[pos_[1]]};
  else return nodes_[*pos_];
}

class YamlDoc {
 public:
  YamlDoc(YamlDoc&&) noexcept;
  YamlDoc& operator=(YamlDoc&&) noexcept;
  ~YamlDoc();
  // The document's top node: a null node on line 1 for an empty stream.
  const YamlNode& root() const;

 private:
  friend class detail::YamlBuilder;
  YamlDoc();
  std::unique_ptr<detail::YamlData> data_;  // on the heap, so nodes' pointers to it survive moves
  uint32_t root_ = 0;
};

// Parses one YAML document. A plain scalar "", "~", "null", "Null" or "NULL"
// without a tag is a null node (as yaml-cpp read it); aliases resolve to the
// anchored node; a second document, nesting over 256 deep, and a key given
// twice in one mapping (compared by text: `k` and `"k"` are one key, as every
// reader here takes them) are errors. Errors read "line N: problem".
Result<YamlDoc> parse_yaml(std::string_view text);

}  // namespace cgscope
