// Files, processes, time and the machine: stat, statx, directory entries, wait
// status, fd pairs, socket lengths, timespec, utsname; and the dispatch by
// format. Field offsets are those of the x86_64 structs (asm/stat.h,
// linux/stat.h, linux/dirent.h, linux/time_types.h, linux/utsname.h).
#include "trace/decode_struct.h"
#include "trace/decode_select.h"

#include <array>

#include "trace/flags.h"
#include "trace/named.h"
#include "trace/struct_bytes.h"

namespace cgscope::trace {
namespace {

using named::Named;

// The file type of a mode, then S_ISUID/S_ISGID/S_ISVTX by name, then the
// permission bits in octal: "S_IFREG|S_ISUID|0755", as strace prints it.
void append_file_mode(std::string& out, uint32_t mode) {
  static constexpr std::array<Named, 7> kTypes = {{
      {0140000, "S_IFSOCK"}, {0120000, "S_IFLNK"}, {0100000, "S_IFREG"}, {0060000, "S_IFBLK"},
      {0040000, "S_IFDIR"},  {0020000, "S_IFCHR"}, {0010000, "S_IFIFO"},
  }};
  static constexpr std::array<Named, 3> kBits = {{{04000, "S_ISUID"}, {02000, "S_ISGID"}, {01000, "S_ISVTX"}}};
  std::string_view type = named::find_name(mode & 0170000, kTypes);
  if (!type.empty()) {
    out += type;
    out += '|';
  }
  for (const Named& b : kBits) {
    if (mode & b.value) {
      out += b.name;
      out += '|';
    }
  }
  format_mode(out, mode & 0777);
}

// strace's "%#x": 0 stays "0".
void append_alt_hex(std::string& out, uint64_t v) {
  if (v == 0) out += '0';
  else named::append_hex(out, v);
}

// "makedev(0x1, 0x3)" of the kernel's 64-bit dev_t encoding (glibc's too).
void append_makedev(std::string& out, uint32_t major, uint32_t minor) {
  out += "makedev(";
  append_alt_hex(out, major);
  out += ", ";
  append_alt_hex(out, minor);
  out += ')';
}

uint32_t dev_major(uint64_t dev) { return static_cast<uint32_t>(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff)); }
uint32_t dev_minor(uint64_t dev) { return static_cast<uint32_t>(((dev >> 12) & 0xffffff00) | (dev & 0xff)); }

bool is_device(uint32_t mode) {
  uint32_t t = mode & 0170000;
  return t == 0020000 || t == 0060000;
}

void dev_field(StructOut& o, std::string_view name, uint32_t major, uint32_t minor) {
  o.key(name);
  o.sym([&](std::string& out) { append_makedev(out, major, minor); });
}

void time_fields(StructOut& o, std::string_view sec_name, int64_t sec, std::string_view nsec_name, uint64_t nsec) {
  o.key(sec_name);
  o.num(sec);
  o.key(nsec_name);
  o.unum(nsec);
}

constexpr std::array<Named, 16> kStatxMask = {{
    {0xfff, "STATX_ALL"},    {0x7ff, "STATX_BASIC_STATS"}, {0x1, "STATX_TYPE"},      {0x2, "STATX_MODE"},
    {0x4, "STATX_NLINK"},    {0x8, "STATX_UID"},           {0x10, "STATX_GID"},      {0x20, "STATX_ATIME"},
    {0x40, "STATX_MTIME"},   {0x80, "STATX_CTIME"},        {0x100, "STATX_INO"},     {0x200, "STATX_SIZE"},
    {0x400, "STATX_BLOCKS"}, {0x800, "STATX_BTIME"},       {0x1000, "STATX_MNT_ID"}, {0x2000, "STATX_DIOALIGN"},
}};

constexpr std::array<Named, 9> kStatxAttrs = {{
    {0x4, "STATX_ATTR_COMPRESSED"}, {0x10, "STATX_ATTR_IMMUTABLE"},   {0x20, "STATX_ATTR_APPEND"},
    {0x40, "STATX_ATTR_NODUMP"},    {0x800, "STATX_ATTR_ENCRYPTED"}, {0x1000, "STATX_ATTR_AUTOMOUNT"},
    {0x2000, "STATX_ATTR_MOUNT_ROOT"}, {0x100000, "STATX_ATTR_VERITY"}, {0x200000, "STATX_ATTR_DAX"},
}};

// int[n] as "[3, 4]" (JSON [3,4]).
bool int_list(StructOut& o, std::span<const uint8_t> d, size_t n) {
  if (d.size() < n * 4) return false;
  o.open_arr();
  for (size_t i = 0; i < n; i++) o.num(field<int32_t>(d, i * 4));
  o.close_arr();
  return true;
}

// linux_dirent64: d_ino, d_off, d_reclen, d_type, then the name (NUL-terminated
// within d_reclen).
constexpr size_t kDirentName = 19;

constexpr std::array<Named, 9> kDirentTypes = {{
    {0, "DT_UNKNOWN"}, {1, "DT_FIFO"}, {2, "DT_CHR"},  {4, "DT_DIR"}, {6, "DT_BLK"},
    {8, "DT_REG"},     {10, "DT_LNK"}, {12, "DT_SOCK"}, {14, "DT_WHT"},
}};

}  // namespace

