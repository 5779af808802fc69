// `cgscope trace`: options in, TraceRequest out; the work is in src/trace/session.cc.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/sizes.h"
#include "trace/event_select.h"
#include "trace/session.h"

namespace cgscope::cli {
namespace {

// What --flows cannot be combined with, as a sentence; "" when all is well.
std::string flows_conflict(const trace::TraceRequest& req, const std::string& output) {
  if (!req.flows && (output == "dot" || output == "mermaid"))
    return "-o " + output + " draws the connection graph of --flows; add --flows, or use -o json|table for events";
  if (req.flows && !req.events.empty())
    return "--flows records connections from TCP state changes and UDP counters and shows no events; drop -e, or "
           "run a second "
           "cgscope trace for the events";
  if (req.flows && req.only_failed)
    return "-x keeps failed syscalls, and --flows shows no syscalls; drop one of them";
  if (req.flows && (req.summary != trace::SummaryMode::off || req.syscall_times))
    return "--summary, -C and -T are about syscalls, and --flows shows none; drop one of them";
  return "";
}

}  // namespace

void add_trace_command(CLI::App& app, int& exit_code, const std::vector<std::string>& command) {
  auto* sub = app.add_subcommand("trace", "Trace syscalls, processes and containers, scoped by cgroup");
  sub->footer(
      "Examples:\n"
      "  cgscope trace                               default events, whole machine, table on a terminal\n"
      "  cgscope trace -e openat,execve --container all -o json\n"
      "  cgscope trace -e set:fs -x -- make -j2      one command and its children; exits with its status\n"
      "  cgscope trace --seccomp-profile p.json -- CMD   a profile for `cgscope seccomp run` or docker\n"
      "  cgscope trace --flows --container all       who talks to whom: one line per connection (TCP, UDP)\n"
      "  cgscope trace --flows -o dot -- CMD > g.dot  the container graph (also -o mermaid, -o json)\n"
      "  cgscope trace --list                        events and sets\n"
      "Everything after -- is a command: cgscope runs it in a new cgroup and traces exactly\n"
      "it and its descendants.");
  auto req = std::make_shared<trace::TraceRequest>();
  auto output = std::make_shared<std::string>("auto");
  auto buffer = std::make_shared<std::string>("16M");
  auto list = std::make_shared<bool>(false);
  auto on_stop = std::make_shared<std::string>("detach");

  sub->add_option("-e,--events", req->events,
                  "Events: names, set:NAME, all, !name to exclude (comma-separated, repeatable)")
      ->delimiter(',');
  sub->add_flag("--list", *list, "List the events and sets, then exit");
  sub->add_option("-p,--pid", req->pids, "Trace only these processes (repeatable)")->delimiter(',');
  sub->add_flag("-f,--follow", req->follow, "With -p: also the processes they start");
  sub->add_option("--comm", req->comm, "Only tasks with this command name (15 characters at most)");
  sub->add_option("-u,--uid", req->uid, "Only tasks with this real uid");
  sub->add_option("-c,--cgroup", req->cgroups, "Only tasks in this cgroup (v2 path) and below (repeatable)");
  sub->add_option("--container", req->container, "Only this container (id or 12+ char prefix), 'all' or 'host'");
  sub->add_flag("-x,--failed", req->only_failed, "Only syscalls that returned an error");
  sub->add_option("--capture-buffers", req->capture_bytes,
                  "Capture the first N bytes of read/write/send/recv buffers, and of each iovec of "
                  "readv/writev/sendmsg/recvmsg (max 4096)")
      ->check(CLI::Range(0, 4096));
  sub->add_flag("--envp", req->capture_envp, "Capture execve's environment too");
  sub->add_option("-s,--string-limit", req->string_limit,
                  "Keep N bytes of each argv/envp element and --capture-buffers buffer (default: argv limited "
                  "only by 32 KiB in all); a cut value ends in \"...\". File names are kept whole, as strace does")
      ->check(CLI::Range(1, CGS_STR_KEEP_MAX));
  sub->add_option("--argv-max", req->argv_max, "Keep N argv/envp elements of execve (1-64, default 64)")
      ->check(CLI::Range(1, CGS_ARGV_MAX_ELEMS));
  sub->add_option("-o,--output", *output, "Output: table (default on a terminal) or json; with --flows also dot, mermaid")
      ->check(CLI::IsMember({"auto", "table", "json", "dot", "mermaid"}));
  sub->add_flag("--flows", req->flows,
                "Instead of events, one record per TCP connection and UDP exchange: who (container, process) talks "
                "to whom, bytes, duration");
  sub->add_option("--output-file", req->output_file, "Write events to FILE instead of standard output");
  sub->add_option("--seccomp-profile", req->seccomp_profile,
                  "At the end, write to FILE a seccomp profile (Docker/OCI JSON) allowing exactly the syscalls seen");
  sub->add_option("--duration", req->duration, "Stop after SECONDS")->check(CLI::NonNegativeNumber);
  sub->add_option("--max-events", req->max_events, "Stop after N events");
  CLI::Option* on_stop_opt = sub->add_option("--on-stop", *on_stop,
                  "When --duration, --max-events or a closed output stop the trace of -- CMD: 'detach' (default, as "
                  "strace: CMD goes on untraced, cgscope exits with its status when it ends) or 'kill' (CMD and what "
                  "it started are killed)")
      ->check(CLI::IsMember({"detach", "kill"}));
  sub->add_option("--buffer-size", *buffer, "Ring buffer size, a power of two from 256K to 1G (default 16M)");
  auto summary_only = std::make_shared<bool>(false);
  auto summary_events = std::make_shared<bool>(false);
  sub->add_flag("--summary", *summary_only,
                "At the end, a table of calls, errors and time per syscall (strace -c), and no events");
  sub->add_flag("-C,--summary-and-events", *summary_events, "The events, then the --summary table (strace -C)");
  sub->add_flag("-T,--syscall-times", req->syscall_times, "Each syscall event's time in the kernel (strace -T)");
  sub->add_flag("-v,--verbose", req->verbose, "Show libbpf's messages (verifier log on failure)");
  req->command = command;

  sub->callback([&exit_code, req, output, buffer, list, on_stop, on_stop_opt, summary_only, summary_events]() {
    if (*list) {
      std::fputs(trace::format_event_list().c_str(), stdout);
      exit_code = 0;
      return;
    }
    req->summary = *summary_events ? trace::SummaryMode::with_events
                   : *summary_only ? trace::SummaryMode::only
                                   : trace::SummaryMode::off;
    if (*summary_events && *summary_only) {
      std::fprintf(stderr, "cgscope trace: --summary shows no events and -C shows them: give one of the two\n");
      exit_code = 2;
      return;
    }
    if (req->summary != trace::SummaryMode::off && !req->seccomp_profile.empty()) {
      std::fprintf(stderr, "cgscope trace: --summary/-C and --seccomp-profile do not combine; run them apart\n");
      exit_code = 2;
      return;
    }
    if (auto bad = flows_conflict(*req, *output); !bad.empty()) {
      std::fprintf(stderr, "cgscope trace: %s\n", bad.c_str());
      exit_code = 2;
      return;
    }
    // It says what happens to CMD; without one it would change nothing, silently.
    if (on_stop_opt->count() > 0 && req->command.empty()) {
      std::fprintf(stderr,
                   "cgscope trace: --on-stop is about the command after --, and none was given; drop --on-stop, or "
                   "add -- CMD [ARGS]\n");
      exit_code = 2;
      return;
    }
    req->on_stop = *on_stop == "kill" ? trace::OnStop::kill : trace::OnStop::detach;
    req->flow_output = *output == "json" ? trace::FlowOutput::json
                       : *output == "dot" ? trace::FlowOutput::dot
                       : *output == "mermaid" ? trace::FlowOutput::mermaid
                                              : trace::FlowOutput::text;
    req->output = *output == "json" ? trace::OutputFormat::json
                  : *output == "table" ? trace::OutputFormat::table
                                       : trace::OutputFormat::automatic;
    // The floor holds two of the largest records (an execve with argv and envp).
    auto size = parse_size(*buffer, 256u << 10, 1u << 30);
    if (!size) {
      std::fprintf(stderr, "cgscope trace: --buffer-size: %s\n", size.error().message.c_str());
      exit_code = 2;
      return;
    }
    if (*size & (*size - 1)) {
      std::fprintf(stderr, "cgscope trace: --buffer-size %s is not a power of two (the kernel's ring needs one)\n",
                   buffer->c_str());
      exit_code = 2;
      return;
    }
    req->buffer_bytes = static_cast<uint32_t>(*size);
    if (req->comm && req->comm->size() > 15) {
      std::fprintf(stderr, "cgscope trace: --comm '%s' is longer than the kernel's 15 characters\n",
                   req->comm->c_str());
      exit_code = 2;
      return;
    }
    if (req->follow && req->pids.empty()) {
      std::fprintf(stderr, "cgscope trace: --follow needs -p PID\n");
      exit_code = 2;
      return;
    }
    exit_code = trace::run_trace(*req);
  });
}

}  // namespace cgscope::cli
