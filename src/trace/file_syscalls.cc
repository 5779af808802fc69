// The rules go by the kernel's argument names and formats (arg_spec.h) where
// they are general (every fd argument, every dirfd and the path after it), and by
// syscall name where the kernel's description does not say (which calls make
// fds, where their close-on-exec flag is, which move bytes).
#include "trace/file_syscalls.h"

#include <span>
#include <string_view>
#include <vector>

#include "trace/arg_spec.h"
#include "trace/event_table.h"

namespace cgscope::trace {
namespace {

using namespace std::string_view_literals;

constexpr uint32_t kOCloexec = 02000000;  // O_CLOEXEC, SOCK_CLOEXEC, EFD_, IN_, TFD_, SFD_CLOEXEC

// Path arguments a dirfd qualifies (the first of these after it).
constexpr std::array kPathNames = {"filename"sv, "pathname"sv,      "path"sv,       "oldname"sv,
                                   "newname"sv,  "from_pathname"sv, "to_pathname"sv, "name"sv};

// Calls without a dirfd whose path arguments are relative to the cwd, with those
// arguments (symlink's oldname is the link's text, resolved later from the link).
struct CwdCall {
  std::string_view name;
  std::array<std::string_view, 2> paths;
};
constexpr std::array kCwdCalls = {
    CwdCall{"open", {"filename"}},    CwdCall{"creat", {"pathname"}},      CwdCall{"chdir", {"filename"}},
    CwdCall{"stat", {"filename"}},    CwdCall{"lstat", {"filename"}},      CwdCall{"access", {"filename"}},
    CwdCall{"readlink", {"path"}},    CwdCall{"mkdir", {"pathname"}},      CwdCall{"rmdir", {"pathname"}},
    CwdCall{"unlink", {"pathname"}},  CwdCall{"rename", {"oldname", "newname"}},
    CwdCall{"link", {"oldname", "newname"}}, CwdCall{"symlink", {"newname"}}, CwdCall{"chmod", {"filename"}},
    CwdCall{"chown", {"filename"}},   CwdCall{"lchown", {"filename"}},     CwdCall{"truncate", {"path"}},
    CwdCall{"utime", {"filename"}},   CwdCall{"utimes", {"filename"}},     CwdCall{"mknod", {"filename"}},
    CwdCall{"statfs", {"pathname"}},  CwdCall{"setxattr", {"pathname"}},   CwdCall{"lsetxattr", {"pathname"}},
    CwdCall{"getxattr", {"pathname"}}, CwdCall{"lgetxattr", {"pathname"}}, CwdCall{"listxattr", {"pathname"}},
    CwdCall{"llistxattr", {"pathname"}}, CwdCall{"removexattr", {"pathname"}},
    CwdCall{"lremovexattr", {"pathname"}}, CwdCall{"inotify_add_watch", {"pathname"}},
};

// Calls that make fds: where the new fd is, and its close-on-exec flag.
enum class Where : uint8_t { opened, ret, pair };
enum class Cloexec : uint8_t { never, flag, always, unknown };
struct MakeCall {
  std::string_view name;
  Where where;
  Cloexec cloexec;
  std::string_view flag_arg = {};
  uint32_t bit = kOCloexec;
};
constexpr std::array kMakeCalls = {
    MakeCall{"open", Where::opened, Cloexec::flag, "flags"},
    MakeCall{"openat", Where::opened, Cloexec::flag, "flags"},
    // openat2's flags are in a struct cgscope does not read: O_TMPFILE could
    // make the path it was given name the directory, so its fd is resolved.
    MakeCall{"openat2", Where::ret, Cloexec::unknown},
    MakeCall{"creat", Where::opened, Cloexec::never},
    MakeCall{"socket", Where::ret, Cloexec::flag, "type"},
    MakeCall{"accept", Where::ret, Cloexec::never},
    MakeCall{"accept4", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"eventfd", Where::ret, Cloexec::never},
    MakeCall{"eventfd2", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"epoll_create", Where::ret, Cloexec::never},
    MakeCall{"epoll_create1", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"signalfd", Where::ret, Cloexec::unknown},  // may return the fd it was given
    MakeCall{"signalfd4", Where::ret, Cloexec::unknown},
    MakeCall{"timerfd_create", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"inotify_init", Where::ret, Cloexec::never},
    MakeCall{"inotify_init1", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"fanotify_init", Where::ret, Cloexec::flag, "flags", 1},
    MakeCall{"memfd_create", Where::ret, Cloexec::flag, "flags", 1},
    MakeCall{"memfd_secret", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"userfaultfd", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"pidfd_open", Where::ret, Cloexec::always},
    MakeCall{"pidfd_getfd", Where::ret, Cloexec::always},
    MakeCall{"open_by_handle_at", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"io_uring_setup", Where::ret, Cloexec::always},
    MakeCall{"perf_event_open", Where::ret, Cloexec::flag, "flags", 8},
    MakeCall{"fsopen", Where::ret, Cloexec::flag, "flags", 1},
    MakeCall{"fsmount", Where::ret, Cloexec::flag, "flags", 1},
    MakeCall{"fspick", Where::ret, Cloexec::flag, "flags", 1},
    MakeCall{"open_tree", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"open_tree_attr", Where::ret, Cloexec::flag, "flags"},
    MakeCall{"landlock_create_ruleset", Where::ret, Cloexec::always},
    MakeCall{"mq_open", Where::ret, Cloexec::flag, "oflag"},
    MakeCall{"pipe", Where::pair, Cloexec::never},
    MakeCall{"pipe2", Where::pair, Cloexec::flag, "flags"},
    MakeCall{"socketpair", Where::pair, Cloexec::flag, "type"},
};

// Calls that move bytes to (written) or from (read) the file of an fd argument.
struct MoveCall {
  std::string_view name, written, read;
};
constexpr std::array kMoveCalls = {
    MoveCall{"write", "fd", {}},        MoveCall{"pwrite64", "fd", {}},   MoveCall{"writev", "fd", {}},
    MoveCall{"pwritev", "fd", {}},      MoveCall{"pwritev2", "fd", {}},   MoveCall{"read", {}, "fd"},
    MoveCall{"pread64", {}, "fd"},      MoveCall{"readv", {}, "fd"},      MoveCall{"preadv", {}, "fd"},
    MoveCall{"preadv2", {}, "fd"},      MoveCall{"sendfile", "out_fd", "in_fd"},
    MoveCall{"copy_file_range", "fd_out", "fd_in"}, MoveCall{"splice", "fd_out", "fd_in"},
};

constexpr std::array kMovesPaths = {"rename"sv, "renameat"sv, "renameat2"sv,  "mount"sv,
                                    "umount2"sv, "move_mount"sv, "pivot_root"sv, "chroot"sv};

struct OpCall {
  std::string_view name;
  FdOp op;
};
constexpr std::array kOps = {OpCall{"dup", FdOp::dup},       OpCall{"dup2", FdOp::dup2},
                             OpCall{"dup3", FdOp::dup2},     OpCall{"fcntl", FdOp::fcntl},
                             OpCall{"close", FdOp::close},   OpCall{"close_range", FdOp::close_range},
                             OpCall{"unshare", FdOp::unshare}};

template <class T, size_t N>
const T* by_name(const std::array<T, N>& table, std::string_view name) {
  for (const T& t : table)
    if (t.name == name) return &t;
  return nullptr;
}

int index_of(const EventInfo& e, std::string_view arg) {
  for (unsigned i = 0; i < e.nargs; i++)
    if (e.args[i].name == arg) return int(i);
  return -1;
}

FieldNames names_for(std::string value) {
  return FieldNames{value, value + "_unknown", value + "_deleted"};
}

void add_path(FileCall& c, unsigned arg, unsigned base) {
  if (c.npaths < c.paths.size()) c.paths[c.npaths++] = PathArg{uint8_t(arg), uint8_t(base), {}};
}

// Names the path fields once all of them are known: "abs_path" for a single one.
void name_paths(FileCall& c, const EventInfo& e) {
  for (unsigned k = 0; k < c.npaths; k++)
    c.paths[k].names = names_for(c.npaths == 1 ? "abs_path" : "abs_" + std::string(e.args[c.paths[k].arg].name));
}

// fd arguments (FDPATH, or FDCLOSE for close) and dirfd arguments (DIRPATH).
void classify_args(FileCall& c, const EventInfo& e, const std::array<ArgFormat, CGS_NARGS>& fmt) {
  std::vector<unsigned> fds;
  for (unsigned i = 0; i < e.nargs; i++) {
    // close_range's fd is a range's bound; pidfd_getfd's is another process's.
    bool own_fd = e.name != "close_range" && !(e.name == "pidfd_getfd" && e.args[i].name == "fd");
    if (fmt[i] == ArgFormat::fd && own_fd) {
      c.kinds[i] = e.name == "close" ? uint8_t{CGS_ARG_FDCLOSE} : uint8_t{CGS_ARG_FDPATH};
      if (c.kinds[i] == CGS_ARG_FDPATH) fds.push_back(i);
    }
    if (fmt[i] != ArgFormat::dirfd || e.name == "execveat") continue;
    for (unsigned j = i + 1; j < e.nargs; j++) {
      bool is_path = fmt[j] == ArgFormat::string;
      bool named = false;
      for (std::string_view n : kPathNames) named |= e.args[j].name == n;
      if (!is_path || !named) continue;
      c.kinds[i] = CGS_KIND_BYTE(CGS_ARG_DIRPATH, j);
      add_path(c, j, i);
      break;
    }
  }
  c.nfds = uint8_t(fds.size());
  for (unsigned i : fds)
    c.fd_names[i] = names_for(fds.size() == 1 ? "path" : std::string(e.args[i].name) + "_path");
}

// The cwd section (on the first index past the arguments) and the new fd's.
void classify_extras(FileCall& c, const EventInfo& e) {
  if (const CwdCall* cw = by_name(kCwdCalls, e.name); cw && e.nargs < CGS_NARGS - 1) {
    int first = index_of(e, cw->paths[0]);
    if (first >= 0) {
      c.kinds[e.nargs] = CGS_KIND_BYTE(CGS_ARG_CWDPATH, first);
      for (std::string_view p : cw->paths)
        if (int a = p.empty() ? -1 : index_of(e, p); a >= 0) add_path(c, unsigned(a), e.nargs);
    }
    c.chdir = e.name == "chdir";
  }
  const MakeCall* mk = by_name(kMakeCalls, e.name);
  if (!mk) return;
  int flag_arg = mk->flag_arg.empty() ? -1 : index_of(e, mk->flag_arg);
  c.op = mk->where == Where::opened ? FdOp::open : FdOp::make;
  c.cloexec_arg = int8_t(mk->cloexec == Cloexec::flag ? flag_arg : -1);
  c.cloexec_bit = mk->cloexec == Cloexec::flag && flag_arg >= 0 ? mk->bit : 0;
  c.always_cloexec = mk->cloexec == Cloexec::always;
  c.cloexec_unknown = mk->cloexec == Cloexec::unknown || (mk->cloexec == Cloexec::flag && flag_arg < 0);
  if (mk->where == Where::pair) {
    int arr = index_of(e, e.name == "socketpair" ? "usockvec" : "fildes");
    if (arr >= 0 && e.nargs <= CGS_NARGS - 2) {
      c.kinds[CGS_NARGS - 2] = CGS_KIND_BYTE(CGS_ARG_NEWFD, arr);
      c.kinds[CGS_NARGS - 1] = CGS_KIND_BYTE(CGS_ARG_NEWFD, arr);
    }
  } else if (e.nargs < CGS_NARGS) {
    c.kinds[CGS_NARGS - 1] =
        CGS_KIND_BYTE(CGS_ARG_NEWFD, mk->where == Where::opened ? CGS_NEWFD_RET_OPENED : CGS_NEWFD_RET);
  }
}

FileCall describe(const EventInfo& e) {
  FileCall c;
  std::array<ArgFormat, CGS_NARGS> fmt{};
  std::array<std::string_view, CGS_NARGS> names{};
  for (unsigned i = 0; i < e.nargs; i++) names[i] = e.args[i].name;
  std::span<const std::string_view> all(names.data(), e.nargs);
  for (unsigned i = 0; i < e.nargs; i++) fmt[i] = classify_arg(e.name, e.args[i].type, e.args[i].name, all).format;
  classify_args(c, e, fmt);
  classify_extras(c, e);
  name_paths(c, e);
  if (const OpCall* op = by_name(kOps, e.name)) c.op = op->op;
  if (e.name == "dup3") {
    c.cloexec_arg = int8_t(index_of(e, "flags"));
    c.cloexec_bit = kOCloexec;
  }
  if (const MoveCall* mv = by_name(kMoveCalls, e.name)) {
    if (!mv->written.empty()) c.written_fd = int8_t(index_of(e, mv->written));
    if (!mv->read.empty()) c.read_fd = int8_t(index_of(e, mv->read));
  }
  for (std::string_view m : kMovesPaths) c.moves_paths |= e.name == m;
  return c;
}

const std::vector<FileCall>& table() {
  static const std::vector<FileCall> t = [] {
    std::vector<FileCall> v(CGS_MAX_SYSCALLS);
    for (const EventInfo& e : all_events())
      if (e.is_syscall && e.nr < CGS_MAX_SYSCALLS && e.args_known) v[e.nr] = describe(e);
    return v;
  }();
  return t;
}

}  // namespace

const FileCall& file_call(uint32_t nr) {
  static const FileCall none;
  return nr < CGS_MAX_SYSCALLS ? table()[nr] : none;
}

bool fd_table_syscall(uint32_t nr) { return file_call(nr).op != FdOp::none; }
bool writes_files(uint32_t nr) { return file_call(nr).written_fd >= 0; }
bool reads_files(uint32_t nr) { return file_call(nr).read_fd >= 0; }

}  // namespace cgscope::trace
