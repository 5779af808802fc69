// file_write when the thread that closes the file is one the filters leave out
// (--comm names the writer thread only): the kernel's count ends at that close,
// and so does the event, which says "close", not "exit" at the process's end.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "trace_files_fixture.h"

namespace cgscope::testing {
namespace {

// The writer thread writes 400 times; a second thread, of another name, closes
// the fd; the process then waits before it exits.
int writer_with_a_closing_thread(const std::string& dir) {
  ::prctl(PR_SET_NAME, "fw-writer");
  int fd = ::open((dir + "/shared").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 10;
  for (int i = 0; i < 400; i++)
    if (::write(fd, "abcd", 4) != 4) return 11;
  int closed = -1;
  std::thread closer([&] {
    ::prctl(PR_SET_NAME, "fw-closer");
    closed = ::close(fd);
  });
  closer.join();
  if (closed != 0) return 12;
  ::usleep(300 * 1000);
  return 0;
}

TEST(TraceFiles, AFileClosedByAThreadTheFiltersLeaveOutEndsAtThatClose) {
  ContainerTrace ct;
  ASSERT_TRUE(ct.make()) << ct.error;
  TempPath dir("fsumthread");
  std::filesystem::create_directories(dir.path);
  int status = -1;
  TraceRun run = trace_in_container(ct, "file_write", [&] { return writer_with_a_closing_thread(dir.path); }, status,
                                    {"--comm", "fw-writer"});
  ASSERT_EQ(status, 0) << "the writer failed at step " << status;
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  expect_one_sum(run, dir.path + "/shared", 1600, 400, "close");
}

}  // namespace
}  // namespace cgscope::testing
