#include "core/yaml_doc.h"

#include <yaml.h>

#include <algorithm>
#include <climits>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace cgscope {

namespace detail {

struct YamlData {
  std::vector<YamlNode> nodes;
  std::vector<uint32_t> children;  // each seq's items, each map's key,value pairs: one run per container
  std::string text;                // scalar bytes, back to back
};

namespace {

// One libyaml parser, freed however parse_yaml returns.
class Parser {
 public:
  Parser() { ok_ = yaml_parser_initialize(&p_) == 1; }
  ~Parser() {
    if (ok_) yaml_parser_delete(&p_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  bool ok() const { return ok_; }
  yaml_parser_t* get() { return &p_; }

 private:
  yaml_parser_t p_{};
  bool ok_ = false;
};

// One event; libyaml allocates its anchor, tag and value.
struct Event {
  yaml_event_t e{};
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { yaml_event_delete(&e); }
};

int line_of(const yaml_mark_t& m) { return m.line >= INT_MAX ? INT_MAX : static_cast<int>(m.line) + 1; }

// The line of byte `offset` in `text`, for reader errors, which carry no mark.
int line_at(std::string_view text, size_t offset) {
  int line = 1;
  for (size_t i = 0; i < offset && i < text.size(); i++) line += text[i] == '\n';
  return line;
}

std::string parser_error(const yaml_parser_t& p, std::string_view text) {
  if (p.error == YAML_MEMORY_ERROR) return fmt::format("line {}: out of memory", line_of(p.mark));
  std::string problem = p.problem ? p.problem : "cannot parse";
  if (p.error == YAML_READER_ERROR) {
    if (p.problem_value != -1) problem += fmt::format(" (#x{:02X})", static_cast<unsigned>(p.problem_value));
    return fmt::format("line {}: {}", line_at(text, p.problem_offset), problem);
  }
  std::string msg = fmt::format("line {}: {}", line_of(p.problem_mark), problem);
  if (p.context) {
    msg += fmt::format(" {}", p.context);
    if (p.context_mark.line != p.problem_mark.line) msg += fmt::format(" started on line {}", line_of(p.context_mark));
  }
  return msg;
}

// 1 + the line breaks in `text`, counted as libyaml counts them: the line of
// its end as yaml-cpp (and a reader) saw it.
int end_line(std::string_view text) {
  int line = 1;
  for (size_t i = 0; i < text.size(); i++) {
    unsigned char c = text[i];
    if (c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) line++;
    else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x85) line++;  // NEL
    else if (c == 0xe2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(text[i + 2]) & 0xfe) == 0xa8)
      line++;  // LS, PS
  }
  return line;
}

bool is_null_text(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

}  // namespace

// Turns the event stream into the flat tree. Children of the containers being
// built wait on one stack and are copied out as one run when the container ends,
// so each container's children are contiguous in YamlData::children.
class YamlBuilder {
 public:
  Result<YamlDoc> run(std::string_view text);

 private:
  static constexpr uint32_t kOpen = UINT32_MAX;  // end_ of a container not yet closed
  // libyaml's scanner does work per open flow level for every token, so a
  // hostile "[[[[..." costs time quadratic in its depth (100k levels: 30 s).
  // Stopping at this depth bounds it; no real document comes near.
  static constexpr size_t kMaxDepth = 256;

  uint32_t add(YamlKind kind, const yaml_event_t& e, const yaml_char_t* anchor);
  void attach(uint32_t node);
  Result<void> start(YamlKind kind, const yaml_event_t& e, const yaml_char_t* anchor);
  Result<void> close();
  Result<void> check_keys(size_t first) const;
  Result<void> alias(const yaml_event_t& e);

