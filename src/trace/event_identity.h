// What the identity parts of an event's line are made from: its task and its
// syscall. The stream writers (JsonWriter, TableWriter) keep the last one's
// text, and a storm's events (one thread, one syscall) mostly share it.
#pragma once

#include <cstdint>
#include <cstring>

#include "trace/format.h"

namespace cgscope::trace {

struct EventIdentity {
  const EventDesc* desc = nullptr;
  uint64_t cgroup_id = 0;
  uint32_t nr = 0, pid = 0, tid = 0, ppid = 0, uid = 0, gid = 0;
  char comm[CGS_COMM_LEN] = {};

  static EventIdentity of(const EventView& ev) {
    const cgs_record* h = ev.rec->hdr;
    EventIdentity id;
    id.desc = ev.desc;
    id.cgroup_id = h->cgroup_id;
    id.nr = h->nr;
    id.pid = h->pid;
    id.tid = h->tid;
    id.ppid = h->ppid;
    id.uid = h->uid;
    id.gid = h->gid;
    std::memcpy(id.comm, h->comm, sizeof(id.comm));
    return id;
  }
  // As bytes: one wide compare, not field by field (there is no padding inside).
  bool same(const EventIdentity& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
};
static_assert(sizeof(EventIdentity) == 56, "no padding: compared as bytes");

// The text of one identity part, kept while events keep the same identity.
class IdentityText {
 public:
  // The kept text for ev, made with render(std::string&) when ev's identity (or
  // `variant`, e.g. the table's layout) is not the last one's.
  template <class Render>
  const std::string& get(const EventView& ev, unsigned variant, Render&& render) {
    EventIdentity id = EventIdentity::of(ev);
    if (!have_ || variant != variant_ || !id.same(id_)) {
      text_.clear();
      render(text_);
      id_ = id;
      variant_ = variant;
      have_ = true;
    }
    return text_;
  }

 private:
  bool have_ = false;
  unsigned variant_ = 0;
  EventIdentity id_;
  std::string text_;
};

}  // namespace cgscope::trace
