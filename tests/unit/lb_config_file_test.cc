// read_config_file (lb/config_file.h): the size bound, directories, and files
// caught while another process writes them. No root needed: the test owns its
// files, which is all a read lease asks.
#include <gtest/gtest.h>

#include "temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lb/config_file.h"

using namespace cgscope::lb;
using namespace std::chrono_literals;

namespace {

using cgscope::testing::TempDir;

const char* kOk = "services:\n  - {name: a, addresses: [10.96.0.1], ports: [80]}\n";

}  // namespace

TEST(LbConfigFile, ReadsAWholeFile) {
  TempDir d("cgscope-lbcf");
  auto r = load_config(d.file("ok.yaml", kOk));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->services.size(), 1u);
}

TEST(LbConfigFile, ADirectoryIsNamedAsOne) {
  TempDir d("cgscope-lbcf");
  auto r = read_config_file(d.path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, d.path + " is a directory; lb apply takes a YAML file");
}

// Finding 6 of issue 11: /dev/zero grew to 2 GB and ended in std::bad_alloc.
TEST(LbConfigFile, SizeIsBounded) {
  TempDir d("cgscope-lbcf");
  std::string big = d.file("big.yaml", std::string(5000, '#') + "\n");
  auto r = read_config_file(big, {.max_bytes = 4096});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EFBIG);
  EXPECT_NE(r.error().message.find("is 5001 bytes, more than the 4096"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("--max-file-size"), std::string::npos);
  EXPECT_TRUE(read_config_file(big, {.max_bytes = 8192}));
  // A file whose size stat cannot tell: bounded while it is read.
  auto zero = read_config_file("/dev/zero", {.max_bytes = 1 << 20});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "/dev/zero is larger than 1048576 bytes, the most lb apply reads (--max-file-size "
                                  "raises it)");
}

TEST(LbConfigFile, AFileWithoutAFinalNewlineMayBeCutShort) {
  TempDir d("cgscope-lbcf");
  std::string cut = d.file("cut.yaml", std::string(kOk).substr(0, 40));
  auto r = read_config_file(cut);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind(cut + ":2: the file does not end with a newline", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("rename(2)"), std::string::npos);
  EXPECT_FALSE(read_config_file(d.file("empty-line.yaml", "services: []")));
  EXPECT_TRUE(read_config_file(d.file("empty.yaml", "")));  // empty: parse_config says what it lacks
}

// Finding 9 of issue 11: a file rewritten in place was read half-written.
TEST(LbConfigFile, AFileOpenForWritingIsNotRead) {
  TempDir d("cgscope-lbcf");
  std::string p = d.file("open.yaml", kOk);
  int w = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w, 0);
  auto t0 = std::chrono::steady_clock::now();
  auto r = read_config_file(p, {.writer_wait = 200ms});
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);  // it waited for the writer first
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ETXTBSY);
  EXPECT_NE(r.error().message.find(p + " is open for writing by another process"), std::string::npos)
      << r.error().message;
  // A writer that finishes within the wait: the file is read once it is whole.
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);
    ::close(w);
  });
  auto later = read_config_file(p, {.writer_wait = 5s});
  closer.join();
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_EQ(*later, kOk);
}

// While the file is read, a writer's open waits (the lease), so what is read is
// one version of the file, never a mix.
TEST(LbConfigFile, AWriterWaitsUntilTheReadIsDone) {
  TempDir d("cgscope-lbcf");
  std::string body = "services: []\n" + std::string(32 << 20, '#') + "\n";
  std::string p = d.file("large.yaml", body);
  std::atomic<bool> reading{false};
  std::thread writer([&] {
    while (!reading) std::this_thread::yield();
    std::this_thread::sleep_for(2ms);
    std::ofstream(p, std::ios::trunc) << "cut\n";  // blocks in open() while the lease is held
  });
  reading = true;
  auto r = read_config_file(p, {.max_bytes = 64 << 20});
  writer.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(*r == body || *r == "cut\n") << "read " << r->size() << " bytes";
}
