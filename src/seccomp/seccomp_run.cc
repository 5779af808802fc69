#include "seccomp/seccomp_run.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "core/command_path.h"
#include "core/small_file.h"
#include "seccomp/loader.h"
#include "seccomp/profile_json.h"

extern char** environ;

namespace cgscope::seccomp {

namespace {

// Moby's default profile is 20 KiB; a profile is read whole.
constexpr size_t kMaxProfileBytes = 4 << 20;

// CMD's path before the filter is in (core/command_path.h). A path given is
// checked here too: under the filter a failed exec might not be reportable (the
// profile may deny write).
Result<std::string> find_command(const std::string& name) {
  if (name.find('/') != std::string::npos && ::access(name.c_str(), X_OK) != 0)
    return fail(fmt::format("cannot run {}: {}", name, std::strerror(errno)), errno);
  return resolve_command(name);
}

Result<Filter> filter_from_file(const std::string& file) {
  auto text = read_small_file(file, kMaxProfileBytes);
  if (!text) return fail_with(text.error());
  auto profile = parse_profile_json(*text);
  if (!profile) return fail_with(file, profile.error());
  // The filter is in before execve, so a profile must allow it (runc does the same).
  if (!profile->action_for("execve").lets_run())
    return fail(fmt::format("{}: the profile does not allow execve, so no command can start under it; a profile "
                            "from `cgscope trace --seccomp-profile` of the command allows it",
                            file));
  auto filter = Filter::build(*profile);
  if (!filter) return fail_with(file, filter.error());
  return filter;
}

}  // namespace

int run_under_profile(const std::string& file, const std::vector<std::string>& argv) {
  auto say = [](const std::string& what) { std::fprintf(stderr, "cgscope seccomp run: %s\n", what.c_str()); };
  auto filter = filter_from_file(file);
  if (!filter) return say(filter.error().message), 2;
  auto exe = find_command(argv.at(0));
  if (!exe) return say(exe.error().message), 127;
  // Everything execve needs is made before the load: after it, the next call
  // cgscope makes is execve itself.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  if (auto r = filter->load(); !r) return say(r.error().message), 2;
  ::execve(exe->c_str(), args.data(), environ);
  // Under the filter: if the profile denies write, this is not seen; the exit
  // code (127) still says it.
  int e = errno;
  say(fmt::format("cannot run {}: {}", *exe, std::strerror(e)));
  return 127;
}

}  // namespace cgscope::seccomp