bool decode_stat(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 144) return false;
  auto mode = field<uint32_t>(d, 24);
  uint64_t rdev = field<uint64_t>(d, 40);
  o.open_obj();
  if (o.json()) {
    uint64_t dev = field<uint64_t>(d, 0);
    dev_field(o, "st_dev", dev_major(dev), dev_minor(dev));
    o.key("st_ino");
    o.unum(field<uint64_t>(d, 8));
  }
  o.key("st_mode");
  o.sym([&](std::string& out) { append_file_mode(out, mode); });
  if (o.json()) {
    o.key("st_nlink");
    o.unum(field<uint64_t>(d, 16));
    o.key("st_uid");
    o.unum(field<uint32_t>(d, 28));
    o.key("st_gid");
    o.unum(field<uint32_t>(d, 32));
    o.key("st_blksize");
    o.num(field<int64_t>(d, 56));
    o.key("st_blocks");
    o.num(field<int64_t>(d, 64));
  }
  // strace shows a device's number where other files show their size.
  if (is_device(mode) || o.json()) dev_field(o, "st_rdev", dev_major(rdev), dev_minor(rdev));
  if (!is_device(mode) || o.json()) {
    o.key("st_size");
    o.num(field<int64_t>(d, 48));
  }
  if (o.json()) {
    time_fields(o, "st_atime", field<int64_t>(d, 72), "st_atime_nsec", field<uint64_t>(d, 80));
    time_fields(o, "st_mtime", field<int64_t>(d, 88), "st_mtime_nsec", field<uint64_t>(d, 96));
    time_fields(o, "st_ctime", field<int64_t>(d, 104), "st_ctime_nsec", field<uint64_t>(d, 112));
  }
  o.more();
  o.close_obj();
  return true;
}

bool decode_statx(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 256) return false;
  o.open_obj();
  o.key("stx_mask");
  o.sym([&](std::string& out) { named::append_flags(out, field<uint32_t>(d, 0), kStatxMask); });
  if (o.json()) {
    o.key("stx_blksize");
    o.unum(field<uint32_t>(d, 4));
  }
  o.key("stx_attributes");
  o.sym([&](std::string& out) { named::append_flags(out, field<uint64_t>(d, 8), kStatxAttrs); });
  if (o.json()) {
    o.key("stx_nlink");
    o.unum(field<uint32_t>(d, 16));
    o.key("stx_uid");
    o.unum(field<uint32_t>(d, 20));
    o.key("stx_gid");
    o.unum(field<uint32_t>(d, 24));
  }
  o.key("stx_mode");
  o.sym([&](std::string& out) { append_file_mode(out, field<uint16_t>(d, 28)); });
  if (o.json()) {
    o.key("stx_ino");
    o.unum(field<uint64_t>(d, 32));
  }
  o.key("stx_size");
  o.unum(field<uint64_t>(d, 40));
  if (o.json()) {
    o.key("stx_blocks");
    o.unum(field<uint64_t>(d, 48));
    for (auto [name, off] : {std::pair{"stx_atime", 64}, {"stx_btime", 80}, {"stx_ctime", 96}, {"stx_mtime", 112}}) {
      o.key(name);
      o.open_obj();
      time_fields(o, "tv_sec", field<int64_t>(d, off), "tv_nsec", field<uint32_t>(d, off + 8));
      o.close_obj();
    }
    dev_field(o, "stx_rdev", field<uint32_t>(d, 128), field<uint32_t>(d, 132));
    dev_field(o, "stx_dev", field<uint32_t>(d, 136), field<uint32_t>(d, 140));
  }
  o.more();
  o.close_obj();
  return true;
}

// "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]" in text; JSON names the same macros.
bool decode_wait_status(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 4) return false;
  auto s = field<int32_t>(d, 0);
  int low = s & 0x7f;
  std::string text;
  if (low == 0) {
    text = "WIFEXITED(s) && WEXITSTATUS(s) == " + std::to_string((s >> 8) & 0xff);
  } else if ((s & 0xff) == 0x7f) {
    text = "WIFSTOPPED(s) && WSTOPSIG(s) == ";
    format_signal(text, (s >> 8) & 0xff);
  } else if (s == 0xffff) {
    text = "WIFCONTINUED(s)";
  } else {
    text = "WIFSIGNALED(s) && WTERMSIG(s) == ";
    format_signal(text, low);
    if (s & 0x80) text += " && WCOREDUMP(s)";
  }
  if (!o.json()) {
    o.sym([&](std::string& out) {
      out += "[{";
      out += text;
      out += "}]";
    });
    return true;
  }
  o.open_obj();
  o.key("status");
  o.sym_text(text);
  o.key("raw");
  o.num(s);
  o.close_obj();
  return true;
}

