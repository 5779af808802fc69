#include "trace/file_kernel.h"

#include <bpf/libbpf.h>

#include "trace.skel.h"

namespace cgscope::trace {

namespace {

// The generation stamps (a close's, an open's) serve only close paths: without
// them, close and open send what they sent before path tracking. A call whose
// only section is a close stamp is sent in place (send_fdclose_record).
void configure_stamps(trace_bpf* skel, bool stamps) {
  auto* ro = skel->rodata;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
    // select/pselect6's section is the call's own (trace_select.bpf.h).
    bool other = nr == CGS_NR_SELECT || nr == CGS_NR_PSELECT6, fdclose = false;
    for (unsigned i = 0; i < CGS_NARGS; i++) {
      uint8_t kb = ro->arg_kinds[nr][i];
      bool stamp = CGS_KIND(kb) == CGS_ARG_FDCLOSE ||
                   (CGS_KIND(kb) == CGS_ARG_NEWFD && CGS_LEN_ARG(kb) == CGS_NEWFD_RET_OPENED);
      if (stamp && !stamps) ro->arg_kinds[nr][i] = kb = CGS_ARG_RAW;
      fdclose |= CGS_KIND(kb) == CGS_ARG_FDCLOSE;
      other |= CGS_KIND(kb) != CGS_ARG_RAW && CGS_KIND(kb) != CGS_ARG_FDCLOSE;
    }
    if (ro->has_sections[nr]) ro->has_sections[nr] = other ? 1 : fdclose ? CGS_SECTIONS_FDCLOSE_ONLY : 0;
  }
}

}  // namespace

Result<void> configure_file_paths(trace_bpf* skel, const std::bitset<CGS_MAX_SYSCALLS>& moves, bool via_sys_enter,
                                  bool modes, bool close_at_entry) {
  configure_stamps(skel, moves.any());
  skel->rodata->fd_need_mode = modes;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++)
    if (moves.test(nr)) skel->rodata->wanted[nr] |= CGS_WANT_PATHGEN;
  auto* p = &skel->progs;
  bool tracepoints = moves.any() && !via_sys_enter;
  for (bpf_program* prog : {p->cgs_move_rename, p->cgs_move_renameat, p->cgs_move_renameat2, p->cgs_move_mount,
                            p->cgs_move_umount, p->cgs_move_move_mount, p->cgs_move_pivot_root, p->cgs_move_chroot})
    bpf_program__set_autoload(prog, tracepoints);
  skel->rodata->close_at_entry = close_at_entry;
  bpf_program__set_autoload(p->cgs_close_enter, close_at_entry && !via_sys_enter);
  if (!close_at_entry)
    if (int err = bpf_map__set_max_entries(skel->maps.close_slots, 1); err)
      return fail_errno("sizing the close slots", -err);
  return {};
}

Result<void> configure_file_sums(trace_bpf* skel, const std::array<uint8_t, CGS_MAX_SYSCALLS>& calls) {
  bool any = false;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
    skel->rodata->fsum_calls[nr] = calls[nr];
    any |= calls[nr] != 0;
  }
  skel->rodata->fsum_on = any;
  if (!any)
    for (bpf_map* m : {skel->maps.fsums, skel->maps.fsum_procs})
      if (int err = bpf_map__set_max_entries(m, 1); err) return fail_errno("sizing the file sums", -err);
  return {};
}

PathGeneration read_path_generation(const trace_bpf* skel) {
  PathGeneration g;
  // Generation first, as the BPF readers do: a move that begins in between shows
  // as moving (bpf/lib/trace_fd.bpf.h, path_move_begin).
  g.gen = __atomic_load_n(&skel->bss->fd_path_gen, __ATOMIC_ACQUIRE);
  g.moving = __atomic_load_n(&skel->bss->fd_path_moving, __ATOMIC_ACQUIRE) != 0;
  return g;
}

}  // namespace cgscope::trace