  YamlDoc doc_;
  YamlData* d_ = nullptr;
  std::vector<uint32_t> pending_;  // children of the open containers, innermost last
  struct Open {
    uint32_t node;
    size_t first;  // where its children start in pending_
  };
  std::vector<Open> open_;
  std::unordered_map<std::string, uint32_t> anchors_;
  bool have_root_ = false;
  // yaml-cpp put an empty value on the line of the token after it (for "name:"
  // on its own line, the next key's line); the config errors keep those lines,
  // so such a node takes the line of the next event. libyaml puts the end of a
  // stream without a final newline one line past the last; that is clamped.
  uint32_t line_from_next_ = kOpen;
  int end_line_ = 0;  // end_line(text), computed when first needed
};

uint32_t YamlBuilder::add(YamlKind kind, const yaml_event_t& e, const yaml_char_t* anchor) {
  YamlNode n;
  n.data_ = d_;
  n.kind_ = kind;
  n.line_ = line_of(e.start_mark);
  if (kind == YamlKind::scalar) {
    n.begin_ = static_cast<uint32_t>(d_->text.size());
    d_->text.append(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
    n.end_ = static_cast<uint32_t>(d_->text.size());
  } else if (kind != YamlKind::null) {
    n.end_ = kOpen;
  }
  auto idx = static_cast<uint32_t>(d_->nodes.size());
  d_->nodes.push_back(n);
  if (anchor) anchors_[reinterpret_cast<const char*>(anchor)] = idx;
  attach(idx);
  return idx;
}

void YamlBuilder::attach(uint32_t node) {
  if (open_.empty()) {
    doc_.root_ = node;
    have_root_ = true;
  } else {
    pending_.push_back(node);
  }
}

Result<void> YamlBuilder::start(YamlKind kind, const yaml_event_t& e, const yaml_char_t* anchor) {
  if (open_.size() >= kMaxDepth)
    return fail(fmt::format("line {}: nested more than {} deep", line_of(e.start_mark), kMaxDepth), EINVAL);
  uint32_t idx = add(kind, e, anchor);
  open_.push_back({idx, pending_.size()});
  return {};
}

Result<void> YamlBuilder::close() {
  Open o = open_.back();
  if (d_->nodes[o.node].is_map())
    if (auto r = check_keys(o.first); !r) return r;
  open_.pop_back();
  YamlNode& n = d_->nodes[o.node];
  n.begin_ = static_cast<uint32_t>(d_->children.size());
  d_->children.insert(d_->children.end(), pending_.begin() + static_cast<ptrdiff_t>(o.first), pending_.end());
  n.end_ = static_cast<uint32_t>(d_->children.size());
  pending_.resize(o.first);
  return {};
}

// YAML allows a key once in a mapping. A reader that kept one of two would
// drop the other's contents without a word (two `services:` blocks: every
// service of one of them removed), so two keys with the same text are an
// error, naming both lines. Null keys ("~", "") count as one key; keys that are
// collections are left to the reader (the lb config refuses them). Small
// mappings are compared pairwise; large ones through a hash table.
Result<void> YamlBuilder::check_keys(size_t first) const {
  const size_t pairs = (pending_.size() - first) / 2;
  auto key = [&](size_t i) -> const YamlNode& { return d_->nodes[pending_[first + 2 * i]]; };
  auto comparable = [](const YamlNode& k) { return k.is_scalar() || k.is_null(); };
  auto same = [](const YamlNode& a, const YamlNode& b) { return a.kind() == b.kind() && a.scalar() == b.scalar(); };
  auto twice = [](const YamlNode& again, const YamlNode& was) {
    std::string name = again.is_null() ? std::string("an empty (null) key")
                                       : fmt::format("key '{}'", again.scalar().substr(0, 60));
    return fail(fmt::format("line {}: {} is given twice in one mapping (first on line {}); YAML allows each key "
                            "once",
                            again.line(), name, was.line()),
                EINVAL);
  };
  if (pairs <= 16) {
    for (size_t i = 1; i < pairs; i++)
      for (size_t j = 0; j < i; j++)
        if (comparable(key(i)) && same(key(i), key(j))) return twice(key(i), key(j));
    return {};
  }
  std::unordered_map<std::string_view, size_t> seen;  // scalar text -> first pair; null keys under a marker
  seen.reserve(pairs);
  const YamlNode* null_key = nullptr;
  for (size_t i = 0; i < pairs; i++) {
    const YamlNode& k = key(i);
    if (k.is_null()) {
      if (null_key) return twice(k, *null_key);
      null_key = &k;
    } else if (k.is_scalar()) {
      auto [it, added] = seen.emplace(k.scalar(), i);
      if (!added) return twice(k, key(it->second));
    }
  }
  return {};
}

// An alias is the anchored node itself, shared as yaml-cpp shared it. One that
// points into a container still open would make a cycle, and is refused.
Result<void> YamlBuilder::alias(const yaml_event_t& e) {
  const char* name = reinterpret_cast<const char*>(e.data.alias.anchor);
  auto it = anchors_.find(name);
  if (it == anchors_.end())
    return fail(fmt::format("line {}: alias *{} names no anchor before it", line_of(e.start_mark), name), EINVAL);
  const YamlNode& target = d_->nodes[it->second];
  if (!target.is_scalar() && !target.is_null() && target.end_ == kOpen)
    return fail(fmt::format("line {}: alias *{} is inside the node it names", line_of(e.start_mark), name), EINVAL);
  attach(it->second);
  return {};
}

Result<YamlDoc> YamlBuilder::run(std::string_view text) {
  // Node ranges and scalar offsets are 32-bit; nothing legitimate comes close.
  if (text.size() >= UINT32_MAX / 2) return fail("line 1: the document is larger than 2 GiB", EFBIG);
  doc_.data_ = std::make_unique<YamlData>();
  d_ = doc_.data_.get();
  Parser parser;
  if (!parser.ok()) return fail("line 1: out of memory", ENOMEM);
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  int documents = 0;
  for (;;) {
    Event ev;
    if (!yaml_parser_parse(parser.get(), &ev.e)) return fail(parser_error(*parser.get(), text), EINVAL);
    const yaml_event_t& e = ev.e;
    if (line_from_next_ != kOpen) {
      if (!end_line_) end_line_ = end_line(text);
      d_->nodes[line_from_next_].line_ = std::min(line_of(e.start_mark), end_line_);
      line_from_next_ = kOpen;
    }
    switch (e.type) {
      case YAML_STREAM_END_EVENT:
        if (!have_root_) {  // no document at all: a null root, as for an empty one
          YamlNode n;
          n.data_ = d_;
          n.line_ = 1;
          d_->nodes.push_back(n);
          doc_.root_ = 0;
        }
        return std::move(doc_);
      case YAML_DOCUMENT_START_EVENT:
        if (++documents > 1)
          return fail(
              fmt::format("line {}: a second YAML document ('---'); the file must hold one", line_of(e.start_mark)),
              EINVAL);
        break;
      case YAML_SCALAR_EVENT: {
        const auto& s = e.data.scalar;
        std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
        bool null = !s.tag && s.style == YAML_PLAIN_SCALAR_STYLE && is_null_text(value);
        uint32_t idx = add(null ? YamlKind::null : YamlKind::scalar, e, s.anchor);
        if (null && value.empty() && e.start_mark.index == e.end_mark.index) line_from_next_ = idx;
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        if (auto r = start(YamlKind::seq, e, e.data.sequence_start.anchor); !r) return fail_with(r.error());
        break;
      case YAML_MAPPING_START_EVENT:
        if (auto r = start(YamlKind::map, e, e.data.mapping_start.anchor); !r) return fail_with(r.error());
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (auto r = close(); !r) return fail_with(r.error());
        break;
      case YAML_ALIAS_EVENT:
        if (auto r = alias(e); !r) return fail_with(r.error());
        break;
      default:  // stream start, document end
        break;
    }
  }
}

}  // namespace detail

YamlDoc::YamlDoc() = default;
YamlDoc::YamlDoc(YamlDoc&&) noexcept = default;
YamlDoc& YamlDoc::operator=(YamlDoc&&) noexcept = default;
YamlDoc::~YamlDoc() = default;

const YamlNode& YamlDoc::root() const { return data_->nodes[root_]; }

std::string_view YamlNode::scalar() const {
  if (!is_scalar()) return {};
  return std::string_view(data_->text).substr(begin_, end_ - begin_);
}

detail::YamlRange<YamlNode> YamlNode::items() const {
  if (!is_seq()) return {};
  const uint32_t* c = data_->children.data();
  return {c + begin_, c + end_, data_->nodes.data()};
}

detail::YamlRange<YamlEntry> YamlNode::entries() const {
  if (!is_map()) return {};
  const uint32_t* c = data_->children.data();
  return {c + begin_, c + end_, data_->nodes.data()};
}

const YamlNode* YamlNode::find(std::string_view key) const {
  for (const YamlEntry& e : entries())
    if (e.key.is_scalar() && e.key.scalar() == key) return &e.value;
  return nullptr;
}

Result<YamlDoc> parse_yaml(std::string_view text) { return detail::YamlBuilder().run(text); }

}  // namespace cgscope
