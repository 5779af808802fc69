#include "core/yaml_doc.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

using cgscope::parse_yaml;
using cgscope::YamlDoc;
using cgscope::YamlEntry;
using cgscope::YamlKind;
using cgscope::YamlNode;

namespace {

YamlDoc parse_ok(std::string_view text) {
  auto r = parse_yaml(text);
  if (!r) ADD_FAILURE() << r.error().message;
  return std::move(r).value();
}

std::string error_of(std::string_view text) {
  auto r = parse_yaml(text);
  return r ? std::string("(ok)") : r.error().message;
}

}  // namespace

TEST(YamlDoc, KindsLinesAndEntryOrder) {
  YamlDoc doc = parse_ok("b: 1\na:\n  - x\n  - [y, {k: v}]\nc: {z: 'q'}\n");
  const YamlNode& root = doc.root();
  ASSERT_TRUE(root.is_map());
  EXPECT_EQ(root.line(), 1);
  std::vector<std::string> keys;
  for (const YamlEntry& e : root.entries()) keys.emplace_back(e.key.scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(root.entries().size(), 3u);

  const YamlNode* a = root.find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->is_seq());
  EXPECT_EQ(a->line(), 3);
  ASSERT_EQ(a->items().size(), 2u);
  auto it = a->items().begin();
  EXPECT_EQ((*it).scalar(), "x");
  EXPECT_EQ((*it).line(), 3);
  ++it;
  EXPECT_EQ((*it).kind(), YamlKind::seq);
  EXPECT_EQ((*it).line(), 4);
  EXPECT_EQ(root.find("c")->find("z")->scalar(), "q");
  EXPECT_EQ(root.find("b")->scalar(), "1");
  EXPECT_EQ(root.find("nope"), nullptr);
  // Asking the wrong kind gives nothing rather than failing.
  EXPECT_EQ(root.find("b")->find("x"), nullptr);
  EXPECT_TRUE(root.find("b")->items().empty());
  EXPECT_TRUE(a->entries().empty());
  EXPECT_EQ(a->scalar(), "");
}

TEST(YamlDoc, NullIsWhatYamlCppCalledNull) {
  YamlDoc doc =
      parse_ok("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: 'null'\ng: \"\"\nh: !!str\ni: !!null null\nj: nulls\n");
  const YamlNode& r = doc.root();
  for (const char* k : {"a", "b", "c", "d", "e"}) EXPECT_TRUE(r.find(k)->is_null()) << k;
  for (const char* k : {"f", "g", "h", "i", "j"}) EXPECT_TRUE(r.find(k)->is_scalar()) << k;
  EXPECT_EQ(r.find("a")->scalar(), "");  // a null has no text
  EXPECT_EQ(r.find("f")->scalar(), "null");
  EXPECT_EQ(r.find("h")->scalar(), "");
}

TEST(YamlDoc, EmptyValueIsOnTheLineOfWhatFollows) {
  // As yaml-cpp had it, which the lb config errors keep.
  YamlDoc doc = parse_ok("a:\n\n  # comment\nb: 1\nc:\n  -\n  - x\n");
  EXPECT_EQ(doc.root().find("a")->line(), 4);
  const YamlNode& c = *doc.root().find("c");
  EXPECT_TRUE((*c.items().begin()).is_null());
  EXPECT_EQ((*c.items().begin()).line(), 7);
  // At the end: the line after the last newline, but never past the last line.
  EXPECT_EQ(parse_ok("a: 1\nb:\n").root().find("b")->line(), 3);
  EXPECT_EQ(parse_ok("a: 1\nb:").root().find("b")->line(), 2);
}

TEST(YamlDoc, FindTakesTheScalarKey) {
  YamlDoc doc = parse_ok("~: 0\n[k]: 1\nk: 2\n");
  EXPECT_EQ(doc.root().find("k")->scalar(), "2");
  EXPECT_EQ(doc.root().entries().size(), 3u);
  EXPECT_EQ(doc.root().find(""), nullptr);  // a null key is not ""
}

// A second `services:` would otherwise drop every service of one of the two.
TEST(YamlDoc, DuplicateKeysAreErrorsNamingBothLines) {
  EXPECT_EQ(error_of("services: []\nnode: {}\nservices: []\n"),
            "line 3: key 'services' is given twice in one mapping (first on line 1); YAML allows each key once");
  EXPECT_EQ(error_of("ports: [{port: 80, port: 81}]\n"),
            "line 1: key 'port' is given twice in one mapping (first on line 1); YAML allows each key once");
  // One key however it is quoted, as the readers take it.
  EXPECT_NE(error_of("k: 1\n'k': 2\n").find("line 2: key 'k' is given twice"), std::string::npos);
  EXPECT_NE(error_of("~: 1\nnull: 2\n").find("line 2: an empty (null) key is given twice"), std::string::npos);
  // Inside a nested block mapping, with the lines of both.
  EXPECT_EQ(error_of("a:\n  - name: x\n    ports: [80]\n    name: y\n"),
            "line 4: key 'name' is given twice in one mapping (first on line 2); YAML allows each key once");
  // A large mapping (past the pairwise comparison) is checked as well.
  std::string big;
  for (int i = 0; i < 1000; i++) big += "k" + std::to_string(i) + ": 1\n";
  EXPECT_EQ(error_of(big), "(ok)");
  EXPECT_EQ(error_of(big + "k500: 2\n"),
            "line 1001: key 'k500' is given twice in one mapping (first on line 501); YAML allows each key once");
  // The same key in two mappings, a key that is a collection, an alias to a map: fine.
  EXPECT_EQ(error_of("a: {k: 1}\nb: {k: 2}\n[x]: 1\n[x]: 2\n"), "(ok)");
  EXPECT_EQ(error_of("a: &m {k: 1}\nb: *m\n"), "(ok)");
}