bool decode_fd_pair(StructOut& o, std::span<const uint8_t> d) { return int_list(o, d, 2); }

// "[16]": what the int held at exit (the length the call wrote, or the one it
// was given when it failed); JSON the same one-element array.
bool decode_socklen(StructOut& o, std::span<const uint8_t> d) { return int_list(o, d, 1); }

// The records of a getdents64 buffer, in order. A record the kernel's cut split,
// or one whose length makes no sense, ends the list with "..." like a cut array.
bool decode_dirents64(StructOut& o, std::span<const uint8_t> d, bool cut) {
  o.open_arr();
  size_t off = 0;
  while (off + kDirentName < d.size()) {
    auto reclen = field<uint16_t>(d, off + 16);
    if (reclen <= kDirentName || off + reclen > d.size()) break;
    auto type = field<uint8_t>(d, off + 18);
    o.open_obj();
    o.key("d_ino");
    o.unum(field<uint64_t>(d, off));
    o.key("d_off");
    o.num(field<int64_t>(d, off + 8));
    o.key("d_reclen");
    o.unum(reclen);
    o.key("d_type");
    if (std::string_view name = named::find_name(type, kDirentTypes); !name.empty()) o.sym_text(name);
    else o.unum(type);
    o.key("d_name");
    o.str(char_field(d, off + kDirentName, reclen - kDirentName));
    o.close_obj();
    off += reclen;
  }
  o.close_arr(cut || off < d.size());
  return true;
}

bool decode_timespec(StructOut& o, std::span<const uint8_t> d) {
  if (d.size() < 16) return false;
  o.open_obj();
  time_fields(o, "tv_sec", field<int64_t>(d, 0), "tv_nsec", field<uint64_t>(d, 8));
  o.close_obj();
  return true;
}

bool decode_utsname(StructOut& o, std::span<const uint8_t> d) {
  static constexpr std::array<std::string_view, 6> kNames = {"sysname", "nodename", "release",
                                                             "version", "machine",  "domainname"};
  if (d.size() < 6 * 65) return false;
  o.open_obj();
  for (size_t i = 0; i < kNames.size(); i++) {
    if (i == 2 && !o.json()) break;  // strace shows the first two
    o.key(kNames[i]);
    o.str(char_field(d, i * 65, 65));
  }
  o.more();
  o.close_obj();
  return true;
}

bool is_struct_format(ArgFormat f) {
  switch (f) {
    case ArgFormat::stat_struct:
    case ArgFormat::statx_struct:
    case ArgFormat::wait_status:
    case ArgFormat::fd_pair:
    case ArgFormat::pollfd_array:
    case ArgFormat::iovec_array:
    case ArgFormat::timespec:
    case ArgFormat::utsname:
    case ArgFormat::sigaction:
    case ArgFormat::epoll_event:
    case ArgFormat::epoll_array:
    case ArgFormat::clone_args:
    case ArgFormat::socklen:
    case ArgFormat::futex_timeout:
    case ArgFormat::dirent64_array:
    case ArgFormat::msghdr:
    case ArgFormat::fd_set_read:
    case ArgFormat::fd_set_write:
    case ArgFormat::fd_set_except:
    case ArgFormat::select_timeval:
    case ArgFormat::select_timespec:
      return true;
    default:
      return false;
  }
}

bool decode_struct(StructOut& o, ArgFormat f, std::span<const uint8_t> d, int64_t ret, bool cut,
                   const IovData* iov) {
  switch (f) {
    case ArgFormat::stat_struct: return decode_stat(o, d);
    case ArgFormat::statx_struct: return decode_statx(o, d);
    case ArgFormat::wait_status: return decode_wait_status(o, d);
    case ArgFormat::fd_pair: return decode_fd_pair(o, d);
    case ArgFormat::pollfd_array: return decode_pollfds(o, d, ret, cut);
    case ArgFormat::iovec_array: return decode_iovecs(o, d, cut, iov);
    case ArgFormat::timespec: return decode_timespec(o, d);
    case ArgFormat::utsname: return decode_utsname(o, d);
    case ArgFormat::sigaction: return decode_sigaction(o, d);
    case ArgFormat::epoll_event: return decode_epoll_event(o, d);
    case ArgFormat::epoll_array: return decode_epoll_events(o, d, cut);
    case ArgFormat::clone_args: return decode_clone_args(o, d);
    case ArgFormat::socklen: return decode_socklen(o, d);
    case ArgFormat::futex_timeout: return decode_timespec(o, d);  // a wait op's (arg_value.cc)
    case ArgFormat::dirent64_array: return decode_dirents64(o, d, cut);
    case ArgFormat::msghdr: return decode_msghdr(o, d, iov);
    case ArgFormat::fd_set_read:
    case ArgFormat::fd_set_write:
    case ArgFormat::fd_set_except:
    case ArgFormat::select_timeval:
    case ArgFormat::select_timespec: return decode_select_arg(o, f, d);
    default: return false;
  }
}

}  // namespace cgscope::trace
