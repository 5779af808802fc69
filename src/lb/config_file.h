// Reading the lb config file. It is outside input, so it is read with a size
// bound (`lb apply /dev/zero` is an error, not 2 GB of memory), a directory is
// named as one, and a file caught while another process rewrites it in place is
// refused rather than applied half-written (which would remove every service
// after the cut).
//
// What can be detected, and what cannot:
//  - a writer that has the file open while it is read: a read lease
//    (fcntl F_SETLEASE) is refused while any process has the file open for
//    writing, and while cgscope holds it, a writer's open(2) waits until the
//    read is done. Needs the file's owner or CAP_LEASE and a local filesystem;
//    elsewhere this check is skipped.
//  - a file that changed while it was read (size, mtime, ctime): for files
//    where no lease could be taken.
//  - a file that does not end with a newline: a cut in the middle of a line.
//  - NOT detectable: a file cut at the end of a line by a writer that has
//    finished (closed it). YAML requires no end marker, so a prefix of a valid
//    file can be a valid file with fewer services. Files must be replaced
//    atomically (write a new file, rename(2) it over the old one), as docs/lb.md says.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "lb/config.h"

namespace cgscope::lb {

inline constexpr uint64_t kDefaultMaxConfigBytes = 64ull << 20;  // 131,072 services of 500 bytes each

struct ConfigFileOptions {
  uint64_t max_bytes = kDefaultMaxConfigBytes;
  // How long to wait for a process that has the file open for writing to close it.
  std::chrono::milliseconds writer_wait{3000};
};

// The whole text of the file at `path`, or an error that names it.
Result<std::string> read_config_file(const std::string& path, const ConfigFileOptions& o = {});

// read_config_file, then parse_config.
Result<Config> load_config(const std::string& path, const ConfigFileOptions& o = {});

}  // namespace cgscope::lb