TEST(YamlDoc, ScalarsKeepTheirBytes) {
  YamlDoc doc = parse_ok("a: \"x\\0y\\u00e9\"\nb: |\n  one\n  two\nc: >\n  f\n  g\n");
  EXPECT_EQ(doc.root().find("a")->scalar(), std::string_view("x\0y\xc3\xa9", 5));
  EXPECT_EQ(doc.root().find("b")->scalar(), "one\ntwo\n");
  EXPECT_EQ(doc.root().find("c")->scalar(), "f g\n");
}

TEST(YamlDoc, AliasesAreTheAnchoredNode) {
  YamlDoc doc = parse_ok("a: &x {k: [1, 2]}\nb: *x\nc: &y v\nd: *y\n");
  EXPECT_EQ(doc.root().find("a"), doc.root().find("b"));
  EXPECT_EQ(doc.root().find("d")->scalar(), "v");
  EXPECT_EQ(doc.root().find("b")->line(), 1);
  EXPECT_EQ(error_of("a: 1\nb: *nope\n"), "line 2: alias *nope names no anchor before it");
  EXPECT_EQ(error_of("a: &x [1, *x]\n"), "line 1: alias *x is inside the node it names");
}

TEST(YamlDoc, EmptyInputIsANullRoot) {
  for (const char* text : {"", "# only a comment\n", "\n\n"}) {
    YamlDoc doc = parse_ok(text);
    EXPECT_TRUE(doc.root().is_null()) << text;
    EXPECT_EQ(doc.root().line(), 1) << text;
  }
  EXPECT_TRUE(parse_ok("---\n").root().is_null());
  EXPECT_EQ(parse_ok("--- just text\n").root().scalar(), "just text");
}

TEST(YamlDoc, OneDocumentOnly) {
  EXPECT_EQ(error_of("a: 1\n---\nb: 2\n"), "line 2: a second YAML document ('---'); the file must hold one");
  EXPECT_EQ(error_of("a: 1\n...\n"), "(ok)");
}

TEST(YamlDoc, SyntaxErrorsNameTheLine) {
  std::string e = error_of("a:\n  b: [1, 2\nc: 3\n");
  EXPECT_EQ(e.rfind("line 3: ", 0), 0u) << e;
  EXPECT_NE(e.find("flow sequence"), std::string::npos) << e;
  EXPECT_NE(e.find("started on line 2"), std::string::npos) << e;
  e = error_of("a: 1\nb: \"open\n");
  EXPECT_EQ(e.rfind("line 3: ", 0), 0u) << e;
  e = error_of("a: 1\nb: \xff\n");
  EXPECT_EQ(e.rfind("line 2: ", 0), 0u) << e;
  EXPECT_NE(e.find("#xFF"), std::string::npos) << e;
  e = error_of("a: b: c\n");
  EXPECT_EQ(e.rfind("line 1: ", 0), 0u) << e;
}

TEST(YamlDoc, NestingIsBounded) {
  std::string ok = std::string(256, '[') + std::string(256, ']');
  YamlDoc doc = parse_ok(ok);
  const YamlNode* n = &doc.root();
  int depth = 0;
  while (n->is_seq() && !n->items().empty()) n = &*n->items().begin(), depth++;
  EXPECT_EQ(depth, 255);
  // Deeper is refused, and at once: libyaml's time grows with depth squared.
  EXPECT_EQ(error_of(std::string(100000, '[') + std::string(100000, ']')), "line 1: nested more than 256 deep");
  std::string block;
  for (int i = 0; i < 300; i++) block += std::string(i, ' ') + "k:\n";
  EXPECT_EQ(error_of(block), "line 257: nested more than 256 deep");
}

TEST(YamlDoc, SurvivesMoves) {
  auto r = parse_yaml("a: [x, y]\n");
  ASSERT_TRUE(r);
  YamlDoc moved = std::move(r).value();
  YamlDoc again = std::move(moved);
  const YamlNode* a = again.root().find("a");
  ASSERT_NE(a, nullptr);
  std::string joined;
  for (const YamlNode& item : a->items()) joined += item.scalar();
  EXPECT_EQ(joined, "xy");
}
