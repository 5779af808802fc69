// Which events `cgscope trace` reports: the values of its repeated -e/--events
// options, turned into a bitmap the BPF side can be configured from.
//
//   -e openat,connect        those two syscalls
//   -e set:fs -e '!read'     every event of the fs set except read
//   -e all,'!set:memory'     everything except memory calls
//   -e '!set:net'            the default set without network calls
//
// Items are comma separated; an item is an event name, `set:NAME`, `all`, or one
// of those after `!`, which removes it from what the other items select (in any
// order). With no positive item the selection starts from the default set.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "core/result.h"

namespace cgscope::trace {

struct EventSelection {
  std::bitset<CGS_MAX_SYSCALLS> syscalls;  // indexed by syscall number
  std::bitset<CGS_IA32_MAX_SYSCALLS> ia32;  // ia32 syscalls, by i386 number (ia32_events.h)
  bool fork = false;                       // CGS_EV_PROCESS_FORK
  bool exec = false;                       // CGS_EV_PROCESS_EXEC
  bool exit = false;                       // CGS_EV_PROCESS_EXIT
  bool cgroup_mkdir = false;               // CGS_EV_CGROUP_MKDIR
  bool tcp_state = false;                  // CGS_EV_TCP_STATE
  bool file_write = false;                 // CGS_EV_FILE_WRITE (made in user space)
  bool file_read = false;                  // CGS_EV_FILE_READ
  bool signal_generate = false;            // CGS_EV_SIGNAL_GENERATE
  bool signal_deliver = false;             // CGS_EV_SIGNAL_DELIVER
  bool udp_peer = false;                   // CGS_EV_UDP_PEER
  bool udp_close = false;                  // CGS_EV_UDP_CLOSE
};

// Whether event `nr` (a syscall record number, ia32 ones included, or CGS_EV_*) is in the selection; false
// for numbers that are neither.
bool selected(const EventSelection& sel, uint32_t nr);

// Parses the -e values, each as given on the command line. An unknown name or set
// is an error naming the item, with the closest known names. A selection with no
// event left is an error too.
Result<EventSelection> parse_event_selection(const std::vector<std::string>& items);

// The text of `cgscope trace --list`: each set with its description and events,
// the events in no set, and the -e syntax.
std::string format_event_list();

}  // namespace cgscope::trace
