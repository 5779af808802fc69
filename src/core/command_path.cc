#include "core/command_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace cgscope {

Result<std::string> resolve_command(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  int first_error = ENOENT;
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string full = (dir.empty() ? "." : dir) + "/" + name;
    if (access(full.c_str(), X_OK) == 0) {
      struct stat st;
      if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return full;
    } else if (errno != ENOENT && errno != ENOTDIR && first_error == ENOENT) {
      first_error = errno;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return fail(fmt::format("cannot run {}: {}", name, std::strerror(first_error)), first_error);
}

}  // namespace cgscope
