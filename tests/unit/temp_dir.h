// A directory of the test's own under /tmp, removed with all it holds when the
// object goes, whether the test passed or not.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace cgscope::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "cgscope-unit") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  // Writes `text` to NAME in the directory; its path.
  std::string file(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  std::string path;  // empty if mkdtemp failed
};

}  // namespace cgscope::testing
